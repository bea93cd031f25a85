"""Payments through a channel: draft → confirm → challenge → execute.

- The **confirmation** shows the amount in figures and in Chinese capitals, the payee's name,
  account and bank. A payment far above this customer's habit with the payee, or the same amount
  again to a new payee within minutes, must be confirmed again (S6, S4).
- The **challenge** is dynamically linked: bound to the payment's id, version, amount and payee;
  any edit changes the version and the old code or signature no longer verifies.
- The **risk hook** (``rt.risk.assess``) sees every confirmed payment; its outcome decides whether
  an exemption may apply (only on "allow"), and whether the payment executes, is held (a pending
  transfer an analyst releases or voids) or is blocked.
- **Limits** follow the strength of the authentication actually used.
- Every outcome is notified, with a risk tip.

Drafting, confirming and authorising go through the process's payment desk
(:class:`ebank.channels.desk.PaymentDesk`): the requests of the moment are handled together, in
one transaction (:mod:`ebank.channels.drafting`, :mod:`ebank.channels.authorising`). A payment's
authorisation and its execution commit together: its outcome, the postings, the notification
and the audit record.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    bindparam,
    cast,
    column,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.auth import service as auth
from ebank.auth.challenges import IssuedChallenge, Proof
from ebank.auth.models import CustomerCredential
from ebank.auth.passwords import verify_password
from ebank.auth.strength import Factor
from ebank.channels import service as channels
from ebank.channels.checks import (
    ABOVE_HABIT,
    REPEAT_TO_NEW_PAYEE,
    PastPayment,
    payment_warnings,
)
from ebank.channels.models import Payment, Recall
from ebank.common.errors import Conflict, NotFound, Unprocessable
from ebank.common.i18n import N_, current_locale
from ebank.common.masking import mask_card_number, mask_name
from ebank.common.money import amount_in_chinese_capitals
from ebank.db import DirectRead, among, one_of
from ebank.ledger import clearing
from ebank.ledger import service as ledger
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE
from ebank.ledger.models import Account
from ebank.ledger.posting import TransferKind, TransferRequest
from ebank.ledger.service import SYSTEM_ID_PREFIX
from ebank.notify import service as notify
from ebank.runtime import Runtime

if TYPE_CHECKING:
    from ebank.channels.desk import PaymentDesk

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
LIVE = ("executed", "held")  # count against limits and habits
FINAL_STATES = ("executed", "held", "blocked", "failed", "voided", "expired")
UNFINISHED_STATES = ("draft", "awaiting_auth")
WARNING_MESSAGES = {
    ABOVE_HABIT: N_(
        "This amount is far above what you usually pay this payee. Check the amount digit by digit."
    ),
    REPEAT_TO_NEW_PAYEE: N_(
        "You paid this new payee the same amount a few minutes ago. If a page told you the first "
        "payment failed, check your statement first: fake payment pages do that."
    ),
}
FAILURE_MESSAGES = {
    "blocked": N_("stopped by the bank's security checks"),
    "exceeds_available": N_("the balance is not enough"),
}
FAILURE_DEFAULT = N_("the bank could not make the payment")
# Why an authorisation did not go through, for the customer's notice (a wrong or changed
# verification may be somebody else trying: the customer hears of it at once).
NOT_MADE_REASONS = {
    "expired": N_("it was not completed in time"),
    "invalid_credentials": N_("the verification entered was wrong"),
    "challenge_invalidated": N_("its details changed after the code was issued"),
    "limit_exceeded": N_("it is over your limit for the verification used"),
    "tool_unavailable": N_("the tool used is reported lost, disabled or revoked"),
    "tool_locked": N_("the tool used has failed too many times"),
}
HOLD_SECONDS = 7 * 24 * 3600
LIMIT_LABELS = {
    "per_transaction": N_("per-transaction"),
    "daily": N_("daily"),
    "yearly": N_("yearly"),
}
STATE_LABELS = {
    "draft": N_("waiting for confirmation"),
    "awaiting_auth": N_("waiting for verification"),
    "executed": N_("executed"),
    "held": N_("held for a security check"),
    "blocked": N_("blocked"),
    "failed": N_("failed"),
    "voided": N_("stopped after a security check"),
    "expired": N_("stopped: the security check did not finish in time"),
}


@dataclass(frozen=True)
class PaymentInput:
    request_id: str
    from_account_id: int
    amount: int
    purpose: str | None = None
    payee_id: int | None = None
    payee_account: str | None = None
    payee_name: str | None = None
    payee_bank: str | None = None


@dataclass(frozen=True)
class Confirmation:
    amount: int
    currency: str
    amount_in_words: str
    from_account: str
    payee_name: str
    payee_account: str
    payee_bank: str
    payee_verified: bool
    in_bank: bool


@dataclass(frozen=True)
class PaymentView:
    id: str
    request_id: str
    status: str
    version: int
    channel: str
    amount: int
    currency: str
    purpose: str | None
    confirmation: Confirmation
    warnings: list[str]
    needs_confirmation: bool
    exemption: str | None
    risk_outcome: str | None
    strength: str | None
    factors: list[str]
    transfer_id: str | None
    failure_code: str | None
    created_at: datetime
    executed_at: datetime | None
    challenge: IssuedChallenge | None = None
    recall_status: str | None = None


@dataclass(frozen=True)
class Authorisation:
    challenge_id: str | None = None
    proof: Proof = field(default_factory=Proof)
    transaction_password: str | None = None


# What the desk's batches take: one request each, as the customer sent it, already in form.


@dataclass(frozen=True)
class DraftRequest:
    caller: auth.CustomerSession
    data: PaymentInput
    purpose: str | None
    payee: channels.PayeeDetails | None  # None: a saved payee (``data.payee_id``)
    method: Factor | None
    locale: str


@dataclass(frozen=True)
class ConfirmRequest:
    caller: auth.CustomerSession
    payment_id: str
    acknowledge_warnings: bool
    method: Factor | None
    locale: str


@dataclass(frozen=True)
class AuthoriseRequest:
    caller: auth.CustomerSession
    payment_id: str
    authorisation: Authorisation
    password_ok: bool
    locale: str


# --- reading -----------------------------------------------------------------------------------


def _payment(session: Session, customer_id: int, payment_id: str, *, lock: bool = False) -> Payment:
    query = select(Payment).where(Payment.id == payment_id)
    row = session.execute(
        query.with_for_update(key_share=True) if lock else query
    ).scalar_one_or_none()
    if row is None or row.customer_id != customer_id:
        raise payment_not_found()
    return row


def payment_not_found() -> NotFound:
    return NotFound("payment_not_found", "No such payment.", field="payment_id")


def view_of(
    rt: Runtime,
    row: Payment,
    *,
    from_account: str,
    challenge: IssuedChallenge | None = None,
    recall_status: str | None = None,
) -> PaymentView:
    """What the customer sees of the payment ``row`` (paid from the account ``from_account``,
    masked)."""
    payee_name = rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE)
    return PaymentView(
        id=row.id,
        request_id=row.request_id,
        status=row.status,
        version=row.version,
        channel=row.channel,
        amount=row.amount,
        currency=row.currency,
        purpose=row.purpose,
        confirmation=Confirmation(
            amount=row.amount,
            currency=row.currency,
            amount_in_words=amount_in_chinese_capitals(row.amount),
            from_account=from_account,
            payee_name=payee_name,
            payee_account=row.payee_account_masked,
            payee_bank=row.payee_bank,
            payee_verified=row.payee_verified,
            in_bank=row.payee_account_id is not None,
        ),
        warnings=[w for w in row.warnings.split(",") if w],
        needs_confirmation=row.status == "draft",
        exemption=row.exemption,
        risk_outcome=row.risk_outcome,
        strength=row.strength,
        factors=sorted(row.factors.split(",")) if row.factors else [],
        transfer_id=row.transfer_id,
        failure_code=row.failure_code,
        created_at=row.created_at,
        executed_at=row.executed_at,
        challenge=challenge,
        recall_status=recall_status,
    )


def _view(session: Session, rt: Runtime, row: Payment) -> PaymentView:
    from_account = session.execute(
        select(Account.number_masked).where(Account.id == row.from_account_id)
    ).scalar()
    recall = (  # only an executed payment can be recalled
        session.execute(select(Recall.status).where(Recall.payment_id == row.id)).scalar()
        if row.status == "executed"
        else None
    )
    return view_of(rt, row, from_account=from_account or "", recall_status=recall)


def get_payment(rt: Runtime, customer_id: int, payment_id: str) -> PaymentView:
    with rt.db.read() as session:
        return _view(session, rt, _payment(session, customer_id, payment_id))


def list_payments(rt: Runtime, customer_id: int, *, limit: int = 50) -> list[PaymentView]:
    with rt.db.read() as session:
        rows = session.execute(
            select(Payment)
            .where(Payment.customer_id == customer_id)
            .order_by(Payment.created_at.desc(), Payment.id)
            .limit(limit)
        ).scalars()
        return [_view(session, rt, row) for row in rows]


def _desk(rt: Runtime) -> PaymentDesk:
    from ebank.channels.desk import PaymentDesk

    return rt.worker(PaymentDesk)


# --- draft -------------------------------------------------------------------------------------


def create_payment(
    rt: Runtime, caller: auth.CustomerSession, data: PaymentInput, *, method: Factor | None
) -> PaymentView:
    """Draft a payment. Without warnings to confirm, it is confirmed at once and the challenge
    for ``method`` is issued (or an exemption applies). The same request id again returns the
    payment as it is."""
    return _desk(rt).drafts.call(draft_request(rt, caller, data, method))


async def create_payment_async(
    rt: Runtime, caller: auth.CustomerSession, data: PaymentInput, *, method: Factor | None
) -> PaymentView:
    """:func:`create_payment`, awaited on the event loop (no thread is held while it waits)."""
    return await _desk(rt).drafts.acall(draft_request(rt, caller, data, method))


def draft_request(
    rt: Runtime, caller: auth.CustomerSession, data: PaymentInput, method: Factor | None
) -> DraftRequest:
    """The draft in form, or the field error (before anything is read)."""
    if not REQUEST_ID.match(data.request_id or ""):
        raise Unprocessable(
            "invalid_request_id",
            "A request id is 8-64 letters, digits or . _ : -",
            field="request_id",
        )
    check_amount(data.amount)
    purpose = ledger.clean_purpose(data.purpose)
    payee = (
        None
        if data.payee_id is not None
        else channels.parse_payee(
            rt,
            account_number=data.payee_account or "",
            name=data.payee_name or "",
            bank_code=data.payee_bank,
        )
    )
    return DraftRequest(caller, data, purpose, payee, method, current_locale.get())


def body_digest(data: PaymentInput) -> str:
    """The request as first sent: the same id with another body is refused."""
    body = json.dumps(
        [
            data.from_account_id,
            data.amount,
            data.purpose,
            data.payee_id,
            data.payee_account,
            data.payee_name,
            data.payee_bank,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise Unprocessable("invalid_amount", "The amount must be above zero.", field="amount")


def set_payee(rt: Runtime, row: Payment, payee: channels.ResolvedPayee) -> None:
    row.payee_name_enc = rt.cipher.encrypt(payee.name, purpose=PAYEE_NAME_PURPOSE)
    row.payee_name_masked = mask_name(payee.name)
    row.payee_account_enc = rt.cipher.encrypt(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
    row.payee_hash = rt.cipher.lookup_hash(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
    row.payee_account_masked = mask_card_number(payee.account_number)
    row.payee_bank = payee.bank_code
    row.payee_account_id = payee.account_id
    row.payee_verified = payee.verified


@dataclass
class PayeeHabit:
    """A customer's history with a payee: the last payments (executed or held) and the first."""

    recent: list[PastPayment] = field(default_factory=list)
    first_paid: datetime | None = None


# The customer's habit with a payee, read for a batch's (customer, payee) pairs at once, in two
# forms. PostgreSQL walks each pair's index range from the newest payment and stops at the last
# ``habit_payments`` (a lateral join); a filter on lists of customers and payees instead probes
# the index for every combination of customer, payee and status, and ranks every payment ever
# made to the payee. SQLite has no lateral joins: it ranks them (an embedded database holds few).
_PAIRS = (
    func.unnest(
        cast(bindparam("customer_ids"), ARRAY(BigInteger)),
        cast(bindparam("hashes"), ARRAY(String)),
    )
    .table_valued(column("customer_id", BigInteger), column("payee_hash", String))
    .render_derived(name="pair")
)
_TO_PAIR = and_(
    Payment.customer_id == _PAIRS.c.customer_id,
    Payment.payee_hash == _PAIRS.c.payee_hash,
    one_of(Payment.status, LIVE),
)
_FIRST_PAID = select(func.min(Payment.created_at).label("first_paid")).where(_TO_PAIR).lateral()
_RECENT = (
    select(Payment.amount, Payment.created_at)
    .where(_TO_PAIR)
    .order_by(Payment.created_at.desc())
    .limit(bindparam("last"))
    .lateral()
)
_HABITS_BY_PAIR = DirectRead(
    select(
        _PAIRS.c.customer_id,
        _PAIRS.c.payee_hash,
        _RECENT.c.amount,
        _RECENT.c.created_at,
        _FIRST_PAID.c.first_paid,
    )
    .select_from(_PAIRS)
    .join(_FIRST_PAID, true())
    .join(_RECENT, true())
)
_RANKED = (
    select(
        Payment.customer_id,
        Payment.payee_hash,
        Payment.amount,
        Payment.created_at,
        func.row_number()
        .over(
            partition_by=(Payment.customer_id, Payment.payee_hash),
            order_by=Payment.created_at.desc(),
        )
        .label("recency"),
        func.min(Payment.created_at)
        .over(partition_by=(Payment.customer_id, Payment.payee_hash))
        .label("first_paid"),
    )
    .where(
        among(Payment.customer_id, "customer_ids"),
        among(Payment.payee_hash, "hashes"),
        one_of(Payment.status, LIVE),
    )
    .subquery()
)
_HABITS_RANKED = DirectRead(
    select(
        _RANKED.c.customer_id,
        _RANKED.c.payee_hash,
        _RANKED.c.amount,
        _RANKED.c.created_at,
        _RANKED.c.first_paid,
    ).where(_RANKED.c.recency <= bindparam("last"))
)


def payee_habits(
    session: Session, rt: Runtime, pairs: Iterable[tuple[int, str]]
) -> defaultdict[tuple[int, str], PayeeHabit]:
    """Each customer's habit with each payee (by the keyed hash of its account), in one query:
    the last ``habit_payments`` of the policy and the date of the first."""
    found: defaultdict[tuple[int, str], PayeeHabit] = defaultdict(PayeeHabit)
    asked = set(pairs)
    if not asked:
        return found
    wanted = sorted(asked)
    conn = session.connection()
    last = rt.policy.channels.checks.habit_payments
    if conn.dialect.name == "postgresql":
        customer_ids, hashes = zip(*wanted, strict=True)
        params = {"customer_ids": list(customer_ids), "hashes": list(hashes), "last": last}
        rows = _HABITS_BY_PAIR.rows(conn, params)
    else:  # every pair of the customers and payees asked about: the pairs asked are kept
        customers = sorted({customer_id for customer_id, _ in wanted})
        params = {"customer_ids": customers, "hashes": sorted({h for _, h in wanted}), "last": last}
        rows = _HABITS_RANKED.rows(conn, params)
    for customer_id, payee_hash, amount, at, first_paid in rows:
        if (customer_id, payee_hash) not in asked:
            continue
        habit = found[customer_id, payee_hash]
        habit.recent.append(PastPayment(amount, at))
        habit.first_paid = first_paid
    return found


def set_warnings(rt: Runtime, row: Payment, habit: PayeeHabit) -> None:
    """The warnings the customer must confirm, given the customer's habit with this payee."""
    warnings = payment_warnings(
        rt.policy,
        amount=row.amount,
        now=rt.clock.now(),
        history=habit.recent,
        payee_first_paid=habit.first_paid,
    )
    row.warnings = ",".join(warnings)
    row.warnings_acknowledged = False


def _refresh_warnings(session: Session, rt: Runtime, row: Payment) -> None:
    habits = payee_habits(session, rt, [(row.customer_id, row.payee_hash)])
    set_warnings(rt, row, habits[row.customer_id, row.payee_hash])


def update_payment(
    rt: Runtime,
    caller: auth.CustomerSession,
    payment_id: str,
    *,
    amount: int | None = None,
    purpose: str | None = None,
    payee: PaymentInput | None = None,
) -> PaymentView:
    """Change a payment not yet executed. Its version moves on: challenges already issued no
    longer verify, and it must be confirmed again."""
    if amount is not None:
        check_amount(amount)
    with rt.db.write() as session:
        resolved = _payee(session, rt, caller.customer_id, payee) if payee is not None else None
        row = _payment(session, caller.customer_id, payment_id, lock=True)
        _require_status(row, "draft", "awaiting_auth")
        if amount is not None:
            row.amount = amount
        if purpose is not None:
            row.purpose = ledger.clean_purpose(purpose)
        if resolved is not None:
            set_payee(rt, row, resolved)
        row.version += 1
        row.status, row.exemption, row.risk_outcome = "draft", None, None
        row.updated_at = rt.clock.now()
        _refresh_warnings(session, rt, row)
        return _view(session, rt, row)


def _payee(
    session: Session, rt: Runtime, customer_id: int, data: PaymentInput
) -> channels.ResolvedPayee:
    if data.payee_id is not None:
        return channels.payee_details_in(session, rt, customer_id, data.payee_id)
    return channels.resolve_payee_in(
        session,
        rt,
        account_number=data.payee_account or "",
        name=data.payee_name or "",
        bank_code=data.payee_bank,
    )


def _require_status(row: Payment, *allowed: str) -> None:
    if row.status not in allowed:
        raise state_error(row)


def is_stale(row: Payment, now: datetime, ttl_minutes: int) -> bool:
    """A payment left unfinished (not confirmed or not authorised) for longer than the policy's
    ``channels.draft_ttl_minutes`` since its last step: what the customer saw, and what the risk
    engine judged, is too old to be carried out now."""
    return row.status in UNFINISHED_STATES and now - row.updated_at >= timedelta(
        minutes=ttl_minutes
    )


def not_made_note(row: Payment, reason: str, locale: str | None = None) -> notify.Note:
    """The customer's notice that this payment was not made, and why (a key of
    :data:`NOT_MADE_REASONS`)."""
    params: dict[str, object] = {
        "amount": row.amount,
        "currency": row.currency,
        "payee": row.payee_name_masked,
        "reason_msgid": NOT_MADE_REASONS[reason],
    }
    return notify.Note(row.customer_id, "payment_not_made", params, locale)


def expire_stale_payments(rt: Runtime, limit: int = 500) -> int:
    """Mark the stale unfinished payments expired and tell their customers (run by the worker);
    how many were."""
    now = rt.clock.now()
    cutoff = now - timedelta(minutes=rt.policy.channels.draft_ttl_minutes)
    with rt.db.write() as session:
        stale = session.scalars(
            select(Payment)
            .where(Payment.status.in_(UNFINISHED_STATES), Payment.updated_at <= cutoff)
            .order_by(Payment.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        ).all()
        for row in stale:
            row.status = "expired"  # updated_at stays the customer's last step
        notify.queue_many(
            session.connection(), rt, [not_made_note(row, "expired") for row in stale]
        )
    return len(stale)


def state_error(row: Payment) -> Conflict:
    return Conflict(
        "payment_state",
        "This payment is {state_msgid}: that step does not apply.",
        field="payment_id",
        state=row.status,
        state_msgid=STATE_LABELS[row.status],
    )


def linked_fields(rt: Runtime, row: Payment) -> dict[str, str | int]:
    """What the challenge is bound to: any change of amount or payee changes it."""
    return {
        "action": "payment",
        "payment": row.id,
        "version": row.version,
        "amount": row.amount,
        "currency": row.currency,
        "payee_account": rt.cipher.decrypt(row.payee_account_enc, purpose=PAYEE_ACCOUNT_PURPOSE),
        "payee_name": rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
        "payee_bank": row.payee_bank,
    }


# --- confirm -----------------------------------------------------------------------------------


def confirm_payment(
    rt: Runtime,
    caller: auth.CustomerSession,
    payment_id: str,
    *,
    acknowledge_warnings: bool,
    method: Factor | None,
) -> PaymentView:
    """Confirm what the customer saw (acknowledging any warnings) and get a challenge; also asks
    for a new challenge, for instance when a code expired."""
    request = ConfirmRequest(caller, payment_id, acknowledge_warnings, method, current_locale.get())
    return _desk(rt).confirmations.call(request)


async def confirm_payment_async(
    rt: Runtime,
    caller: auth.CustomerSession,
    payment_id: str,
    *,
    acknowledge_warnings: bool,
    method: Factor | None,
) -> PaymentView:
    """:func:`confirm_payment`, awaited on the event loop."""
    request = ConfirmRequest(caller, payment_id, acknowledge_warnings, method, current_locale.get())
    return await _desk(rt).confirmations.acall(request)


# --- authorise and execute ---------------------------------------------------------------------


def authorise_payment(
    rt: Runtime, caller: auth.CustomerSession, payment_id: str, authorisation: Authorisation
) -> PaymentView:
    """Verify the challenge (and the transaction password, if given) against the payment as it is
    now, check the limits for the strength used, and execute. Repeating the call after execution
    returns the outcome."""
    password_ok = _transaction_password_ok(rt, caller.customer_id, authorisation)
    request = AuthoriseRequest(caller, payment_id, authorisation, password_ok, current_locale.get())
    return _desk(rt).authorisations.call(request)


async def authorise_payment_async(
    rt: Runtime, caller: auth.CustomerSession, payment_id: str, authorisation: Authorisation
) -> PaymentView:
    """:func:`authorise_payment`, awaited on the event loop; only a transaction password (whose
    hash is slow on purpose) takes a thread."""
    password_ok = (
        await run_in_threadpool(_transaction_password_ok, rt, caller.customer_id, authorisation)
        if authorisation.transaction_password is not None
        else True
    )
    request = AuthoriseRequest(caller, payment_id, authorisation, password_ok, current_locale.get())
    return await _desk(rt).authorisations.acall(request)


def _transaction_password_ok(rt: Runtime, customer_id: int, authorisation: Authorisation) -> bool:
    """Checked before the transaction: the hash takes a while on purpose."""
    if authorisation.transaction_password is None:
        return True
    with rt.db.read() as session:
        known_hash = session.execute(
            select(CustomerCredential.transaction_password_hash).where(
                CustomerCredential.customer_id == customer_id
            )
        ).scalar()
    return verify_password(known_hash, authorisation.transaction_password)


# --- recall (S6) -------------------------------------------------------------------------------

RECALL_STATUS_MESSAGES = {
    "held": N_(
        "the amount is on hold in the payee's account until the payee agrees or the bank decides"
    ),
    "requested": N_("the bank has asked the payee to return it"),
    "sent": N_("the recall was sent to the payee's bank"),
}


def request_recall(
    rt: Runtime, caller: auth.CustomerSession, payment_id: str, *, reason: str
) -> PaymentView:
    """Ask for an erroneous transfer back. In this bank, the payee's account gets a hold on the
    amount (as much as is there) pending the payee's consent or a decision; to another bank, a
    recall goes out through clearing."""
    from ebank.common.validation import require_text

    reason = require_text("reason", reason, max_length=200)
    with rt.db.read() as session:
        row = _payment(session, caller.customer_id, payment_id)
        _require_status(row, "executed")
        known = session.execute(
            select(Recall).where(Recall.payment_id == row.id)
        ).scalar_one_or_none()
        if known is not None:
            return _view(session, rt, row)
    if row.payee_account_id is not None:
        status, held, hold_id = _hold_at_payee(rt, caller, row)
        route, outbound_id = "in_bank", None
    else:
        assert row.transfer_id is not None
        item = clearing.request_recall(rt, caller.actor, row.transfer_id, reason)
        status, held, hold_id, route, outbound_id = "sent", 0, None, "clearing", item.id
    now = rt.clock.now()
    with rt.db.write() as session:
        session.add(
            Recall(
                payment_id=row.id,
                customer_id=caller.customer_id,
                reason=reason,
                route=route,
                status=status,
                held_amount=held,
                hold_transfer_id=hold_id,
                outbound_id=outbound_id,
                created_at=now,
                updated_at=now,
                attempts=0,
            )
        )
        audit.record(
            session,
            AuditEntry(
                caller.actor,
                "payment.recall_requested",
                "payment",
                row.id,
                after={"route": route, "status": status, "held": held},
            ),
            now,
        )
        notify.queue(
            session,
            rt,
            caller.customer_id,
            "recall_requested",
            amount=row.amount,
            currency=row.currency,
            payee=row.payee_name_masked,
            status_msgid=RECALL_STATUS_MESSAGES[status],
        )
        if held and row.payee_account_id is not None:
            payee_account = session.get(Account, row.payee_account_id)
            if payee_account is not None and payee_account.customer_id is not None:
                notify.queue(
                    session,
                    rt,
                    payee_account.customer_id,
                    "recall_hold_placed",
                    amount=held,
                    currency=row.currency,
                    account=payee_account.number_masked,
                )
        view = _view(session, rt, _payment(session, caller.customer_id, row.id))
    rt.courier.wake()
    return view


def _earlier_hold(rt: Runtime, hold_id: str) -> int | None:
    """The amount of this recall's hold if an earlier request placed it and it still holds."""
    try:
        transfer = ledger.get_transfer(rt, hold_id)
    except NotFound:
        return None
    return int(transfer["amount"]) if transfer.get("pending_state") == "pending" else None


def _hold_at_payee(
    rt: Runtime, caller: auth.CustomerSession, row: Payment
) -> tuple[str, int, str | None]:
    assert row.payee_account_id is not None
    hold_id = f"{SYSTEM_ID_PREFIX}recall:{row.id}"
    earlier = _earlier_hold(rt, hold_id)
    if earlier is not None:  # placed by a request that failed after it: the same hold
        return "held", earlier, hold_id
    available = ledger.get_account(rt, row.payee_account_id).available
    amount = min(row.amount, max(available, 0))
    if amount <= 0:
        return "requested", 0, None
    request = TransferRequest(
        id=hold_id,
        debit_account_id=row.payee_account_id,
        credit_account_id=row.from_account_id,
        amount=amount,
        currency=row.currency,
        kind=TransferKind.PENDING,
        timeout_s=int(timedelta(days=rt.policy.channels.recall_hold_days).total_seconds()),
        code="recall_hold",
        purpose="recall of an erroneous transfer",
        channel="system",
        reference=row.id,
        created_by=caller.actor.ref,
    )
    result = rt.posting.submit([request], actor=caller.actor)[0]  # a bank id: past the checks
    if not result.ok:
        return "requested", 0, None
    return "held", amount, hold_id
