"""Drafting and confirming payments, many at once: the batch handlers of the payment desk
(:class:`ebank.channels.desk.PaymentDesk`, :mod:`ebank.batching`).

A batch reads what all its payments need in a few statements — earlier requests under the same
ids, the payees, the signed source accounts, each customer's history with each payee, their
tools and exemption counters — then decides payment by payment (warnings to confirm, the risk
hook, an exemption or the challenge), and writes the new payments and challenges with one insert
each, in one transaction. A payment that is refused writes nothing: every check comes before the
first write.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ebank.auth import challenges
from ebank.auth import service as auth
from ebank.auth.challenges import IssuedChallenge
from ebank.auth.models import AuthChallenge, CustomerCredential
from ebank.auth.strength import Factor
from ebank.channels import service as channels
from ebank.channels.checks import ExemptionContext, exemption_for
from ebank.channels.models import Payment
from ebank.channels.payments import (
    UNFINISHED_STATES,
    ConfirmRequest,
    DraftRequest,
    PayeeHabit,
    PaymentInput,
    PaymentView,
    body_digest,
    is_stale,
    linked_fields,
    not_made_note,
    payee_habits,
    payment_not_found,
    set_payee,
    set_warnings,
    state_error,
    view_of,
)
from ebank.common.errors import Conflict, DomainError, Unprocessable
from ebank.db import DirectRead, NewRows, among, to_json
from ebank.ledger import service as ledger
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE
from ebank.ledger.models import Account
from ebank.notify import service as notify
from ebank.risk.assessment import Decision, EventKind, RiskEvent
from ebank.risk.live import ip_key
from ebank.runtime import Runtime

Outcome = PaymentView | DomainError
R = TypeVar("R")

_EXISTING = DirectRead(
    select(Payment.id, Payment.customer_id, Payment.request_id).where(
        among(Payment.request_id, "request_ids"), among(Payment.customer_id, "customer_ids")
    )
)
_BY_ID = select(Payment).where(among(Payment.id, "ids"))
_EXEMPT_COUNTERS = DirectRead(
    select(
        CustomerCredential.customer_id,
        CustomerCredential.exempt_count,
        CustomerCredential.exempt_amount,
    ).where(among(CustomerCredential.customer_id, "ids"))
)
_LOCKED = (
    select(Payment)
    .where(among(Payment.id, "ids"))
    .order_by(Payment.id)
    .with_for_update(key_share=True)
)
_ACCOUNTS = select(Account).where(among(Account.id, "ids"))


# --- drafts --------------------------------------------------------------------------------------


def draft_payments(rt: Runtime, requests: list[DraftRequest]) -> list[Outcome]:
    """Draft these payments (see :func:`ebank.channels.payments.create_payment`)."""
    with rt.db.write() as session:
        known = _DraftsContext.read(session, rt, requests)
        outcomes = one_by_one(requests, lambda request: _draft(session, rt, known, request))
        known.new_rows.write(session.connection())
    _send_codes(rt, outcomes)
    return outcomes


def one_by_one(requests: Sequence[R], decide: Callable[[R], PaymentView]) -> list[Outcome]:
    """Each request's view, or the refusal it raised (every check comes before the first write,
    so a refusal has written nothing)."""
    outcomes: list[Outcome] = []
    for request in requests:
        try:
            outcomes.append(decide(request))
        except DomainError as exc:
            outcomes.append(exc)
    return outcomes


@dataclass
class _DraftsContext:
    """What the batch's drafts need, read for all of them at once."""

    existing: dict[tuple[int, str], Payment]
    saved_payees: dict[int, channels.ResolvedPayee]
    payees: dict[channels.PayeeDetails, channels.ResolvedPayee | Unprocessable]
    sources: Mapping[channels.SignedKey, channels.SignedSource | DomainError]
    habits: Mapping[tuple[int, str], PayeeHabit]
    customers: _CustomersContext
    created: dict[tuple[int, str], tuple[Payment, str]] = field(default_factory=dict)
    new_rows: NewRows = field(default_factory=NewRows)
    challenges: list[AuthChallenge] = field(default_factory=list)  # issued, not yet written

    @classmethod
    def read(cls, session: Session, rt: Runtime, requests: list[DraftRequest]) -> _DraftsContext:
        customer_ids = sorted({r.caller.customer_id for r in requests})
        typed = list(dict.fromkeys(r.payee for r in requests if r.payee is not None))
        payees = dict(zip(typed, channels.resolve_payees_in(session, rt, typed), strict=True))
        saved_ids = [r.data.payee_id for r in requests if r.data.payee_id is not None]
        saved = channels.saved_payees_in(session, rt, None, saved_ids) if saved_ids else {}
        keys = [(r.caller.customer_id, r.caller.channel, r.data.from_account_id) for r in requests]
        return cls(
            existing=_existing(session, requests),
            saved_payees=saved,
            payees=payees,
            sources=channels.signed_accounts_in(session, keys, "transfer"),
            habits=payee_habits(session, rt, _habit_pairs(rt, requests, payees, saved)),
            customers=_CustomersContext.read(session, customer_ids),
        )

    def add_challenge(self, row: AuthChallenge) -> None:
        """A challenge the batch issued: written with the batch's new rows; until then the next
        challenges of the batch count it toward the customer's limits on SMS codes."""
        self.challenges.append(row)
        self.new_rows.add(row)


def _habit_pairs(
    rt: Runtime,
    requests: list[DraftRequest],
    payees: Mapping[channels.PayeeDetails, channels.ResolvedPayee | Unprocessable],
    saved: Mapping[int, channels.ResolvedPayee],
) -> set[tuple[int, str]]:
    """Each draft's customer with the keyed hash of its payee's account: whose habits to read."""
    pairs = set()
    for r in requests:
        payee = payees.get(r.payee) if r.payee is not None else saved.get(r.data.payee_id or 0)
        if isinstance(payee, channels.ResolvedPayee):
            account = rt.cipher.lookup_hash(payee.account_number, purpose=PAYEE_ACCOUNT_PURPOSE)
            pairs.add((r.caller.customer_id, account))
    return pairs


def _existing(session: Session, requests: list[DraftRequest]) -> dict[tuple[int, str], Payment]:
    """Payments made earlier under the batch's request ids (usually none: the full rows are
    read only for those)."""
    wanted = {(r.caller.customer_id, r.data.request_id) for r in requests}
    found = _EXISTING.rows(
        session.connection(),
        {
            "request_ids": sorted({request_id for _customer, request_id in wanted}),
            "customer_ids": sorted({customer for customer, _request_id in wanted}),
        },
    )
    ids = [row.id for row in found if (row.customer_id, row.request_id) in wanted]
    if not ids:
        return {}
    rows = session.execute(_BY_ID, {"ids": ids}).scalars()
    return {(row.customer_id, row.request_id): row for row in rows}


@dataclass
class _CustomersContext:
    """Per customer: the active tools, and the exemption counters since the last full
    authentication."""

    tools: dict[int, list[challenges.ActiveTool]]
    exempt: dict[int, tuple[int, int]]

    @classmethod
    def read(cls, session: Session, customer_ids: list[int]) -> _CustomersContext:
        counters = _EXEMPT_COUNTERS.rows(session.connection(), {"ids": customer_ids})
        return cls(
            tools=challenges.active_tools(session, customer_ids),
            exempt={row.customer_id: (row.exempt_count, row.exempt_amount) for row in counters},
        )


def _draft(
    session: Session, rt: Runtime, known: _DraftsContext, request: DraftRequest
) -> PaymentView:
    caller, data = request.caller, request.data
    key = (caller.customer_id, data.request_id)
    earlier = known.existing.get(key) or (known.created[key][0] if key in known.created else None)
    if earlier is not None:
        return _repeat(session, rt, known, earlier, data)
    payee = _payee_of(known, request)
    source = known.sources[caller.customer_id, caller.channel, data.from_account_id]
    if isinstance(source, DomainError):
        raise source
    if payee.account_id == source.id:
        raise Unprocessable(
            "same_account",
            "Choose a payee account other than the paying one.",
            field="payee_account",
        )
    row = _new_payment(rt, request, source)
    set_payee(rt, row, payee)
    set_warnings(rt, row, known.habits.get((caller.customer_id, row.payee_hash), PayeeHabit()))
    issued = (
        None
        if row.warnings
        else confirm(
            session,
            rt,
            caller,
            row,
            method=request.method,
            available=source.available,
            own_account=payee.holder_id == caller.customer_id,
            customers=known.customers,
            locale=request.locale,
            add=known.add_challenge,
            unwritten=known.challenges,
        )
    )
    known.new_rows.add(row)
    known.created[key] = (row, source.number_masked)
    return view_of(rt, row, from_account=source.number_masked, challenge=issued)


def _payee_of(known: _DraftsContext, request: DraftRequest) -> channels.ResolvedPayee:
    if request.payee is not None:
        found = known.payees[request.payee]
        if isinstance(found, DomainError):
            raise found
        return found
    saved = known.saved_payees.get(request.data.payee_id or 0)
    if saved is None or saved.owner_id != request.caller.customer_id:
        raise channels.payee_not_found()
    return saved


def _repeat(
    session: Session, rt: Runtime, known: _DraftsContext, row: Payment, data: PaymentInput
) -> PaymentView:
    """The same request again returns the payment as it is; another body under the id is refused."""
    if row.body_hash != body_digest(data):
        raise Conflict(
            "id_already_used", "This request id was used for another payment.", field="request_id"
        )
    created = known.created.get((row.customer_id, row.request_id))
    masked = (
        created[1]
        if created is not None
        else session.execute(
            select(Account.number_masked).where(Account.id == row.from_account_id)
        ).scalar()
    )
    return view_of(rt, row, from_account=masked or "")


def _new_payment(rt: Runtime, request: DraftRequest, source: channels.SignedSource) -> Payment:
    now = rt.clock.now()
    caller, data = request.caller, request.data
    return Payment(
        id=f"p{secrets.token_hex(12)}",
        request_id=data.request_id,
        customer_id=caller.customer_id,
        channel=caller.channel,
        session_id=caller.session_id,
        device_id=caller.device_id,
        ip_hash=ip_key(rt, caller.ip),
        from_account_id=source.id,
        payee_id=data.payee_id,
        amount=data.amount,
        currency=source.currency,
        purpose=request.purpose,
        status="draft",
        version=1,
        warnings_acknowledged=False,
        failure_code=None,
        created_at=now,
        updated_at=now,
        body_hash=body_digest(data),
    )


def _send_codes(rt: Runtime, outcomes: Sequence[Outcome]) -> None:
    """One-time codes go out before the answer: the customer is waiting for them."""
    ids = [
        view.challenge.notification_id
        for view in outcomes
        if isinstance(view, PaymentView)
        and view.challenge is not None
        and view.challenge.notification_id is not None
    ]
    if ids:
        rt.courier.send_now(ids)


# --- confirmations ------------------------------------------------------------------------------


def confirm_payments(rt: Runtime, requests: list[ConfirmRequest]) -> list[Outcome]:
    """Confirm these payments (see :func:`ebank.channels.payments.confirm_payment`)."""
    with rt.db.write() as session:
        wanted = sorted({r.payment_id for r in requests})
        rows = {row.id: row for row in session.execute(_LOCKED, {"ids": wanted}).scalars()}
        accounts = _accounts(session, rows.values())
        customers = _CustomersContext.read(
            session, sorted({r.caller.customer_id for r in requests})
        )
        outcomes = one_by_one(
            requests,
            lambda request: _confirm_one(
                session, rt, request, rows=rows, accounts=accounts, customers=customers
            ),
        )
    _send_codes(rt, outcomes)
    return outcomes


def _accounts(session: Session, payments: Iterable[Payment]) -> dict[int, Account]:
    """The paying accounts and the in-bank payee accounts of these payments (one query)."""
    payments = list(payments)
    ids = {p.from_account_id for p in payments} | {
        p.payee_account_id for p in payments if p.payee_account_id is not None
    }
    found = session.execute(_ACCOUNTS, {"ids": sorted(ids)}).scalars()
    return {account.id: account for account in found}


def _confirm_one(
    session: Session,
    rt: Runtime,
    request: ConfirmRequest,
    *,
    rows: dict[str, Payment],
    accounts: dict[int, Account],
    customers: _CustomersContext,
) -> PaymentView:
    caller = request.caller
    row = rows.get(request.payment_id)
    if row is None or row.customer_id != caller.customer_id:
        raise payment_not_found()
    now = rt.clock.now()
    if is_stale(row, now, rt.policy.channels.draft_ttl_minutes):
        row.status = "expired"  # committed with the batch, refused below
        notify.queue_many(session.connection(), rt, [not_made_note(row, "expired", request.locale)])
    if row.status not in UNFINISHED_STATES:
        raise state_error(row)
    if row.warnings and not (request.acknowledge_warnings or row.warnings_acknowledged):
        raise Conflict(
            "confirmation_required",
            "Check the warnings and confirm the payment again.",
            field="acknowledge_warnings",
        )
    source = accounts[row.from_account_id]
    payee_account = accounts.get(row.payee_account_id or 0)
    issued = confirm(
        session,
        rt,
        caller,
        row,
        method=request.method,
        available=ledger.account_view(source).available,
        own_account=payee_account is not None and payee_account.customer_id == caller.customer_id,
        customers=customers,
        locale=request.locale,
    )
    row.warnings_acknowledged = bool(row.warnings)
    return view_of(rt, row, from_account=source.number_masked, challenge=issued)


# --- the confirmation itself --------------------------------------------------------------------


def confirm(
    session: Session,
    rt: Runtime,
    caller: auth.CustomerSession,
    row: Payment,
    *,
    method: Factor | None,
    available: int,
    own_account: bool,
    customers: _CustomersContext,
    locale: str,
    add: Callable[[AuthChallenge], None] | None = None,
    unwritten: Sequence[AuthChallenge] = (),
) -> IssuedChallenge | None:
    """Show the payment to the risk hook, decide whether an exemption applies, and issue the
    challenge otherwise (``add``, ``unwritten``: see :func:`ebank.auth.challenges.issue`).
    ``row`` changes only once all of that succeeded."""
    decision = _assess(rt, caller, row, available)
    exemption = _exemption(rt, row, decision, own_account, customers)
    issued = None
    if exemption is None:
        if method is None:
            raise Unprocessable(
                "method_required", "Choose how to verify this payment.", field="method"
            )
        issued = challenges.issue(
            session,
            rt,
            customer_id=row.customer_id,
            purpose="payment",
            subject=row.id,
            method=method,
            linked=linked_fields(rt, row),
            sms=("otp_payment", _payment_sms(rt, row)) if method is Factor.SMS else None,
            tools=customers.tools.get(row.customer_id, []),
            locale=locale,
            add=add,
            unwritten=unwritten,
        )
    row.risk_outcome = decision.outcome.value
    row.risk_reasons = json.dumps([r.code for r in decision.reasons])
    row.risk_score = decision.score
    row.risk_evidence = None if decision.evidence is None else to_json(decision.evidence)
    row.status, row.updated_at = "awaiting_auth", rt.clock.now()
    row.exemption = exemption
    return issued


def _exemption(
    rt: Runtime,
    row: Payment,
    decision: Decision,
    own_account: bool,
    customers: _CustomersContext,
) -> str | None:
    count, amount = customers.exempt.get(row.customer_id, (0, 0))
    context = ExemptionContext(
        amount=row.amount,
        own_account=own_account,
        trusted_payee=False,
        exempt_count=count,
        exempt_amount=amount,
        risk=decision.outcome,
        warnings=[w for w in row.warnings.split(",") if w],
    )
    return exemption_for(rt.policy, context)


def _payment_sms(rt: Runtime, row: Payment) -> dict[str, object]:
    return {
        "amount": row.amount,
        "currency": row.currency,
        "payee": rt.cipher.decrypt(row.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
        "payee_account": row.payee_account_masked,
        "bank": row.payee_bank,
    }


def _assess(rt: Runtime, caller: auth.CustomerSession, row: Payment, balance: int) -> Decision:
    row.risk_assessed_at = rt.clock.now()  # the moment the event log replays it at
    return rt.risk.assess(
        RiskEvent(
            kind=EventKind.PAYMENT,
            customer_id=row.customer_id,
            at=row.risk_assessed_at,
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
