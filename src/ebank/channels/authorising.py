"""Authorising and executing payments, many at once: the batch handler of the payment desk
(:class:`ebank.channels.desk.PaymentDesk`, :mod:`ebank.batching`).

In one transaction for the whole batch:

1. read and lock what the payments need, a statement per table and always in the same order —
   the customers' credentials (the failure counter every factor shares), the payments, their
   challenges and tools, the channel enrolments (the contract limits) — and what each customer's
   channel has already paid today and this year;
2. payment by payment: verify the factors (dynamic linking: against the payment as it is now),
   count a failure or reset the counter, check the limits for the strength used (amounts approved
   earlier in the batch count too);
3. post the approved payments (:func:`ebank.ledger.writer.post_batch`: a hold for a payment the
   risk hook held, nothing for one it blocked; another bank's payee through clearing), and record
   each outcome with its notification and audit record — the audit trail last, so its lock is
   held briefly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select
from sqlalchemy.orm import Session

from ebank.audit.service import AuditEntry
from ebank.auth import challenges
from ebank.auth import service as auth
from ebank.auth.models import AuthChallenge, AuthTool, CustomerCredential
from ebank.auth.strength import Factor, Strength, factors_text, is_strong, strength_of
from ebank.channels.checks import within_low_value
from ebank.channels.drafting import Outcome, one_by_one
from ebank.channels.limits import Limits, breached_limit, limits_for
from ebank.channels.models import ChannelEnrolment, Payment
from ebank.channels.payments import (
    FAILURE_DEFAULT,
    FAILURE_MESSAGES,
    FINAL_STATES,
    HOLD_SECONDS,
    LIMIT_LABELS,
    LIVE,
    NOT_MADE_REASONS,
    AuthoriseRequest,
    PaymentView,
    is_stale,
    linked_fields,
    not_made_note,
    payment_not_found,
    state_error,
    view_of,
)
from ebank.common.errors import Conflict, DomainError, NotFound, Unprocessable
from ebank.db import Base, DirectRead, UTCDateTime, among, built, bulk_update, one_of
from ebank.ledger import clearing
from ebank.ledger import service as ledger
from ebank.ledger.accounts import Product
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE, OutboundPayment
from ebank.ledger.models import Account
from ebank.ledger.posting import TransferKind, TransferRequest, TransferResult
from ebank.ledger.writer import post_batch
from ebank.notify import service as notify
from ebank.notify.service import Note
from ebank.risk import service as risk_alerts
from ebank.risk.assessment import Outcome as Risk
from ebank.runtime import Runtime

NOTICE_KINDS = {
    "executed": "payment_executed",
    "held": "payment_held",
    "blocked": "payment_blocked",
    "failed": "payment_failed",
}


def authorise_payments(rt: Runtime, requests: list[AuthoriseRequest]) -> list[Outcome]:
    """Authorise and execute these payments (see
    :func:`ebank.channels.payments.authorise_payment`)."""
    with rt.db.write() as session:
        known = _AuthorisationContext.read(session, rt, requests)
        approved: list[tuple[AuthoriseRequest, Payment]] = []

        def decide(request: AuthoriseRequest) -> PaymentView:
            newly = request.payment_id not in known.approved
            try:
                row = _authorise(session, rt, known, request)
            except DomainError as refusal:
                _note_refusal(known, request, refusal)
                raise
            if newly and row.id in known.approved:
                approved.append((request, row))
            return _view(rt, known, row)

        outcomes = one_by_one(requests, decide)
        notify.queue_many(session.connection(), rt, known.notes)
        if approved:
            executed = _execute(session, rt, known, approved)
            outcomes = [_final(rt, known, outcome, executed) for outcome in outcomes]
        else:
            known.write_back(session.connection())
    rt.courier.wake()  # outcomes, and any lock, were notified
    return outcomes


@dataclass
class _AuthorisationContext:
    """What the batch's authorisations need, read and locked for all of them at once."""

    credentials: dict[int, CustomerCredential]
    payments: dict[str, Payment]
    challenges: dict[str, AuthChallenge]
    tools: dict[int | str, AuthTool]
    enrolments: dict[tuple[int, str], Any]  # rows of _ENROLMENTS: the contract limits
    used: dict[tuple[int, str], list[int]]  # (customer, channel) → [today, this year]
    masked: dict[int, str]  # paying accounts' masked numbers
    approved: set[str] = field(default_factory=set)  # payments this batch executes
    notes: list[Note] = field(default_factory=list)  # payments not made, for their customers
    read_as: dict[tuple[str, object], tuple[object, ...]] = field(default_factory=dict)

    @classmethod
    def read(
        cls, session: Session, rt: Runtime, requests: list[AuthoriseRequest]
    ) -> _AuthorisationContext:
        customer_ids = sorted({r.caller.customer_id for r in requests})
        conn = session.connection()
        # The rows are the batch's to change; it writes what changed itself, a statement per
        # table (:meth:`write_back`), so they are built in no session (ebank.db.built).
        credentials = _CREDENTIALS.objects(
            session, CustomerCredential, {"ids": customer_ids}, in_session=False
        )
        payments = _PAYMENTS.rows(conn, {"ids": sorted({r.payment_id for r in requests})})
        wanted = [r.authorisation.challenge_id for r in requests if r.authorisation.challenge_id]
        found = challenges.locked_challenges(session, wanted, in_session=False) if wanted else {}
        answers = [
            (found[r.authorisation.challenge_id], r.authorisation.proof)
            for r in requests
            if r.authorisation.challenge_id in found
        ]
        enrolments = _ENROLMENTS.rows(conn, {"ids": customer_ids})
        known = cls(
            credentials={row.customer_id: row for row in credentials},
            payments={row.id: built(Payment, row) for row in payments},
            challenges=found,
            tools=challenges.locked_tools(session, answers, in_session=False) if answers else {},
            enrolments={(row.customer_id, row.channel): row for row in enrolments},
            used=_used(session, rt, customer_ids),
            masked={row.from_account_id: row.number_masked for row in payments},
        )
        for table, key, columns, rows in known._written():
            for row in rows:
                known.read_as[table, getattr(row, key)] = _values(row, columns)
        return known

    def _written(self) -> list[tuple[str, str, tuple[str, ...], list[Any]]]:
        tools = {id(tool): tool for tool in self.tools.values()}
        return [
            (
                "customer_credentials",
                "customer_id",
                _CREDENTIAL_STATE,
                list(self.credentials.values()),
            ),
            ("auth_challenges", "id", _CHALLENGE_STATE, list(self.challenges.values())),
            ("auth_tools", "id", _TOOL_STATE, list(tools.values())),
            ("payments", "id", _PAYMENT_STATE, list(self.payments.values())),
        ]

    def write_back(self, conn: Connection) -> None:
        """Write what the batch changed: one statement per table."""
        for table, key, columns, rows in self._written():
            changed = [
                {key: getattr(row, key), **dict(zip(columns, values, strict=True))}
                for row in rows
                if (values := _values(row, columns)) != self.read_as[table, getattr(row, key)]
            ]
            bulk_update(conn, Base.metadata.tables[table], changed, key=key)


# What a batch may change in each row it locked.
_CREDENTIAL_STATE = ("failed_attempts", "locked_at", "exempt_count", "exempt_amount", "updated_at")
_CHALLENGE_STATE = ("status", "attempts")
_TOOL_STATE = ("fail_count", "counter", "last_step", "sign_count", "updated_at")
_PAYMENT_STATE = (
    "status",
    "strength",
    "factors",
    "transfer_id",
    "failure_code",
    "updated_at",
    "executed_at",
)


def _values(row: object, columns: tuple[str, ...]) -> tuple[object, ...]:
    return tuple(getattr(row, column) for column in columns)


# Locked in key order, the same in every batch, so two batches never wait on each other in a
# cycle: credentials, payments, challenges, tools, enrolments (then the ledger's accounts).
_CREDENTIALS = DirectRead(
    select(CustomerCredential)
    .where(among(CustomerCredential.customer_id, "ids"))
    .order_by(CustomerCredential.customer_id)
    .with_for_update(key_share=True)
)
_PAYMENTS = DirectRead(
    select(Payment, Account.number_masked)
    .join(Account, Account.id == Payment.from_account_id)
    .where(among(Payment.id, "ids"))
    .order_by(Payment.id)
    .with_for_update(of=Payment, key_share=True)
)
_ENROLMENTS = DirectRead(
    select(
        ChannelEnrolment.customer_id,
        ChannelEnrolment.channel,
        ChannelEnrolment.per_transaction_limit,
        ChannelEnrolment.daily_limit,
        ChannelEnrolment.yearly_limit,
    )
    .where(among(ChannelEnrolment.customer_id, "ids"))
    .order_by(ChannelEnrolment.id)
    .with_for_update(key_share=True)
)
_USED = DirectRead(
    select(
        Payment.customer_id,
        Payment.channel,
        func.coalesce(
            func.sum(
                case(
                    (
                        Payment.created_at >= bindparam("day_start", type_=UTCDateTime()),
                        Payment.amount,
                    ),
                    else_=0,
                )
            ),
            0,
        ),
        func.coalesce(func.sum(Payment.amount), 0),
    )
    .where(
        among(Payment.customer_id, "ids"),
        one_of(Payment.status, LIVE),
        Payment.created_at >= bindparam("year_start", type_=UTCDateTime()),
    )
    .group_by(Payment.customer_id, Payment.channel)
)


def _used(
    session: Session, rt: Runtime, customer_ids: list[int]
) -> dict[tuple[int, str], list[int]]:
    """What each customer's channels have paid out today and this year (local time), in one
    query."""
    local = rt.clock.now().astimezone(rt.policy.zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    year_start = day_start.replace(month=1, day=1)
    rows = _USED.rows(
        session.connection(),
        {"ids": customer_ids, "day_start": day_start, "year_start": year_start},
    )
    used: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for customer_id, channel, today, year in rows:
        used[customer_id, channel] = [int(today), int(year)]
    return used


def _view(rt: Runtime, known: _AuthorisationContext, row: Payment) -> PaymentView:
    return view_of(rt, row, from_account=known.masked.get(row.from_account_id, ""))


# --- step 2: authorise, payment by payment --------------------------------------------------------


def _authorise(
    session: Session, rt: Runtime, known: _AuthorisationContext, request: AuthoriseRequest
) -> Payment:
    """The payment, approved (still ``awaiting_auth``: it executes with the batch) or already
    final (a repeated call); raises the refusal — a wrong factor after counting it."""
    caller = request.caller
    row = known.payments.get(request.payment_id)
    if row is None or row.customer_id != caller.customer_id:
        raise payment_not_found()
    if row.status in FINAL_STATES or row.id in known.approved:  # asked again: the outcome
        return row
    now = rt.clock.now()
    if is_stale(row, now, rt.policy.channels.draft_ttl_minutes):
        row.status = "expired"  # nothing verified, nothing counted
        known.notes.append(not_made_note(row, "expired", request.locale))
        return row
    if row.status != "awaiting_auth":
        raise state_error(row)
    credential = known.credentials.get(caller.customer_id)
    if credential is None:
        raise NotFound("not_registered", "This customer has no e-banking registration.")
    if credential.locked_at is not None:
        raise auth.customer_locked()
    if row.exemption == "low_value" and not within_low_value(
        rt.policy, row.amount, credential.exempt_count, credential.exempt_amount
    ):  # exempt drafts waiting together cannot pass the caps the first of them counted against
        raise Conflict(
            "verification_required",
            "Payments without a code have reached their limit since your last full verification. "
            "Confirm this payment again and verify it.",
            field="method",
        )
    factors = _verify_factors(rt, known, row, request)
    if factors is None:
        raise auth.count_failure(session, rt, credential)
    strength = strength_of(factors)
    enrolment = known.enrolments.get((row.customer_id, row.channel))
    if enrolment is None:
        raise NotFound("not_registered", "You are not registered for this channel.")
    used = known.used[row.customer_id, row.channel]
    refusal = _breached(rt, row, strength, enrolment, used)
    if refusal is not None:
        raise refusal
    used[0] += row.amount  # later payments of the batch see this one
    used[1] += row.amount
    credential.failed_attempts = 0  # the ORM writes a row only if a value changes
    if row.exemption is not None:
        credential.exempt_count += 1
        credential.exempt_amount += row.amount
    elif is_strong(factors):
        credential.exempt_count, credential.exempt_amount = 0, 0
    row.strength, row.factors = strength.value, factors_text(factors)
    row.transfer_id, row.updated_at = row.id, rt.clock.now()
    known.approved.add(row.id)
    return row


def _note_refusal(
    known: _AuthorisationContext, request: AuthoriseRequest, refusal: DomainError
) -> None:
    """A refused authorisation of the customer's waiting payment is notified when it says
    something the customer should hear of (a wrong or stale verification, a limit, a tool)."""
    row = known.payments.get(request.payment_id)
    if (
        row is not None
        and row.customer_id == request.caller.customer_id
        and row.status == "awaiting_auth"
        and refusal.code in NOT_MADE_REASONS
    ):
        known.notes.append(not_made_note(row, refusal.code, request.locale))


def _verify_factors(
    rt: Runtime, known: _AuthorisationContext, row: Payment, request: AuthoriseRequest
) -> frozenset[Factor] | None:
    """The factors proven, or None if any element given was wrong (never saying which)."""
    authorisation = request.authorisation
    factors: set[Factor] = set()
    if authorisation.transaction_password is not None:
        if not request.password_ok:
            return None
        factors.add(Factor.TRANSACTION_PASSWORD)
    if row.exemption is None:
        if not authorisation.challenge_id:
            raise Unprocessable(
                "challenge_required", "Verify the payment first.", field="challenge_id"
            )
        factor = challenges.verify_loaded(
            rt,
            known.challenges.get(authorisation.challenge_id),
            known.tools,
            customer_id=row.customer_id,
            purpose="payment",
            subject=row.id,
            linked=linked_fields(rt, row),
            proof=authorisation.proof,
        )
        if factor is None:
            return None
        factors.add(factor)
    return frozenset(factors)


def _breached(
    rt: Runtime, row: Payment, strength: Strength, enrolment: Any, used: list[int]
) -> DomainError | None:
    contract = Limits(
        enrolment.per_transaction_limit, enrolment.daily_limit, enrolment.yearly_limit
    )
    # Between the customer's own accounts only the contract applies (no payee to protect).
    own = row.exemption == "own_accounts"
    limits = contract if own else limits_for(rt.policy, strength, contract)
    breached = breached_limit(limits, amount=row.amount, used_today=used[0], used_this_year=used[1])
    if breached is None:
        return None
    return Unprocessable(
        "limit_exceeded",
        "This payment is over your {limit_msgid} limit for the verification used. Use a "
        "stronger verification (USB key) or a smaller amount.",
        field="amount",
        limit=breached,
        limit_msgid=LIMIT_LABELS[breached],
    )


# --- step 3: execute ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Execution:
    request: AuthoriseRequest
    row: Payment
    transfer: TransferRequest | None  # None: blocked
    outbound: OutboundPayment | None  # to another bank, through clearing


def _execute(
    session: Session,
    rt: Runtime,
    known: _AuthorisationContext,
    approved: list[tuple[AuthoriseRequest, Payment]],
) -> dict[str, DomainError | None]:
    """Post the approved payments and record their outcomes; the ledger's refusal for each
    payment it refused (recorded as failed, and raised to the customer)."""
    executions = [_execution(rt, request, row) for request, row in approved]
    posted = [e for e in executions if e.transfer is not None]
    refusals: dict[str, DomainError | None] = {}
    conn = session.connection()

    def record(results: list[TransferResult]) -> list[AuditEntry]:
        outcome = {e.row.id: result for e, result in zip(posted, results, strict=True)}
        now = rt.clock.now()
        notes: list[Note] = []
        entries: list[AuditEntry] = []
        for e in executions:
            result = outcome.get(e.row.id)
            _settle(e, result, now)
            refusals[e.row.id] = ledger.refusal(result) if result and not result.ok else None
            notes.append(_notice(e, known))
            entries.append(_audit_entry(e))
        sent = [(e.outbound, outcome[e.row.id]) for e in posted if e.outbound is not None]
        clearing.queue_outbound(conn, rt, sent)
        risk_alerts.queue_alerts(conn, [e.row for e in executions], now)
        known.write_back(conn)  # before the audit trail's lock is taken
        notify.queue_many(conn, rt, notes)
        return entries

    post_batch(
        conn,
        [[e.transfer] for e in posted if e.transfer is not None],
        now=rt.clock.now(),
        policy=rt.policy,
        actors=[e.request.caller.actor for e in posted],
        after_posting=record,
    )
    return refusals


def _execution(rt: Runtime, request: AuthoriseRequest, row: Payment) -> _Execution:
    risk = Risk(row.risk_outcome or Risk.ALLOW.value)
    if risk is Risk.BLOCK:
        return _Execution(request, row, None, None)
    hold = risk is Risk.HOLD
    actor = request.caller.actor
    if row.payee_account_id is None and not hold:
        outbound = clearing.outbound_payment(
            transfer_id=row.id,
            account_id=row.from_account_id,
            amount=row.amount,
            currency=row.currency,
            payee_bank=row.payee_bank,
            payee_account=rt.cipher.decrypt(row.payee_account_enc, purpose=PAYEE_ACCOUNT_PURPOSE),
            payee_name=rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
        )
        transfer = clearing.outbound_request(
            rt, actor, outbound, purpose=row.purpose, channel=row.channel
        )
        return _Execution(request, row, transfer, outbound)
    credit = row.payee_account_id or ledger.internal_account_id(rt, Product.CLEARING, row.currency)
    transfer = TransferRequest(
        id=row.id,
        debit_account_id=row.from_account_id,
        credit_account_id=credit,
        amount=row.amount,
        currency=row.currency,
        kind=TransferKind.PENDING if hold else TransferKind.SINGLE,
        timeout_s=HOLD_SECONDS if hold else None,
        code="payment_hold" if hold else "payment",
        purpose=row.purpose,
        channel=row.channel,
        reference=row.id,
        created_by=actor.ref,
    )
    ledger.check_request(transfer)
    return _Execution(request, row, transfer, None)


def _settle(e: _Execution, result: TransferResult | None, now: datetime) -> None:
    row = e.row
    if result is None:
        row.status, row.failure_code = "blocked", "blocked"
    elif not result.ok:
        row.status, row.failure_code = "failed", result.code.value
    else:
        row.status = (
            "held" if e.transfer and e.transfer.kind is TransferKind.PENDING else "executed"
        )
    row.executed_at = row.updated_at = now


def _notice(e: _Execution, known: _AuthorisationContext) -> Note:
    row = e.row
    params: dict[str, object] = {
        "amount": row.amount,
        "currency": row.currency,
        "payee": row.payee_name_masked,
        "payee_account": row.payee_account_masked,
        "from_account": known.masked.get(row.from_account_id, ""),
    }
    if row.status == "failed":
        params["reason_msgid"] = FAILURE_MESSAGES.get(row.failure_code or "", FAILURE_DEFAULT)
    # The notice goes out in the language the customer paid in.
    return Note(row.customer_id, NOTICE_KINDS[row.status], params, e.request.locale)


def _audit_entry(e: _Execution) -> AuditEntry:
    row, caller = e.row, e.request.caller
    return AuditEntry(
        caller.actor,
        f"payment.{row.status}",
        "payment",
        row.id,
        after={
            "amount": row.amount,
            "strength": row.strength,
            "factors": row.factors,
            "exemption": row.exemption,
            "risk": row.risk_outcome,
            "device": caller.device_id,
            "failure": row.failure_code,
        },
    )


def _final(
    rt: Runtime,
    known: _AuthorisationContext,
    outcome: Outcome,
    refusals: dict[str, DomainError | None],
) -> Outcome:
    """After execution: the ledger's refusal for a payment it refused, else the final view."""
    if isinstance(outcome, DomainError) or outcome.id not in refusals:
        return outcome
    refusal = refusals[outcome.id]
    return refusal if refusal is not None else _view(rt, known, known.payments[outcome.id])
