"""The demo bank seeded on first start: one staff user per role, one customer of each kind with
accounts and money, and the bank's own funding (vault cash, central-bank settlement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ebank.common.actor import SYSTEM, Actor
from ebank.common.clock import EarlierClock
from ebank.common.validators import DocumentType
from ebank.customers import service as customers
from ebank.ledger import service as ledger
from ebank.ledger.accounts import Product
from ebank.ledger.posting import TransferRequest
from ebank.runtime import Runtime
from ebank.staff import service as staff
from ebank.staff.models import StaffUser
from ebank.staff.permissions import Role

DEMO_STAFF_PASSWORD = "ebank-demo-2026"  # noqa: S105 -- the documented demo login


@dataclass(frozen=True)
class DemoStaff:
    username: str
    display_name: str
    role: Role


DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("teller", "柜员 王芳", Role.TELLER),
    DemoStaff("supervisor", "主管 李强", Role.SUPERVISOR),
    DemoStaff("risk", "风险分析 赵敏", Role.RISK_ANALYST),
    DemoStaff("aml", "反洗钱 孙伟", Role.AML_OFFICER),
    DemoStaff("dispute", "争议处理 周婷", Role.DISPUTE_OFFICER),
    DemoStaff("admin", "管理员 吴刚", Role.ADMIN),
    DemoStaff("auditor", "审计 郑洁", Role.AUDITOR),
)


@dataclass(frozen=True)
class DemoCustomer:
    kind: str
    name: str
    document_type: DocumentType
    document_number: str
    mobile: str


DEMO_INDIVIDUAL = DemoCustomer(
    "individual", "张三", DocumentType.RESIDENT_ID, "110105199003071239", "13400000001"
)
DEMO_COMPANY = DemoCustomer(
    "company", "北京星辰票务有限公司", DocumentType.USCC, "91110105MA01ABCD13", "13400000002"
)

# 张三's e-banking (published: a demo only). SMS codes land in var/sms-outbox.jsonl.
DEMO_ONLINE_LOGIN = "zhangsan"
DEMO_ONLINE_PASSWORD = "online-2026-demo"  # noqa: S105  # the demo's published login
DEMO_TRANSACTION_PASSWORD = "pay-2026-demo"  # noqa: S105
DEMO_CARD_PIN = "739146"
DEMO_HISTORY = timedelta(days=14)  # how long ago the demo customers joined

BANK_CAPITAL_IN_CASH = 50_000_000  # 500,000.00 in the vault
BANK_CAPITAL_AT_CENTRAL_BANK = 10_000_000_000  # 100,000,000.00


@dataclass(frozen=True)
class DemoResult:
    created: bool
    individual_id: int | None = None
    company_id: int | None = None


def is_seeded(rt: Runtime) -> bool:
    with rt.db.read() as session:
        return session.execute(select(StaffUser.id).limit(1)).first() is not None


def seed(rt: Runtime) -> DemoResult:
    """Seed the demo bank once; a second run changes nothing. Its customers became customers
    :data:`DEMO_HISTORY` ago, as a bank's are: not the fresh registrations the risk engine
    watches (scenario S7)."""
    if is_seeded(rt):
        return DemoResult(created=False)
    today = rt.clock
    rt.clock = EarlierClock(today, DEMO_HISTORY)
    try:
        return _seed(rt)
    finally:
        rt.clock = today


def _seed(rt: Runtime) -> DemoResult:
    ledger.ensure_internal_accounts(rt)
    for person in DEMO_STAFF:
        staff.create_staff(
            rt,
            SYSTEM,
            username=person.username,
            display_name=person.display_name,
            role=person.role,
            password=DEMO_STAFF_PASSWORD,
        )
    teller = Actor("system", "demo-seed", Role.TELLER.value)
    _fund_the_bank(rt)
    individual = customers.create_individual(
        rt,
        teller,
        name=DEMO_INDIVIDUAL.name,
        document=customers.DocumentInput(
            DEMO_INDIVIDUAL.document_type, DEMO_INDIVIDUAL.document_number
        ),
        mobile=DEMO_INDIVIDUAL.mobile,
        kyc=customers.KycInput(occupation="软件工程师", expected_monthly_turnover=3_000_000),
    )
    company = customers.create_company(
        rt,
        teller,
        name=DEMO_COMPANY.name,
        document=customers.DocumentInput(DEMO_COMPANY.document_type, DEMO_COMPANY.document_number),
        mobile=DEMO_COMPANY.mobile,
        legal_representative="李四",
        kyc=customers.KycInput(
            business_scope="票务代理；印刷；场地租赁",
            registered_capital=10_000_000,
            expected_monthly_turnover=50_000_000,
        ),
    )
    savings = ledger.open_account(rt, teller, customer_id=individual.id, product=Product.PERSONAL_I)
    ledger.open_account(rt, teller, customer_id=individual.id, product=Product.PERSONAL_II)
    basic = ledger.open_account(rt, teller, customer_id=company.id, product=Product.CORPORATE_BASIC)
    currency = rt.policy.currency
    ledger.counter_cash(
        rt,
        teller,
        direction=ledger.CashDirection.DEPOSIT,
        transfer_id="demo-cash-1",
        account_id=savings.id,
        amount=5_000_000,
        currency=currency,
        purpose="开户存款",
    )
    ledger.counter_cash(
        rt,
        teller,
        direction=ledger.CashDirection.DEPOSIT,
        transfer_id="demo-cash-2",
        account_id=basic.id,
        amount=100_000_000,
        currency=currency,
        purpose="注册资本金存入",
    )
    _open_online_banking(rt, teller, individual.id, savings.id)
    _laundering_scene(rt, teller)
    return DemoResult(created=True, individual_id=individual.id, company_id=company.id)


SHELL_COMPANY = "华信票务印刷有限公司"


def _laundering_scene(rt: Runtime, teller: Actor) -> None:
    """Scenario S1 for the AML officer: a shell company (ticketing, printing; capital 100,000)
    receives "advertising fees" and pays them straight on as "salary" to three people; the
    seeding day is scanned, so its case and large-value reports are waiting."""
    from ebank.aml.scan import run_scan
    from ebank.common.validators import resident_id_check_char, uscc_check_char

    def company(name: str, n: int, scope: str, capital: int) -> int:
        body = f"91440300MA5G{n:05d}"
        return customers.create_company(
            rt,
            teller,
            name=name,
            document=customers.DocumentInput(DocumentType.USCC, body + uscc_check_char(body)),
            mobile=f"1360755{n:04d}",
            legal_representative="周某",
            kyc=customers.KycInput(business_scope=scope, registered_capital=capital),
        ).id

    shell = company(SHELL_COMPANY, 8801, "票务代理、印刷、场地租赁", 10_000_000)
    advertiser = company("华信广告传媒有限公司", 8802, "广告设计、制作、代理、发布", 5_000_000_000)
    shell_account = ledger.open_account(
        rt, teller, customer_id=shell, product=Product.CORPORATE_BASIC
    )
    source = ledger.open_account(
        rt, teller, customer_id=advertiser, product=Product.CORPORATE_BASIC
    ).id
    people = []
    for n, name in enumerate(("陈某某", "林某某", "黄某某")):
        body = f"44030519850612{n + 61:03d}"
        person = customers.create_individual(
            rt,
            teller,
            name=name,
            document=customers.DocumentInput(
                DocumentType.RESIDENT_ID, body + resident_id_check_char(body)
            ),
            mobile=f"1371755{8810 + n:04d}",
            kyc=customers.KycInput(occupation="自由职业"),
        ).id
        people.append(
            ledger.open_account(rt, teller, customer_id=person, product=Product.PERSONAL_I).id
        )
    currency = rt.policy.currency
    equity = ledger.internal_account_id(rt, Product.EQUITY)
    payments = [
        TransferRequest("demo-s1-funding", equity, source, 500_000_000, currency, code="funding"),
        TransferRequest(
            "demo-s1-in",
            source,
            shell_account.id,
            360_000_000,
            currency,
            purpose="广告费",
            channel="online",
        ),
        *(
            TransferRequest(
                f"demo-s1-out-{n}",
                shell_account.id,
                person,
                120_000_000,
                currency,
                purpose="工资及养老金",
                channel="online",
            )
            for n, person in enumerate(people)
        ),
    ]
    ledger.create_transfers(rt, SYSTEM, payments)
    day = rt.local_today()
    run_scan(rt, SYSTEM, first_day=day, last_day=day)


def _open_online_banking(rt: Runtime, teller: Actor, customer_id: int, card_id: int) -> None:
    """张三's card gets a PIN and online and mobile banking, as a teller would set them up."""
    from ebank.auth.service import prepare_credentials
    from ebank.channels.service import register_at_counter, set_card_pin

    set_card_pin(rt, teller, card_id, DEMO_CARD_PIN)
    credentials = prepare_credentials(
        rt,
        login_name=DEMO_ONLINE_LOGIN,
        login_password=DEMO_ONLINE_PASSWORD,
        transaction_password=DEMO_TRANSACTION_PASSWORD,
    )
    for channel in ("online", "mobile"):
        register_at_counter(
            rt,
            teller,
            customer_id,
            channel=channel,
            account_ids=[card_id],
            credentials=credentials if channel == "online" else None,
        )


def _fund_the_bank(rt: Runtime) -> None:
    currency = rt.policy.currency
    equity = ledger.internal_account_id(rt, Product.EQUITY)
    ledger.create_transfers(
        rt,
        SYSTEM,
        [
            TransferRequest(
                id="demo-capital-cash",
                debit_account_id=ledger.internal_account_id(rt, Product.CASH),
                credit_account_id=equity,
                amount=BANK_CAPITAL_IN_CASH,
                currency=currency,
                code="capital",
                purpose="vault cash",
            ),
            TransferRequest(
                id="demo-capital-settlement",
                debit_account_id=ledger.internal_account_id(rt, Product.SETTLEMENT),
                credit_account_id=equity,
                amount=BANK_CAPITAL_AT_CENTRAL_BANK,
                currency=currency,
                code="capital",
                purpose="reserve at the central bank",
            ),
        ],
    )
