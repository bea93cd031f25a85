"""Valid test data: checksum-correct ID numbers, mobile numbers, funded customer accounts."""

from __future__ import annotations

from ebank.common.actor import SYSTEM, Actor
from ebank.common.validators import DocumentType, resident_id_check_char, uscc_check_char
from ebank.customers.service import DocumentInput, KycInput, create_company, create_individual
from ebank.ledger.accounts import Product
from ebank.ledger.posting import TransferRequest
from ebank.ledger.service import internal_account_id, open_account
from ebank.runtime import Runtime


def resident_id(n: int) -> str:
    body = f"11010519900307{n % 1000:03d}"
    return body + resident_id_check_char(body)


def uscc(n: int) -> str:
    body = f"91110105MA01{n % 100000:05d}"
    return body + uscc_check_char(body)


def mobile(n: int) -> str:
    return f"134{n % 10**8:08d}"


def individual(rt: Runtime, n: int, actor: Actor = SYSTEM) -> int:
    view = create_individual(
        rt,
        actor,
        name=f"测试客户{n}",
        document=DocumentInput(DocumentType.RESIDENT_ID, resident_id(n)),
        mobile=mobile(n),
        kyc=KycInput(occupation="engineer"),
    )
    return view.id


def company(rt: Runtime, n: int, actor: Actor = SYSTEM) -> int:
    view = create_company(
        rt,
        actor,
        name=f"测试公司{n}",
        document=DocumentInput(DocumentType.USCC, uscc(n)),
        mobile=mobile(50_000 + n),
        legal_representative="李四",
        kyc=KycInput(business_scope="ticketing", registered_capital=10_000_000),
    )
    return view.id


def funded_account(
    rt: Runtime, customer_id: int, amount: int, product: Product = Product.PERSONAL_I
) -> int:
    """Open an account and fund it from the bank's equity (not cash), so the vault stays empty."""
    account = open_account(rt, SYSTEM, customer_id=customer_id, product=product).id
    if amount:
        [result] = rt.posting.submit(
            [
                TransferRequest(
                    f"fund-{account}",
                    internal_account_id(rt, Product.EQUITY),
                    account,
                    amount,
                    rt.policy.currency,
                    code="funding",
                )
            ]
        )
        assert result.ok, result.code
    return account
