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
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select, update
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.auth import challenges
from ebank.auth import service as auth
from ebank.auth.challenges import IssuedChallenge, Proof
from ebank.auth.models import CustomerCredential
from ebank.auth.passwords import verify_password
from ebank.auth.strength import Factor, Strength, factors_text, is_strong, strength_of
from ebank.channels import service as channels
from ebank.channels.checks import (
    ABOVE_HABIT,
    REPEAT_TO_NEW_PAYEE,
    ExemptionContext,
    PastPayment,
    exemption_for,
    payment_warnings,
)
from ebank.channels.limits import Limits, breached_limit, limits_for
from ebank.channels.models import ChannelEnrolment, Payment, Recall
from ebank.common.errors import Conflict, NotFound, Unprocessable
from ebank.common.i18n import N_, current_locale
from ebank.common.masking import mask_card_number, mask_name
from ebank.common.money import amount_in_chinese_capitals
from ebank.ledger import clearing
from ebank.ledger import service as ledger
from ebank.ledger.accounts import Product
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE
from ebank.ledger.engine import AfterPost
from ebank.ledger.models import Account
from ebank.ledger.posting import TransferKind, TransferRequest, TransferResult
from ebank.ledger.service import SYSTEM_ID_PREFIX, TransferRefused
from ebank.notify import service as notify
from ebank.risk.assessment import Decision, EventKind, Outcome, RiskEvent
from ebank.runtime import Runtime

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
LIVE = ("executing", "executed", "held")  # count against limits and habits
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
HOLD_SECONDS = 7 * 24 * 3600
LIMIT_LABELS = {
    "per_transaction": N_("per-transaction"),
    "daily": N_("daily"),
    "yearly": N_("yearly"),
}
STATE_LABELS = {
    "draft": N_("waiting for confirmation"),
    "awaiting_auth": N_("waiting for verification"),
    "executing": N_("being executed"),
    "executed": N_("executed"),
    "held": N_("held for a security check"),
    "blocked": N_("blocked"),
    "failed": N_("failed"),
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


# --- reading -----------------------------------------------------------------------------------


def _payment(session: Session, customer_id: int, payment_id: str, *, lock: bool = False) -> Payment:
    query = select(Payment).where(Payment.id == payment_id)
    row = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None or row.customer_id != customer_id:
        raise NotFound("payment_not_found", "No such payment.", field="payment_id")
    return row


def _view(
    session: Session,
    rt: Runtime,
    row: Payment,
    challenge: IssuedChallenge | None = None,
    *,
    from_account: str | None = None,
) -> PaymentView:
    if from_account is None:
        from_account = session.execute(
            select(Account.number_masked).where(Account.id == row.from_account_id)
        ).scalar()
    recall = (  # only an executed payment can be recalled
        session.execute(select(Recall.status).where(Recall.payment_id == row.id)).scalar()
        if row.status == "executed"
        else None
    )
    payee_name = rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE)
    warnings = [w for w in row.warnings.split(",") if w]
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
            from_account=from_account or "",
            payee_name=payee_name,
            payee_account=row.payee_account_masked,
            payee_bank=row.payee_bank,
            payee_verified=row.payee_verified,
            in_bank=row.payee_account_id is not None,
        ),
        warnings=warnings,
        needs_confirmation=row.status == "draft",
        exemption=row.exemption,
        risk_outcome=row.risk_outcome,
        strength=row.strength,
        factors=sorted((row.factors or "").split(",")) if row.factors else [],
        transfer_id=row.transfer_id,
        failure_code=row.failure_code,
        created_at=row.created_at,
        executed_at=row.executed_at,
        challenge=challenge,
        recall_status=recall,
    )


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


# --- draft -------------------------------------------------------------------------------------


def _body_digest(data: PaymentInput) -> str:
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


def create_payment(
    rt: Runtime, caller: auth.CustomerSession, data: PaymentInput, *, method: Factor | None
) -> PaymentView:
    """Draft a payment. Without warnings to confirm, it is confirmed at once and the challenge
    for ``method`` is issued (or an exemption applies). One transaction; the same request id
    again returns the payment as it is."""
    if not REQUEST_ID.match(data.request_id or ""):
        raise Unprocessable(
            "invalid_request_id",
            "A request id is 8-64 letters, digits or . _ : -",
            field="request_id",
        )
    _check_amount(data.amount)
    purpose = ledger.clean_purpose(data.purpose)
    with rt.db.write() as session:
        existing = session.execute(
            select(Payment).where(
                Payment.customer_id == caller.customer_id, Payment.request_id == data.request_id
            )
        ).scalar_one_or_none()
        if existing is not None:
            return _repeat(session, rt, existing, data)
        payee = _payee(session, rt, caller.customer_id, data)
        source = channels.signed_account(
            session, caller.customer_id, caller.channel, data.from_account_id, "transfer"
        )
        if payee.account_id == source.id:
            raise Unprocessable(
                "same_account",
                "Choose a payee account other than the paying one.",
                field="payee_account",
            )
        row = _new_payment(rt, caller, data, source, purpose)
        _set_payee(rt, row, payee)
        _refresh_warnings(session, rt, row)
        session.add(row)
        own_account = payee.holder_id == caller.customer_id
        issued = (
            None
            if row.warnings
            else _confirm(
                session, rt, caller, row, method=method, source=source, own_account=own_account
            )
        )
        session.flush()
        view = _view(session, rt, row, issued, from_account=source.number_masked)
    _deliver(rt, issued)
    return view


def _new_payment(
    rt: Runtime,
    caller: auth.CustomerSession,
    data: PaymentInput,
    source: Account,
    purpose: str | None,
) -> Payment:
    now = rt.clock.now()
    return Payment(
        id=f"p{secrets.token_hex(12)}",
        request_id=data.request_id,
        customer_id=caller.customer_id,
        channel=caller.channel,
        session_id=caller.session_id,
        device_id=caller.device_id,
        from_account_id=source.id,
        payee_id=data.payee_id,
        amount=data.amount,
        currency=source.currency,
        purpose=purpose,
        status="draft",
        version=1,
        warnings_acknowledged=False,
        failure_code=None,
        created_at=now,
        updated_at=now,
        body_hash=_body_digest(data),
    )


def _repeat(session: Session, rt: Runtime, row: Payment, data: PaymentInput) -> PaymentView:
    """The same request again returns the payment as it is; another body under the id is refused."""
    if row.body_hash != _body_digest(data):
        raise Conflict(
            "id_already_used", "This request id was used for another payment.", field="request_id"
        )
    return _view(session, rt, row)


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise Unprocessable("invalid_amount", "The amount must be above zero.", field="amount")


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


def _set_payee(rt: Runtime, row: Payment, payee: channels.ResolvedPayee) -> None:
    row.payee_name_enc = rt.cipher.encrypt(payee.name, purpose=PAYEE_NAME_PURPOSE)
    row.payee_name_masked = mask_name(payee.name)
    row.payee_account_enc = rt.cipher.encrypt(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
    row.payee_hash = rt.cipher.lookup_hash(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
    row.payee_account_masked = mask_card_number(payee.account_number)
    row.payee_bank = payee.bank_code
    row.payee_account_id = payee.account_id
    row.payee_verified = payee.verified


def _refresh_warnings(session: Session, rt: Runtime, row: Payment) -> None:
    past = session.execute(
        select(Payment.amount, Payment.created_at).where(
            Payment.customer_id == row.customer_id,
            Payment.payee_hash == row.payee_hash,
            Payment.status.in_(LIVE),
            Payment.id != (row.id or ""),
        )
    ).all()
    history = [PastPayment(amount, at) for amount, at in past]
    first = min((p.at for p in history), default=None)
    warnings = payment_warnings(
        rt.policy, amount=row.amount, now=rt.clock.now(), history=history, payee_first_paid=first
    )
    row.warnings = ",".join(warnings)
    row.warnings_acknowledged = False


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
        _check_amount(amount)
    with rt.db.write() as session:
        resolved = _payee(session, rt, caller.customer_id, payee) if payee is not None else None
        row = _payment(session, caller.customer_id, payment_id, lock=True)
        _require_status(row, "draft", "awaiting_auth")
        if amount is not None:
            row.amount = amount
        if purpose is not None:
            row.purpose = ledger.clean_purpose(purpose)
        if resolved is not None:
            _set_payee(rt, row, resolved)
        row.version += 1
        row.status, row.exemption, row.risk_outcome = "draft", None, None
        row.updated_at = rt.clock.now()
        _refresh_warnings(session, rt, row)
        return _view(session, rt, row)


def _require_status(row: Payment, *allowed: str) -> None:
    if row.status not in allowed:
        raise _state_error(row)


# --- confirm and challenge ---------------------------------------------------------------------


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
    with rt.db.write() as session:
        row = _payment(session, caller.customer_id, payment_id, lock=True)
        _require_status(row, "draft", "awaiting_auth")
        if row.warnings and not (acknowledge_warnings or row.warnings_acknowledged):
            raise Conflict(
                "confirmation_required",
                "Check the warnings and confirm the payment again.",
                field="acknowledge_warnings",
            )
        row.warnings_acknowledged = bool(row.warnings)
        source = session.get(Account, row.from_account_id)
        assert source is not None
        holder = (
            session.execute(
                select(Account.customer_id).where(Account.id == row.payee_account_id)
            ).scalar()
            if row.payee_account_id is not None
            else None
        )
        issued = _confirm(
            session,
            rt,
            caller,
            row,
            method=method,
            source=source,
            own_account=holder == caller.customer_id,
        )
        view = _view(session, rt, row, issued, from_account=source.number_masked)
    _deliver(rt, issued)
    return view


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


def _confirm(
    session: Session,
    rt: Runtime,
    caller: auth.CustomerSession,
    row: Payment,
    *,
    method: Factor | None,
    source: Account,
    own_account: bool,
) -> IssuedChallenge | None:
    decision = _assess(rt, caller, row, ledger.account_view(source).available)
    row.risk_outcome = decision.outcome.value
    row.risk_reasons = json.dumps([r.code for r in decision.reasons])
    row.status, row.updated_at = "awaiting_auth", rt.clock.now()
    row.exemption = _exemption(session, rt, row, decision, own_account=own_account)
    if row.exemption is not None:
        return None
    if method is None:
        raise Unprocessable("method_required", "Choose how to verify this payment.", field="method")
    return challenges.issue(
        session,
        rt,
        customer_id=row.customer_id,
        purpose="payment",
        subject=row.id,
        method=method,
        linked=linked_fields(rt, row),
        sms=("otp_payment", _payment_sms(rt, row)) if method is Factor.SMS else None,
    )


def _payment_sms(rt: Runtime, row: Payment) -> dict[str, Any]:
    return {
        "amount": row.amount,
        "currency": row.currency,
        "payee": rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
        "payee_account": row.payee_account_masked,
        "bank": row.payee_bank,
    }


def _assess(rt: Runtime, caller: auth.CustomerSession, row: Payment, balance: int) -> Decision:
    return rt.risk.assess(
        RiskEvent(
            kind=EventKind.PAYMENT,
            customer_id=row.customer_id,
            at=rt.clock.now(),
            channel=row.channel,
            account_id=row.from_account_id,
            amount=row.amount,
            currency=row.currency,
            balance_before=balance,
            payee_key=row.payee_hash,
            payee_account_id=row.payee_account_id,
            payee_in_bank=row.payee_account_id is not None,
            device_id=caller.device_id,
            ip=caller.ip,
            details={
                "payment": row.id,
                "warnings": row.warnings,
                "payee_verified": row.payee_verified,
            },
        )
    )


def _exemption(
    session: Session, rt: Runtime, row: Payment, decision: Decision, *, own_account: bool
) -> str | None:
    low_value = rt.policy.channels.exemptions.low_value
    counts = (0, 0)
    if low_value is not None and row.amount <= (rt.policy.to_minor(low_value.single) or 0):
        # only a low-value exemption depends on what was exempted before
        counted = session.execute(
            select(CustomerCredential.exempt_count, CustomerCredential.exempt_amount).where(
                CustomerCredential.customer_id == row.customer_id
            )
        ).first()
        counts = (counted[0], counted[1]) if counted is not None else counts
    context = ExemptionContext(
        amount=row.amount,
        own_account=own_account,
        trusted_payee=False,
        exempt_count=counts[0],
        exempt_amount=counts[1],
        risk=decision.outcome,
        warnings=[w for w in row.warnings.split(",") if w],
    )
    return exemption_for(rt.policy, context)


def _deliver(rt: Runtime, issued: IssuedChallenge | None) -> None:
    if issued is not None and issued.notification_id is not None:
        rt.courier.send_now([issued.notification_id])


# --- authorise and execute ---------------------------------------------------------------------


@dataclass(frozen=True)
class Authorisation:
    challenge_id: str | None = None
    proof: Proof = field(default_factory=Proof)
    transaction_password: str | None = None


def authorise_payment(
    rt: Runtime, caller: auth.CustomerSession, payment_id: str, authorisation: Authorisation
) -> PaymentView:
    """Verify the challenge (and the transaction password, if given) against the payment as it is
    now, check the limits for the strength used, and execute. Repeating the call after execution
    returns the outcome."""
    password_ok = _transaction_password_ok(rt, caller.customer_id, authorisation)
    with rt.db.write() as session:
        outcome = _authorise(
            session, rt, caller, payment_id, authorisation, password_ok=password_ok
        )
        view = _view(session, rt, outcome) if isinstance(outcome, Payment) else None
    if isinstance(outcome, Exception):
        rt.courier.wake()  # a lock may have been notified
        raise outcome
    if outcome is None or view is None:
        return get_payment(rt, caller.customer_id, payment_id)
    return _execute(rt, caller, outcome, view)


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


FINAL_STATES = ("executing", "executed", "held", "blocked", "failed")


def _authorise(
    session: Session,
    rt: Runtime,
    caller: auth.CustomerSession,
    payment_id: str,
    authorisation: Authorisation,
    *,
    password_ok: bool,
) -> Payment | Exception | None:
    """The payment, authorised and about to execute; the error to raise after the commit (which
    keeps a counted failure); or None when it was authorised before."""
    credential = auth.credential_for_update(session, caller.customer_id)
    row = _payment(session, caller.customer_id, payment_id, lock=True)
    if row.status != "awaiting_auth":
        return None if row.status in FINAL_STATES else _state_error(row)
    if credential.locked_at is not None:
        return auth.customer_locked()
    factors = _verify_factors(session, rt, row, authorisation, password_ok=password_ok)
    if factors is None:
        return auth.count_failure(session, rt, credential)
    strength = strength_of(factors)
    refusal = _check_limits(session, rt, row, strength)
    if refusal is not None:
        return refusal
    credential.failed_attempts = 0  # written only when it changes, like the counters below
    if row.exemption is not None:
        credential.exempt_count += 1
        credential.exempt_amount += row.amount
    elif is_strong(factors):
        credential.exempt_count, credential.exempt_amount = 0, 0
    row.strength, row.factors = strength.value, factors_text(factors)
    row.status, row.transfer_id, row.updated_at = "executing", row.id, rt.clock.now()
    return row


def _state_error(row: Payment) -> Conflict:
    return Conflict(
        "payment_state",
        "This payment is {state_msgid}: that step does not apply.",
        field="payment_id",
        state=row.status,
        state_msgid=STATE_LABELS[row.status],
    )


def _verify_factors(
    session: Session, rt: Runtime, row: Payment, authorisation: Authorisation, *, password_ok: bool
) -> frozenset[Factor] | None:
    """The factors proven, or None if any element given was wrong (never saying which)."""
    factors: set[Factor] = set()
    if authorisation.transaction_password is not None:
        if not password_ok:
            return None
        factors.add(Factor.TRANSACTION_PASSWORD)
    if row.exemption is None:
        if not authorisation.challenge_id:
            raise Unprocessable(
                "challenge_required", "Verify the payment first.", field="challenge_id"
            )
        factor = challenges.verify(
            session,
            rt,
            challenge_id=authorisation.challenge_id,
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


def _check_limits(
    session: Session, rt: Runtime, row: Payment, strength: Strength
) -> Exception | None:
    enrolment = session.execute(
        select(ChannelEnrolment)
        .where(
            ChannelEnrolment.customer_id == row.customer_id, ChannelEnrolment.channel == row.channel
        )
        .with_for_update()
    ).scalar_one()
    contract = Limits(
        enrolment.per_transaction_limit, enrolment.daily_limit, enrolment.yearly_limit
    )
    # Between the customer's own accounts only the contract applies (no payee to protect).
    own = row.exemption == "own_accounts"
    limits = contract if own else limits_for(rt.policy, strength, contract)
    today, year = _used(session, rt, row)
    breached = breached_limit(limits, amount=row.amount, used_today=today, used_this_year=year)
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


def _used(session: Session, rt: Runtime, row: Payment) -> tuple[int, int]:
    """What this channel has already paid out today and this year (local time), in one query."""
    local = rt.clock.now().astimezone(rt.policy.zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    year_start = day_start.replace(month=1, day=1)
    today, year = session.execute(
        select(
            func.coalesce(
                func.sum(case((Payment.created_at >= day_start, Payment.amount), else_=0)), 0
            ),
            func.coalesce(func.sum(Payment.amount), 0),
        ).where(
            Payment.customer_id == row.customer_id,
            Payment.channel == row.channel,
            Payment.status.in_(LIVE),
            Payment.created_at >= year_start,
        )
    ).one()
    return int(today), int(year)


def _execute(
    rt: Runtime, caller: auth.CustomerSession, row: Payment, view: PaymentView
) -> PaymentView:
    """Post the payment (or hold it, or block it). Its outcome, notification and audit record
    commit with the posting, in the ledger's batch."""
    outcome = Outcome(row.risk_outcome or Outcome.ALLOW.value)
    hold = outcome is Outcome.HOLD
    finished: list[PaymentView] = []
    locale = current_locale.get()  # the ledger's thread does not share the request's context

    def record(conn: Connection, results: list[TransferResult]) -> list[AuditEntry]:
        status, code = _status_after(results[0] if results else None, hold=hold)
        now = rt.clock.now()
        finished[:] = [replace(view, status=status, failure_code=code, executed_at=now)]
        return _record_outcome(conn, rt, caller, row, finished[0], locale=locale)

    failure: TransferRefused | None = None
    if outcome is Outcome.BLOCK:
        with rt.db.write_connection() as conn:
            audit.append(conn, record(conn, []), rt.clock.now())
    else:
        try:
            _post(rt, caller, row, hold=hold, after_post=record)
        except TransferRefused as exc:
            failure = exc
    rt.courier.wake()
    if failure is not None:
        raise failure
    return finished[0]


def _status_after(result: TransferResult | None, *, hold: bool) -> tuple[str, str | None]:
    if result is None:
        return "blocked", "blocked"
    if not result.ok:
        return "failed", result.code.value
    return ("held" if hold else "executed"), None


def _record_outcome(
    conn: Connection,
    rt: Runtime,
    caller: auth.CustomerSession,
    row: Payment,
    done: PaymentView,
    *,
    locale: str,
) -> list[AuditEntry]:
    conn.execute(
        update(Payment)
        .where(Payment.id == row.id)
        .values(
            status=done.status,
            failure_code=done.failure_code,
            executed_at=done.executed_at,
            updated_at=done.executed_at,
        )
    )
    _notify_outcome(conn, rt, row, done, locale=locale)
    return [
        AuditEntry(
            caller.actor,
            f"payment.{done.status}",
            "payment",
            row.id,
            after={
                "amount": row.amount,
                "strength": row.strength,
                "factors": row.factors,
                "exemption": row.exemption,
                "risk": row.risk_outcome,
                "device": caller.device_id,
                "failure": done.failure_code,
            },
        )
    ]


def _post(
    rt: Runtime,
    caller: auth.CustomerSession,
    row: Payment,
    *,
    hold: bool,
    after_post: AfterPost,
) -> TransferResult:
    assert row.transfer_id is not None
    if row.payee_account_id is None and not hold:
        result, _queued = clearing.send_to_other_bank(
            rt,
            caller.actor,
            transfer_id=row.transfer_id,
            account_id=row.from_account_id,
            amount=row.amount,
            currency=row.currency,
            payee_bank=row.payee_bank,
            payee_account=rt.cipher.decrypt(row.payee_account_enc, purpose=PAYEE_ACCOUNT_PURPOSE),
            payee_name=rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
            purpose=row.purpose,
            channel=row.channel,
            after_post=after_post,
        )
        return result
    credit = row.payee_account_id or ledger.internal_account_id(rt, Product.CLEARING, row.currency)
    request = TransferRequest(
        id=row.transfer_id,
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
    )
    return ledger.post_one(rt, caller.actor, request, after_post=after_post)


def _notify_outcome(
    conn: Connection, rt: Runtime, row: Payment, done: PaymentView, *, locale: str
) -> None:
    params: dict[str, Any] = {
        "amount": row.amount,
        "currency": row.currency,
        "payee": row.payee_name_masked,
        "payee_account": row.payee_account_masked,
        "from_account": done.confirmation.from_account,
    }
    if done.status == "failed":
        params["reason_msgid"] = FAILURE_MESSAGES.get(done.failure_code or "", FAILURE_DEFAULT)
    kind = {
        "executed": "payment_executed",
        "held": "payment_held",
        "blocked": "payment_blocked",
    }.get(done.status, "payment_failed")
    notify.queue(conn, rt, row.customer_id, kind, locale=locale, **params)


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


def _hold_at_payee(
    rt: Runtime, caller: auth.CustomerSession, row: Payment
) -> tuple[str, int, str | None]:
    assert row.payee_account_id is not None
    available = ledger.get_account(rt, row.payee_account_id).available
    amount = min(row.amount, max(available, 0))
    if amount <= 0:
        return "requested", 0, None
    hold_id = f"{SYSTEM_ID_PREFIX}recall:{row.id}"
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
