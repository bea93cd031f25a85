"""Ledger use cases: opening and maintaining accounts, posting transfers, counter cash,
reversals, holds and statements. Transfers go through the process's posting engine."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, DomainError, NotFound, Unprocessable
from ebank.common.i18n import N_
from ebank.common.masking import mask_card_number
from ebank.common.money import normalize_currency
from ebank.common.validation import require_text, validated
from ebank.customers.models import Customer, CustomerDocument
from ebank.db import table_of
from ebank.ledger.accounts import (
    CUSTOMER_PRODUCTS,
    INTERNAL_NAMES,
    INTERNAL_PRODUCTS,
    PRODUCTS,
    Product,
    internal_code,
    new_account_number,
)
from ebank.ledger.models import Account, PendingTransfer, Transfer
from ebank.ledger.posting import (
    CODE_FIELD,
    MAX_AMOUNT,
    Code,
    TransferKind,
    TransferRequest,
    TransferResult,
)
from ebank.runtime import Runtime

if TYPE_CHECKING:
    from ebank.ledger.engine import AfterPost

ACCOUNT_NUMBER_PURPOSE = "account.number"
# Transfers that belong to inter-bank clearing: their corrections come from the other bank.
CLEARED_CODES = frozenset({"interbank_out", "interbank_settle", "interbank_return"})
# Ids the bank derives for its own postings (clearing outcomes…); clients may not use them.
SYSTEM_ID_PREFIX = "sys:"
STATEMENT_YEARS = (1900, 2999)

TRANSFER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
CHANNELS = frozenset({"counter", "online", "mobile", "phone", "tv", "atm", "system", "api"})


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class AccountView:
    id: int
    kind: str
    product: str
    code: str | None
    name: str
    number_masked: str
    customer_id: int | None
    parent_account_id: int | None
    opened_with_document_id: int | None
    currency: str
    normal_side: str
    status: str
    status_reason: str | None
    balance: int
    available: int
    debits_pending: int
    credits_pending: int
    debits_posted: int
    credits_posted: int
    opened_at: datetime
    closed_at: datetime | None


def balance_of(normal_side: str, debits_posted: int, credits_posted: int) -> int:
    """The posted balance on the account's normal side."""
    net = credits_posted - debits_posted
    return net if normal_side == "credit" else -net


def available_of(
    normal_side: str,
    debits_posted: int,
    credits_posted: int,
    debits_pending: int,
    credits_pending: int,
) -> int:
    """What can be spent: the balance less what holds have reserved."""
    balance = balance_of(normal_side, debits_posted, credits_posted)
    return balance - (debits_pending if normal_side == "credit" else credits_pending)


def account_view(account: Account) -> AccountView:
    balance = balance_of(account.normal_side, account.debits_posted, account.credits_posted)
    available = available_of(
        account.normal_side,
        account.debits_posted,
        account.credits_posted,
        account.debits_pending,
        account.credits_pending,
    )
    return AccountView(
        id=account.id,
        kind=account.kind,
        product=account.product,
        code=account.code,
        name=account.name,
        number_masked=account.number_masked,
        customer_id=account.customer_id,
        parent_account_id=account.parent_account_id,
        opened_with_document_id=account.opened_with_document_id,
        currency=account.currency,
        normal_side=account.normal_side,
        status=account.status,
        status_reason=account.status_reason,
        balance=balance,
        available=available,
        debits_pending=account.debits_pending,
        credits_pending=account.credits_pending,
        debits_posted=account.debits_posted,
        credits_posted=account.credits_posted,
        opened_at=account.opened_at,
        closed_at=account.closed_at,
    )


def _account_audit(account: Account) -> dict[str, Any]:
    return {
        "product": account.product,
        "number": account.number_masked,
        "customer_id": account.customer_id,
        "currency": account.currency,
        "status": account.status,
        "status_reason": account.status_reason,
    }


# ---------------------------------------------------------------- accounts


def ensure_internal_accounts(rt: Runtime, currency: str | None = None) -> dict[Product, int]:
    """Create the bank's own accounts for ``currency`` (default: the policy's) if missing."""
    currency = normalize_currency(currency or rt.policy.currency)
    now = rt.clock.now()
    ids: dict[Product, int] = {}
    with rt.db.write() as session:
        existing = {
            a.product: a
            for a in session.execute(
                select(Account).where(Account.kind == "internal", Account.currency == currency)
            ).scalars()
        }
        created = []
        for product in sorted(INTERNAL_PRODUCTS):
            account = existing.get(product)
            if account is None:
                account = _new_account(
                    product=product,
                    currency=currency,
                    name=f"{INTERNAL_NAMES[product]} ({currency})",
                    code=internal_code(product, currency),
                    now=now,
                )
                session.add(account)
                created.append(account)
            ids[product] = account.id if account.id else 0
        session.flush()
        for account in created:
            ids[Product(account.product)] = account.id
        if created:
            audit.append(
                session.connection(),
                [
                    AuditEntry(
                        _system(), "account.open", "account", str(a.id), None, _account_audit(a)
                    )
                    for a in created
                ],
                now,
            )
    return ids


def _system() -> Actor:
    from ebank.common.actor import SYSTEM

    return SYSTEM


def _new_account(
    *,
    product: Product,
    currency: str,
    name: str,
    now: datetime,
    code: str | None = None,
    number: tuple[bytes, str, str] | None = None,
    customer_id: int | None = None,
    parent_account_id: int | None = None,
    document_id: int | None = None,
) -> Account:
    rules = PRODUCTS[product]
    number_enc, number_hash, number_masked = number or (None, None, code or "")
    return Account(
        kind=rules.kind,
        product=product.value,
        code=code,
        name=name,
        number_enc=number_enc,
        number_hash=number_hash,
        number_masked=number_masked,
        customer_id=customer_id,
        parent_account_id=parent_account_id,
        opened_with_document_id=document_id,
        currency=currency,
        normal_side=rules.normal_side,
        debits_must_not_exceed_credits=rules.no_overdraft,
        credits_must_not_exceed_debits=rules.no_negative_asset,
        status="active",
        debits_pending=0,
        debits_posted=0,
        credits_pending=0,
        credits_posted=0,
        outbound_day_amount=0,
        outbound_year_amount=0,
        opened_at=now,
    )


def internal_account_id(rt: Runtime, product: Product, currency: str | None = None) -> int:
    code = internal_code(product, normalize_currency(currency or rt.policy.currency))
    with rt.db.read() as session:
        account_id = session.execute(select(Account.id).where(Account.code == code)).scalar()
    if account_id is None:
        raise NotFound(
            "internal_account_missing",
            "The bank's internal account {account_code} does not exist; run 'ebank db upgrade'.",
            account_code=code,
        )
    return int(account_id)


def open_account(
    rt: Runtime,
    actor: Actor,
    *,
    customer_id: int,
    product: Product,
    currency: str | None = None,
    parent_account_id: int | None = None,
    document_id: int | None = None,
) -> AccountView:
    """Open a customer account (or an investment sub-account linked to one)."""
    if product not in CUSTOMER_PRODUCTS:
        raise Unprocessable(
            "invalid_product", "Customers cannot hold this kind of account.", field="product"
        )
    rules = PRODUCTS[product]
    currency = validated("currency", normalize_currency, currency or rt.policy.currency)
    now = rt.clock.now()
    with rt.db.write() as session:
        customer = session.get(Customer, customer_id, with_for_update={"key_share": True})
        if customer is None:
            raise NotFound("customer_not_found", "No such customer.", field="customer_id")
        if customer.status != "active":
            raise Conflict("customer_closed", "This customer is closed.", field="customer_id")
        if rules.holder and rules.holder != customer.kind:
            raise Unprocessable(
                "product_not_for_customer",
                "This kind of account is not available to this kind of customer.",
                field="product",
            )
        _check_parent(session, rules.sub_account, parent_account_id, customer.id, currency)
        if product is Product.CORPORATE_BASIC:
            _refuse_second_basic_account(session, customer.id)
        document = _opening_document(session, customer, document_id)
        account = _insert_customer_account(
            session,
            rt,
            product=product,
            currency=currency,
            holder=customer,
            parent_account_id=parent_account_id,
            document_id=document,
            now=now,
        )
        audit.record(
            session,
            AuditEntry(
                actor, "account.open", "account", str(account.id), None, _account_audit(account)
            ),
            now,
        )
        return account_view(account)


def _check_parent(
    session: Session, sub_account: bool, parent_id: int | None, customer_id: int, currency: str
) -> None:
    if not sub_account:
        if parent_id is not None:
            raise Unprocessable(
                "parent_not_allowed",
                "Only investment sub-accounts are linked to a parent account.",
                field="parent_account_id",
            )
        return
    parent = session.get(Account, parent_id) if parent_id is not None else None
    if parent is None or parent.customer_id != customer_id or parent.parent_account_id is not None:
        raise Unprocessable(
            "invalid_parent_account",
            "A sub-account must be linked to one of the same customer's own accounts.",
            field="parent_account_id",
        )
    if parent.status != "active" or parent.currency != currency:
        raise Unprocessable(
            "invalid_parent_account",
            "The parent account must be active and in the same currency.",
            field="parent_account_id",
        )


def _refuse_second_basic_account(session: Session, customer_id: int) -> None:
    existing = session.execute(
        select(Account.id).where(
            Account.customer_id == customer_id,
            Account.product == Product.CORPORATE_BASIC.value,
            Account.status != "closed",
        )
    ).first()
    if existing:
        raise Conflict(
            "basic_account_exists",
            "A company may hold only one basic account.",
            field="product",
        )


def _opening_document(session: Session, customer: Customer, document_id: int | None) -> int | None:
    chosen = document_id or customer.created_with_document_id
    if chosen is None:
        return None
    document = session.get(CustomerDocument, chosen)
    if document is None or document.customer_id != customer.id or document.status != "active":
        raise Unprocessable(
            "invalid_document",
            "The account must be opened with one of the customer's active identity documents.",
            field="document_id",
        )
    return document.id


def _insert_customer_account(
    session: Session,
    rt: Runtime,
    *,
    product: Product,
    currency: str,
    holder: Customer,
    parent_account_id: int | None,
    document_id: int | None,
    now: datetime,
) -> Account:
    rules = PRODUCTS[product]
    ledger_policy = rt.policy.ledger
    for _ in range(10):
        if rules.card:
            number = new_account_number(ledger_policy.card_bin, ledger_policy.card_number_length)
        else:
            number = new_account_number(ledger_policy.corporate_account_prefix, 17)
        number_hash = rt.cipher.lookup_hash(number, purpose=ACCOUNT_NUMBER_PURPOSE)
        taken = session.execute(
            select(Account.id).where(Account.number_hash == number_hash)
        ).first()
        if taken:
            continue
        account = _new_account(
            product=product,
            currency=currency,
            name=holder.name_masked,
            now=now,
            number=(
                rt.cipher.encrypt(number, purpose=ACCOUNT_NUMBER_PURPOSE),
                number_hash,
                mask_card_number(number),
            ),
            customer_id=holder.id,
            parent_account_id=parent_account_id,
            document_id=document_id,
        )
        session.add(account)
        session.flush()
        return account
    raise Conflict("number_space_exhausted", "Could not allocate an account number; try again.")


def get_account(rt: Runtime, account_id: int) -> AccountView:
    with rt.db.read() as session:
        return account_view(_account(session, account_id))


def _account(session: Session, account_id: int, *, lock: bool = False) -> Account:
    account = session.get(
        Account, account_id, with_for_update={"key_share": True} if lock else None
    )
    if account is None:
        raise NotFound("account_not_found", "No such account.", field="account_id")
    return account


def customer_accounts(rt: Runtime, customer_id: int) -> list[AccountView]:
    with rt.db.read() as session:
        accounts = session.execute(
            select(Account).where(Account.customer_id == customer_id).order_by(Account.id)
        ).scalars()
        return [account_view(a) for a in accounts]


def internal_accounts(rt: Runtime) -> list[AccountView]:
    with rt.db.read() as session:
        accounts = session.execute(
            select(Account).where(Account.kind == "internal").order_by(Account.code)
        ).scalars()
        return [account_view(a) for a in accounts]


def find_account_by_number(rt: Runtime, number: str) -> AccountView:
    digits = re.sub(r"[\s-]", "", number or "")
    number_hash = rt.cipher.lookup_hash(digits, purpose=ACCOUNT_NUMBER_PURPOSE)
    with rt.db.read() as session:
        account = session.execute(
            select(Account).where(Account.number_hash == number_hash)
        ).scalar_one_or_none()
        if account is None:
            raise NotFound("account_not_found", "No such account.", field="number")
        return account_view(account)


def reveal_account_number(rt: Runtime, account_id: int) -> str:
    """The full number, for the holder's own documents (receipts); never for lists or logs."""
    with rt.db.read() as session:
        account = _account(session, account_id)
        if account.number_enc is None:
            return account.number_masked
        return rt.cipher.decrypt(account.number_enc, purpose=ACCOUNT_NUMBER_PURPOSE)


def set_account_status(
    rt: Runtime, actor: Actor, account_id: int, *, status: str, reason: str
) -> AccountView:
    """Freeze (debits refused), unfreeze, or close (needs a zero balance and no holds)."""
    if status not in ("active", "frozen", "closed"):
        raise Unprocessable(
            "invalid_status", "The status is active, frozen or closed.", field="status"
        )
    reason = require_text("reason", reason, max_length=200)
    now = rt.clock.now()
    with rt.db.write() as session:
        account = _account(session, account_id, lock=True)
        if account.kind != "customer":
            raise Unprocessable(
                "internal_account",
                "The bank's internal accounts cannot be frozen or closed.",
                field="account_id",
            )
        if account.status == "closed":
            raise Conflict("account_closed", "This account is closed.", field="account_id")
        if status == "closed":
            _check_closable(session, account)
        before = _account_audit(account)
        account.status = status
        account.status_reason = reason
        if status == "closed":
            account.closed_at = now
        action = {
            "active": "account.unfreeze",
            "frozen": "account.freeze",
            "closed": "account.close",
        }
        audit.record(
            session,
            AuditEntry(
                actor,
                action[status],
                "account",
                str(account.id),
                before,
                _account_audit(account),
            ),
            now,
        )
        return account_view(account)


def _check_closable(session: Session, account: Account) -> None:
    if (
        account.credits_posted != account.debits_posted
        or account.debits_pending
        or account.credits_pending
    ):
        raise Conflict(
            "account_not_empty",
            "Only an account with a zero balance and no holds can be closed.",
            field="account_id",
        )
    open_children = session.execute(
        select(Account.id).where(
            Account.parent_account_id == account.id, Account.status != "closed"
        )
    ).first()
    if open_children:
        raise Conflict(
            "account_has_sub_accounts",
            "Close the account's sub-accounts first.",
            field="account_id",
        )


# ---------------------------------------------------------------- transfers


class TransferRefused(DomainError):
    """A transfer the ledger did not post; ``code`` is the ledger's result code."""

    status = 422


TRANSFER_MESSAGES: dict[Code, tuple[int, str]] = {
    Code.ID_ALREADY_USED: (409, "This transfer id was already used for a different request."),
    Code.LINKED_EVENT_FAILED: (422, "A transfer linked to this one failed, so none was posted."),
    Code.LINKED_EVENT_CHAIN_OPEN: (422, "The last transfer of a linked chain must not be linked."),
    Code.ACCOUNTS_MUST_BE_DIFFERENT: (422, "The debit and credit accounts must differ."),
    Code.ACCOUNT_REQUIRED: (422, "Both accounts are required."),
    Code.ACCOUNT_NOT_FOUND: (404, "No such account."),
    Code.AMOUNT_NOT_POSITIVE: (422, "The amount must be greater than zero."),
    Code.AMOUNT_TOO_LARGE: (422, "The amount is too large."),
    Code.CURRENCY_MISMATCH: (422, "The currency does not match the accounts' currency."),
    Code.ACCOUNT_FROZEN: (409, "The account is frozen: it cannot be debited."),
    Code.ACCOUNT_CLOSED: (409, "The account is closed."),
    Code.INSUFFICIENT_FUNDS: (409, "The available balance is not enough for this amount."),
    Code.EXCEEDS_DEBITS: (409, "The bank's account cannot pay out more than it holds."),
    Code.DAILY_LIMIT_EXCEEDED: (409, "This exceeds the account's daily outbound limit."),
    Code.YEARLY_LIMIT_EXCEEDED: (409, "This exceeds the account's yearly outbound limit."),
    Code.BALANCE_CAP_EXCEEDED: (409, "This would take the account above its maximum balance."),
    Code.TIMEOUT_RESERVED_FOR_PENDING: (422, "Only a pending transfer can have a timeout."),
    Code.PENDING_ID_REQUIRED: (422, "Name the pending transfer to post or void."),
    Code.PENDING_ID_NOT_ALLOWED: (422, "Only a post or a void names a pending transfer."),
    Code.PENDING_TRANSFER_NOT_FOUND: (404, "No such pending transfer."),
    Code.PENDING_TRANSFER_ALREADY_POSTED: (409, "The pending transfer was already posted."),
    Code.PENDING_TRANSFER_ALREADY_VOIDED: (409, "The pending transfer was already voided."),
    Code.PENDING_TRANSFER_EXPIRED: (409, "The pending transfer has expired."),
    Code.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS: (
        422,
        "The accounts or currency differ from the pending transfer's.",
    ),
    Code.EXCEEDS_PENDING_AMOUNT: (422, "The amount exceeds the pending amount."),
    Code.VOID_AMOUNT_MUST_MATCH: (422, "A void releases the whole pending amount."),
    Code.REVERSAL_TARGET_NOT_FOUND: (404, "No such transfer to reverse."),
    Code.REVERSAL_NOT_ALLOWED: (
        422,
        "Only a posted transfer can be reversed; void a pending one instead.",
    ),
    Code.REVERSAL_ACCOUNTS_MISMATCH: (
        422,
        "A reversal moves money back between the same accounts.",
    ),
    Code.REVERSAL_EXCEEDS_ORIGINAL: (409, "This exceeds what remains of the original transfer."),
}


def refusal(result: TransferResult) -> TransferRefused:
    status, message = TRANSFER_MESSAGES.get(result.code, (422, N_("The transfer was refused.")))
    return TransferRefused(
        result.code.value, message, field=CODE_FIELD.get(result.code), status=status
    )


def check_request(request: TransferRequest) -> None:
    """Shape checks that need no data: they fail before anything is recorded."""
    if not TRANSFER_ID.match(request.id) or request.id.startswith(SYSTEM_ID_PREFIX):
        raise Unprocessable(
            "invalid_transfer_id",
            "A transfer id is 1-64 letters, digits, '.', '_', ':' or '-', not starting with "
            "'sys:' (a UUID works well).",
            field="id",
        )
    if request.amount is not None and (
        isinstance(request.amount, bool) or not isinstance(request.amount, int)
    ):
        raise Unprocessable("invalid_amount", "Amounts are whole minor units.", field="amount")
    if request.amount is not None and request.amount <= 0:
        raise Unprocessable(
            "amount_not_positive", "The amount must be greater than zero.", field="amount"
        )
    if request.amount is not None and request.amount > MAX_AMOUNT:
        raise Unprocessable("amount_too_large", "The amount is too large.", field="amount")
    if request.channel not in CHANNELS:
        raise Unprocessable("invalid_channel", "Unknown channel.", field="channel")
    if request.timeout_s is not None and not 0 < request.timeout_s <= 366 * 86400:
        raise Unprocessable(
            "invalid_timeout", "A timeout is 1 second to 366 days.", field="timeout_s"
        )


def create_transfers(
    rt: Runtime,
    actor: Actor,
    requests: Sequence[TransferRequest],
    *,
    after_post: AfterPost | None = None,
) -> list[TransferResult]:
    """Post a batch through the group-commit engine; each request gets its own result.
    ``after_post`` writes what must commit with the postings (see :data:`AfterPost`)."""
    for request in requests:
        check_request(request)
    stamped = [_stamp(request, actor) for request in requests]
    return rt.posting.submit(stamped, actor=actor, after_post=after_post)


def _stamp(request: TransferRequest, actor: Actor) -> TransferRequest:
    from dataclasses import replace

    return replace(request, created_by=actor.ref)


def post_one(
    rt: Runtime, actor: Actor, request: TransferRequest, *, after_post: AfterPost | None = None
) -> TransferResult:
    """Post one transfer; a refusal raises :class:`TransferRefused` (after ``after_post`` has
    recorded it)."""
    result = create_transfers(rt, actor, [request], after_post=after_post)[0]
    if not result.ok:
        raise refusal(result)
    return result


class CashDirection(StrEnum):
    DEPOSIT = "deposit"  # handed in: the vault grows, the customer's account is credited
    WITHDRAWAL = "withdrawal"  # paid out: the customer's account is debited, the vault shrinks


def counter_cash(
    rt: Runtime,
    actor: Actor,
    *,
    direction: CashDirection,
    transfer_id: str,
    account_id: int,
    amount: int,
    currency: str,
    purpose: str | None = None,
) -> TransferResult:
    """Cash across the counter, in the account's own currency, through the branch vault."""
    vault = _vault_for(rt, account_id, currency)
    deposit = direction is CashDirection.DEPOSIT
    return post_one(
        rt,
        actor,
        TransferRequest(
            id=transfer_id,
            debit_account_id=vault if deposit else account_id,
            credit_account_id=account_id if deposit else vault,
            amount=amount,
            currency=parse_currency(currency),
            code=f"cash_{direction.value}",
            purpose=clean_purpose(purpose),
            channel="counter",
        ),
    )


def _vault_for(rt: Runtime, account_id: int, currency: str) -> int:
    """The vault for a cash operation on ``account_id``, which must be in ``currency``."""
    currency = parse_currency(currency)
    with rt.db.read() as session:
        account = _account(session, account_id)
        if account.currency != currency:
            raise Unprocessable(
                "currency_mismatch",
                "The currency does not match the accounts' currency.",
                field="currency",
            )
    return internal_account_id(rt, Product.CASH, currency)


def parse_currency(currency: str) -> str:
    return validated("currency", normalize_currency, currency)


def clean_purpose(purpose: str | None) -> str | None:
    return require_text("purpose", purpose, max_length=140, required=False) or None


def reverse_transfer(
    rt: Runtime,
    actor: Actor,
    *,
    transfer_id: str,
    original_id: str,
    amount: int | None = None,
    purpose: str | None = None,
) -> TransferResult:
    """A correction: a new transfer moving (part of) the original's amount back."""
    with rt.db.read() as session:
        original = session.execute(
            select(Transfer).where(Transfer.id == original_id)
        ).scalar_one_or_none()
    if original is None:
        raise NotFound(
            "reversal_target_not_found", "No such transfer to reverse.", field="reverses_id"
        )
    if original.code in CLEARED_CODES:
        raise Conflict(
            "reversal_through_clearing",
            "A payment to another bank comes back only through clearing (a return or a recall).",
            field="reverses_id",
        )
    return post_one(
        rt,
        actor,
        TransferRequest(
            id=transfer_id,
            debit_account_id=original.credit_account_id,
            credit_account_id=original.debit_account_id,
            amount=amount,
            currency=original.currency,
            reverses_id=original.id,
            code="reversal",
            purpose=clean_purpose(purpose),
            channel="counter" if actor.kind == "staff" else "system",
        ),
    )


def get_transfer(rt: Runtime, transfer_id: str) -> dict[str, Any]:
    with rt.db.read() as session:
        row = (
            session.execute(select(table_of(Transfer)).where(Transfer.id == transfer_id))
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise NotFound("transfer_not_found", "No such transfer.", field="transfer_id")
        result = dict(row)
        if row["kind"] == TransferKind.PENDING.value:
            pending = session.get(PendingTransfer, transfer_id)
            result["pending_state"] = pending.state if pending else None
        return result


def expire_due_holds(rt: Runtime, limit: int = 500) -> int:
    """Release holds past their expiry (run periodically by the app's worker)."""
    from ebank.ledger.writer import expire_holds

    now = rt.clock.now()
    with rt.db.read() as session:
        due = set(
            session.execute(
                select(PendingTransfer.transfer_id)
                .where(PendingTransfer.state == "pending", PendingTransfer.expires_at <= now)
                .limit(limit)
            ).scalars()
        )
    if not due:
        return 0
    with rt.db.write_connection() as conn:
        return expire_holds(conn, due, now=now, policy=rt.policy)


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class StatementEntry:
    seq: int
    transfer_id: str
    at: datetime
    code: str
    purpose: str | None
    channel: str
    direction: str  # debit | credit
    amount: int
    balance_after: int
    counterparty_account_id: int
    counterparty_name: str
    counterparty_number: str
    counterparty_kind: str
    counterparty_product: str
    reverses_id: str | None


@dataclass(frozen=True)
class HoldView:
    transfer_id: str
    at: datetime
    amount: int
    direction: str
    state: str
    expires_at: datetime | None
    code: str
    purpose: str | None


@dataclass(frozen=True)
class Statement:
    account: AccountView
    date_from: date
    date_to: date
    opening_balance: int
    closing_balance: int
    total_debits: int
    total_credits: int
    entries: list[StatementEntry]
    holds: list[HoldView]
    next_cursor: int | None


def statement(
    rt: Runtime,
    account_id: int,
    *,
    date_from: date,
    date_to: date,
    after_seq: int | None = None,
    limit: int = 200,
) -> Statement:
    """Posted entries between two local dates (inclusive) with the running balance after each."""
    if date_to < date_from:
        raise Unprocessable(
            "invalid_date_range", "The end date is before the start date.", field="to"
        )
    if date_from.year < STATEMENT_YEARS[0] or date_to.year > STATEMENT_YEARS[1]:
        raise Unprocessable(
            "invalid_date_range",
            "Statements cover the years {first} to {last}.",
            field="from" if date_from.year < STATEMENT_YEARS[0] else "to",
            first=STATEMENT_YEARS[0],
            last=STATEMENT_YEARS[1],
        )

    zone = rt.policy.zone
    start = datetime.combine(date_from, time.min, zone)
    end = datetime.combine(date_to + timedelta(days=1), time.min, zone)
    with rt.db.read() as session:
        account = _account(session, account_id)
        view = account_view(account)
        conn = session.connection()
        opening = _balance_before(conn, account_id, start, view)
        rows = _entries(
            conn, account_id, start=start, end=end, after_seq=after_seq, limit=limit + 1
        )
        entries = [_entry(row, account_id) for row in rows[:limit]]
        closing = _balance_before(conn, account_id, end, view)
        totals = _totals(conn, account_id, start, end)
        holds = _holds(conn, account_id, start, end)
    return Statement(
        account=view,
        date_from=date_from,
        date_to=date_to,
        opening_balance=opening,
        closing_balance=closing,
        total_debits=totals[0],
        total_credits=totals[1],
        entries=entries,
        holds=holds,
        next_cursor=entries[-1].seq if len(rows) > limit else None,
    )


_POSTED_KINDS = (TransferKind.SINGLE.value, TransferKind.POST.value)


def _touches(account_id: int) -> Any:
    return or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)


def _balance_before(conn: Connection, account_id: int, instant: datetime, view: AccountView) -> int:
    row = conn.execute(
        select(
            Transfer.debit_account_id, Transfer.debit_balance_after, Transfer.credit_balance_after
        )
        .where(
            _touches(account_id), Transfer.kind.in_(_POSTED_KINDS), Transfer.created_at < instant
        )
        .order_by(Transfer.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return 0
    return int(row[1] if row[0] == account_id else row[2])


def _entries(
    conn: Connection,
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    after_seq: int | None,
    limit: int,
) -> list[Any]:
    other = table_of(Account).alias("other")
    transfers = table_of(Transfer)
    counterpart = transfers.c.credit_account_id + transfers.c.debit_account_id - account_id
    query = (
        select(
            transfers,
            other.c.name.label("other_name"),
            other.c.number_masked.label("other_number"),
            other.c.kind.label("other_kind"),
            other.c.product.label("other_product"),
        )
        .join(other, other.c.id == counterpart)
        .where(
            or_(
                transfers.c.debit_account_id == account_id,
                transfers.c.credit_account_id == account_id,
            ),
            transfers.c.kind.in_(_POSTED_KINDS),
            transfers.c.created_at >= start,
            transfers.c.created_at < end,
        )
        .order_by(transfers.c.seq)
        .limit(limit)
    )
    if after_seq is not None:
        query = query.where(transfers.c.seq > after_seq)
    return list(conn.execute(query).mappings())


def _entry(row: Any, account_id: int) -> StatementEntry:
    debit = row["debit_account_id"] == account_id
    return StatementEntry(
        seq=row["seq"],
        transfer_id=row["id"],
        at=row["created_at"],
        code=row["code"],
        purpose=row["purpose"],
        channel=row["channel"],
        direction="debit" if debit else "credit",
        amount=row["amount"],
        balance_after=row["debit_balance_after"] if debit else row["credit_balance_after"],
        counterparty_account_id=row["credit_account_id"] if debit else row["debit_account_id"],
        counterparty_name=row["other_name"],
        counterparty_number=row["other_number"],
        counterparty_kind=row["other_kind"],
        counterparty_product=row["other_product"],
        reverses_id=row["reverses_id"],
    )


def _totals(conn: Connection, account_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    from sqlalchemy import func

    in_range = and_(
        Transfer.kind.in_(_POSTED_KINDS), Transfer.created_at >= start, Transfer.created_at < end
    )
    debits = conn.execute(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.debit_account_id == account_id, in_range
        )
    ).scalar_one()
    credits = conn.execute(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.credit_account_id == account_id, in_range
        )
    ).scalar_one()
    return int(debits), int(credits)


def _holds(conn: Connection, account_id: int, start: datetime, end: datetime) -> list[HoldView]:
    rows = conn.execute(
        select(Transfer, PendingTransfer.state)
        .join(PendingTransfer, PendingTransfer.transfer_id == Transfer.id)
        .where(
            _touches(account_id),
            or_(
                PendingTransfer.state == "pending",
                and_(Transfer.created_at >= start, Transfer.created_at < end),
            ),
        )
        .order_by(Transfer.seq)
    ).all()
    return [
        HoldView(
            transfer_id=t.id,
            at=t.created_at,
            amount=t.amount,
            direction="debit" if t.debit_account_id == account_id else "credit",
            state=state,
            expires_at=t.expires_at,
            code=t.code,
            purpose=t.purpose,
        )
        for t, state in rows
    ]
