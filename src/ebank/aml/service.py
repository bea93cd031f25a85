"""The AML officer's cases: the queue, a case with everything needed to decide it (alerts and why,
the transactions, the fund-flow graph, the customer's profile and history, notes, reports), and
the decisions — notes, dismissal with a reason, suspending the customer's e-banking pending
review and lifting it. Suspicious and large-value reports are in :mod:`ebank.aml.reporting`.

The customer is never told why a channel is suspended (tipping off is forbidden): the
suspension's reason on the channel is neutral; the officer's reason is in the case and the audit
trail.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ebank.aml.graph import FlowEdge, FlowNode, GraphWords, render_fund_flow
from ebank.aml.models import AmlAlert, AmlCase, AmlNote, LargeValueReport, SuspiciousReport
from ebank.aml.reasons import explain, typology_label
from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.channels.models import ChannelEnrolment
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, NotFound
from ebank.common.i18n import N_, gettext
from ebank.common.validation import require_text
from ebank.customers.models import Customer
from ebank.ledger.accounts import PRODUCT_NAMES, Product
from ebank.ledger.models import Account, OutboundTransfer, Transfer
from ebank.runtime import Runtime

NOTE_PURPOSE = "aml.note"
CASE_STATUS_LABELS = {"open": N_("Open"), "dismissed": N_("Dismissed"), "reported": N_("Reported")}
SUSPENSION_NOTICE = "Suspended pending a review"  # what the channel says; never the AML reason
MAX_MOVEMENTS = 500
HISTORY_MONTHS = 6


@dataclass(frozen=True)
class CaseSummary:
    id: int
    customer_id: int
    customer_name: str  # masked
    customer_kind: str
    status: str
    score: float
    typologies: list[str]
    alerts: int
    suspended: bool
    report_status: str | None
    report_deadline: date | None
    opened_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AlertView:
    id: int
    typology: str
    typology_label: str
    reason: str
    account: str  # masked number
    first_day: date
    last_day: date
    amount: int
    currency: str
    transfer_count: int
    score: float
    facts: dict[str, Any]


@dataclass(frozen=True)
class MovementView:
    id: str
    at: datetime
    payer: str
    payee: str
    payer_key: str  # the fund-flow graph's node: an account id, or x… for another bank's payee
    payee_key: str
    amount: int
    currency: str
    purpose: str | None
    channel: str
    code: str
    direction: str  # in | out | internal: as seen from the case's customer


@dataclass(frozen=True)
class AccountLine:
    id: int
    number: str  # masked
    product: str
    status: str
    opened_at: datetime


@dataclass(frozen=True)
class ProfileView:
    customer_id: int
    name: str  # masked
    kind: str
    status: str
    risk_rating: str
    occupation: str | None
    business_scope: str | None
    registered_capital: int | None
    expected_monthly_turnover: int | None
    currency: str
    legal_representative: str | None  # masked
    mobile: str  # masked
    customer_since: datetime
    accounts: list[AccountLine]


@dataclass(frozen=True)
class MonthLine:
    month: str  # YYYY-MM
    money_in: int
    money_out: int
    movements: int


@dataclass(frozen=True)
class NoteView:
    id: int
    body: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class ReportLine:
    id: int
    kind: str  # suspicious | large_value
    reference: str
    status: str
    deadline: date
    amount: int | None
    detail: str  # criterion or typologies


@dataclass(frozen=True)
class CaseDetail:
    case: CaseSummary
    decision_reason: str | None
    decided_by: str | None
    suspended_channels: list[str]
    profile: ProfileView
    alerts: list[AlertView]
    movements: list[MovementView]
    history: list[MonthLine]
    notes: list[NoteView]
    reports: list[ReportLine]
    earlier_cases: list[CaseSummary]  # the customer's other cases, newest first
    fund_flow_svg: str


# ------------------------------------------------------------------------------- reading


def list_cases(
    rt: Runtime, *, status: str | None = "open", customer_id: int | None = None, limit: int = 50
) -> list[CaseSummary]:
    """The case queue: highest score first among open cases, newest first otherwise."""
    query = select(AmlCase)
    if status:
        query = query.where(AmlCase.status == status)
    if customer_id:
        query = query.where(AmlCase.customer_id == customer_id)
    order = (AmlCase.score.desc(), AmlCase.id) if status == "open" else (AmlCase.id.desc(),)
    with rt.db.read() as session:
        rows = session.scalars(query.order_by(*order).limit(limit)).all()
        return _summaries(session, rows)


def _summaries(session: Session, cases: Sequence[AmlCase]) -> list[CaseSummary]:
    if not cases:
        return []
    ids = [c.id for c in cases]
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({c.customer_id for c in cases}))
        )
    }
    alert_counts = dict(
        session.execute(
            select(AmlAlert.case_id, func.count())
            .where(AmlAlert.case_id.in_(ids))
            .group_by(AmlAlert.case_id)
        ).all()
    )
    reports = _latest_reports(session, ids)
    return [
        _summary(case, customers[case.customer_id], alert_counts.get(case.id, 0), reports)
        for case in cases
    ]


def _latest_reports(session: Session, case_ids: list[int]) -> dict[int, SuspiciousReport]:
    rows = session.scalars(
        select(SuspiciousReport)
        .where(SuspiciousReport.case_id.in_(case_ids))
        .order_by(SuspiciousReport.id)
    )
    return {row.case_id: row for row in rows}


def _summary(
    case: AmlCase, customer: Customer, alerts: int, reports: dict[int, SuspiciousReport]
) -> CaseSummary:
    report = reports.get(case.id)
    return CaseSummary(
        id=case.id,
        customer_id=case.customer_id,
        customer_name=customer.name_masked,
        customer_kind=customer.kind,
        status=case.status,
        score=round(case.score, 4),
        typologies=json.loads(case.typologies),
        alerts=alerts,
        suspended=is_suspended(case),
        report_status=report.status if report else None,
        report_deadline=report.deadline if report else None,
        opened_at=case.opened_at,
        updated_at=case.updated_at,
    )


@dataclass(frozen=True)
class _Evidence:
    """What a case rests on: its alerts, the customer's accounts, the transfers behind the
    alerts and the parties' labels."""

    alerts: Sequence[AmlAlert]
    accounts: list[Account]
    movements: list[MovementView]
    labels: dict[str, str]

    def graph(self, rt: Runtime, locale: str) -> str:
        return _fund_flow(
            self.movements,
            self.labels,
            {a.id for a in self.accounts},
            self.alerts,
            currency=rt.policy.currency,
            words=graph_words(locale),
        )


def _evidence(session: Session, case: AmlCase) -> _Evidence:
    alerts = session.scalars(
        select(AmlAlert).where(AmlAlert.case_id == case.id).order_by(AmlAlert.id)
    ).all()
    accounts = _customer_accounts(session, case.customer_id)
    movements, labels = _movements(session, _alert_transfer_ids(alerts), {a.id for a in accounts})
    return _Evidence(alerts, accounts, movements, labels)


def case_detail(rt: Runtime, case_id: int, locale: str) -> CaseDetail:
    with rt.db.read() as session:
        case = _case(session, case_id)
        customer = session.get_one(Customer, case.customer_id)
        evidence = _evidence(session, case)
        accounts = evidence.accounts
        return CaseDetail(
            case=_summaries(session, [case])[0],
            decision_reason=case.decision_reason,
            decided_by=case.decided_by,
            suspended_channels=json.loads(case.suspended_channels or "[]"),
            profile=_profile(rt, customer, accounts),
            alerts=[_alert_view(a, accounts, locale) for a in evidence.alerts],
            movements=evidence.movements,
            history=_history(session, rt, [a.id for a in accounts]),
            notes=_notes(session, rt, case.id),
            reports=_report_lines(session, case),
            earlier_cases=_earlier_cases(session, case),
            fund_flow_svg=evidence.graph(rt, locale),
        )


def fund_flow(rt: Runtime, case_id: int, locale: str) -> str:
    """The case's fund-flow graph alone (SVG)."""
    with rt.db.read() as session:
        return _evidence(session, _case(session, case_id)).graph(rt, locale)


def _case(session: Session, case_id: int, *, lock: bool = False) -> AmlCase:
    query = select(AmlCase).where(AmlCase.id == case_id)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None:
        raise NotFound("case_not_found", "No such case.", field="case_id")
    return case


def _customer_accounts(session: Session, customer_id: int) -> list[Account]:
    return list(
        session.scalars(
            select(Account).where(Account.customer_id == customer_id).order_by(Account.id)
        )
    )


def _alert_transfer_ids(alerts: Iterable[AmlAlert]) -> list[str]:
    seen: dict[str, None] = {}
    for alert in alerts:
        for transfer_id in json.loads(alert.transfer_ids):
            seen.setdefault(transfer_id)
    return list(seen)[:MAX_MOVEMENTS]


def _alert_view(row: AmlAlert, accounts: list[Account], locale: str) -> AlertView:
    facts = json.loads(row.facts)
    numbers = {a.id: a.number_masked for a in accounts}
    return AlertView(
        id=row.id,
        typology=row.typology,
        typology_label=typology_label(row.typology, locale),
        reason=explain(
            row.typology,
            facts,
            first_day=row.first_day,
            last_day=row.last_day,
            amount=row.amount,
            currency=row.currency,
            locale=locale,
        ),
        account=numbers.get(row.account_id, ""),
        first_day=row.first_day,
        last_day=row.last_day,
        amount=row.amount,
        currency=row.currency,
        transfer_count=row.transfer_count,
        score=round(row.score, 4),
        facts=facts,
    )


def _movements(
    session: Session, transfer_ids: list[str], own: set[int]
) -> tuple[list[MovementView], dict[str, str]]:
    """The transfers behind the alerts, oldest first, with who paid whom (masked); and the label
    of every party by graph key."""
    if not transfer_ids:
        return [], {}
    rows = session.execute(
        select(Transfer, OutboundTransfer.payee_name_masked, OutboundTransfer.payee_account_hash)
        .outerjoin(OutboundTransfer, OutboundTransfer.transfer_id == Transfer.id)
        .where(Transfer.id.in_(transfer_ids))
        .order_by(Transfer.seq)
    ).all()
    parties = _party_labels(
        session, {a for t, *_ in rows for a in (t.debit_account_id, t.credit_account_id)}
    )
    labels: dict[str, str] = {}
    views = []
    for transfer, outside_name, outside_hash in rows:
        payer_key = str(transfer.debit_account_id)
        payee_key = f"x{outside_hash[:12]}" if outside_hash else str(transfer.credit_account_id)
        labels[payer_key] = parties[transfer.debit_account_id]
        labels[payee_key] = outside_name or parties[transfer.credit_account_id]
        views.append(
            MovementView(
                id=transfer.id,
                at=transfer.created_at,
                payer=labels[payer_key],
                payee=labels[payee_key],
                payer_key=payer_key,
                payee_key=payee_key,
                amount=transfer.amount,
                currency=transfer.currency,
                purpose=transfer.purpose,
                channel=transfer.channel,
                code=transfer.code,
                direction=_direction(transfer, own),
            )
        )
    return views, labels


def _direction(transfer: Transfer, own: set[int]) -> str:
    paid, received = transfer.debit_account_id in own, transfer.credit_account_id in own
    if paid and received:
        return "internal"
    return "out" if paid else "in"


def _party_labels(session: Session, account_ids: set[int]) -> dict[int, str]:
    """ "Owner ·number" for customer accounts, the product's name for the bank's own."""
    rows = session.execute(
        select(Account.id, Account.number_masked, Account.product, Customer.name_masked)
        .outerjoin(Customer, Customer.id == Account.customer_id)
        .where(Account.id.in_(account_ids))
    ).all()
    return {
        account_id: f"{owner} ·{number[-4:]}" if owner else PRODUCT_NAMES.get(product, product)
        for account_id, number, product, owner in rows
    }


def _fund_flow(
    movements: list[MovementView],
    labels: dict[str, str],
    own: set[int],
    alerts: Sequence[AmlAlert],
    *,
    currency: str,
    words: GraphWords,
) -> str:
    flagged = {str(m) for a in alerts for m in json.loads(a.members)}
    edges: dict[tuple[str, str], list[MovementView]] = defaultdict(list)
    for m in movements:
        edges[m.payer_key, m.payee_key].append(m)
    nodes = [
        FlowNode(
            key,
            label,
            _role(key, own),
            flagged=key in flagged,
        )
        for key, label in sorted(labels.items())
    ]
    return render_fund_flow(
        nodes,
        [
            FlowEdge(
                source,
                target,
                sum(m.amount for m in ms),
                len(ms),
                min(m.at for m in ms).date(),
                max(m.at for m in ms).date(),
            )
            for (source, target), ms in sorted(edges.items())
        ],
        currency_label=currency,
        words=words,
    )


_GRAPH_WORDS = {
    "document_title": N_("Fund flow"),
    "subject": N_("this customer"),
    "counterparty": N_("counterparty"),
    "external": N_("account at another bank"),
    "flagged": N_("in a pattern"),
    "legend_note": N_(
        "Amounts in {currency} · the wider the line, the more money · ×N = N transfers"
    ),
    "edge_flow": N_("{currency} {amount} in {transfers}"),
    "money_in": N_("In: {currency} {amount} in {transfers}"),
    "money_out": N_("Out: {currency} {amount} in {transfers}"),
    "one_transfer": N_("{count} transfer"),
    "transfers": N_("{count} transfers"),
    "one_more_not_shown": N_("{count} more counterparty not shown"),
    "more_not_shown": N_("{count} more counterparties not shown"),
    "no_accounts": N_("No accounts to show"),
}


def graph_words(locale: str) -> GraphWords:
    """The fund-flow graph's words in the reader's language (placeholders stay as they are)."""
    return GraphWords(**{field: gettext(msgid, locale) for field, msgid in _GRAPH_WORDS.items()})


def _role(key: str, own: set[int]) -> str:
    if key.startswith("x"):
        return "external"
    return "subject" if int(key) in own else "counterparty"


def _profile(rt: Runtime, customer: Customer, accounts: list[Account]) -> ProfileView:
    return ProfileView(
        customer_id=customer.id,
        name=customer.name_masked,
        kind=customer.kind,
        status=customer.status,
        risk_rating=customer.risk_rating,
        occupation=customer.occupation,
        business_scope=customer.business_scope,
        registered_capital=customer.registered_capital,
        expected_monthly_turnover=customer.expected_monthly_turnover,
        currency=customer.kyc_currency,
        legal_representative=customer.legal_representative_masked,
        mobile=customer.mobile_masked,
        customer_since=customer.created_at,
        accounts=[
            AccountLine(a.id, a.number_masked, Product(a.product).value, a.status, a.opened_at)
            for a in accounts
        ],
    )


def _history(session: Session, rt: Runtime, account_ids: list[int]) -> list[MonthLine]:
    """Money in and out of the customer's accounts per month, the last six months."""
    if not account_ids:
        return []
    since = rt.clock.now() - timedelta(days=31 * HISTORY_MONTHS)
    rows = session.execute(
        select(Transfer.created_at, Transfer.amount, Transfer.debit_account_id)
        .where(
            or_(
                Transfer.debit_account_id.in_(account_ids),
                Transfer.credit_account_id.in_(account_ids),
            ),
            Transfer.created_at >= since,
            Transfer.kind.in_(("single", "post")),
        )
        .limit(50_000)
    ).all()
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    zone = rt.policy.zone
    for at, amount, debit in rows:
        line = months[at.astimezone(zone).strftime("%Y-%m")]
        line[1 if debit in account_ids else 0] += amount
        line[2] += 1
    return [MonthLine(m, *months[m]) for m in sorted(months, reverse=True)]


def _notes(session: Session, rt: Runtime, case_id: int) -> list[NoteView]:
    rows = session.scalars(select(AmlNote).where(AmlNote.case_id == case_id).order_by(AmlNote.id))
    return [
        NoteView(
            n.id, rt.cipher.decrypt(n.body_enc, purpose=NOTE_PURPOSE), n.created_by, n.created_at
        )
        for n in rows
    ]


def _earlier_cases(session: Session, case: AmlCase) -> list[CaseSummary]:
    others = session.scalars(
        select(AmlCase)
        .where(AmlCase.customer_id == case.customer_id, AmlCase.id != case.id)
        .order_by(AmlCase.id.desc())
        .limit(20)
    ).all()
    return _summaries(session, others)


def _report_lines(session: Session, case: AmlCase) -> list[ReportLine]:
    suspicious = session.scalars(
        select(SuspiciousReport).where(SuspiciousReport.case_id == case.id)
    ).all()
    large = session.scalars(
        select(LargeValueReport)
        .where(LargeValueReport.customer_id == case.customer_id)
        .order_by(LargeValueReport.transaction_day.desc())
        .limit(100)
    ).all()
    return [
        *(
            ReportLine(r.id, "suspicious", r.report_ref, r.status, r.deadline, None, r.typologies)
            for r in suspicious
        ),
        *(
            ReportLine(
                r.id, "large_value", r.report_ref, r.status, r.deadline, r.total, r.criterion
            )
            for r in large
        ),
    ]


# ------------------------------------------------------------------------------ deciding


def add_note(rt: Runtime, actor: Actor, case_id: int, body: str) -> NoteView:
    body = require_text("body", body, max_length=4000)
    now = rt.clock.now()
    with rt.db.write() as session:
        case = _case(session, case_id, lock=True)
        note = AmlNote(
            case_id=case.id,
            body_enc=rt.cipher.encrypt(body, purpose=NOTE_PURPOSE),
            created_by=actor.id,
            created_at=now,
        )
        session.add(note)
        case.updated_at = now
        session.flush()
        _audit(session, rt, actor, case, "note", note_id=note.id)
        return NoteView(note.id, body, actor.id, now)


def dismiss(rt: Runtime, actor: Actor, case_id: int, reason: str) -> CaseSummary:
    """Close an open case as not suspicious, with the reason."""
    reason = require_text("reason", reason, max_length=500)
    now = rt.clock.now()
    with rt.db.write() as session:
        case = open_case_for_update(session, case_id)
        refuse_if_report_in_progress(session, case)
        case.status, case.decision_reason = "dismissed", reason
        case.decided_by, case.decided_at, case.updated_at = actor.id, now, now
        _audit(session, rt, actor, case, "dismiss", reason=reason)
        return _summaries(session, [case])[0]


def open_case_for_update(session: Session, case_id: int) -> AmlCase:
    """The case, locked; refused unless it is still open."""
    case = _case(session, case_id, lock=True)
    if case.status != "open":
        raise Conflict(
            "case_closed",
            "The case is {status_msgid}.",
            field="case_id",
            status_msgid=CASE_STATUS_LABELS[case.status],
        )
    return case


def case_summary(rt: Runtime, case_id: int) -> CaseSummary:
    with rt.db.read() as session:
        return _summaries(session, [_case(session, case_id)])[0]


def refuse_if_report_in_progress(session: Session, case: AmlCase) -> None:
    """One suspicious report at a time, and no dismissal while one is being prepared."""
    pending = session.scalar(
        select(SuspiciousReport.id).where(
            SuspiciousReport.case_id == case.id, SuspiciousReport.status != "filed"
        )
    )
    if pending:
        raise Conflict(
            "report_in_progress",
            "A suspicious transaction report is being prepared for this case.",
            field="case_id",
        )


def is_suspended(case: AmlCase) -> bool:
    """Whether this case has the customer's e-banking suspended now."""
    return case.suspended_at is not None and case.lifted_at is None


def suspend(rt: Runtime, actor: Actor, case_id: int, reason: str) -> CaseSummary:
    """Suspend every active e-banking channel of the case's customer pending review."""
    from ebank.channels.service import change_enrolment_status

    reason = require_text("reason", reason, max_length=500)
    with rt.db.read() as session:
        case = _case(session, case_id)
        if is_suspended(case):
            raise Conflict("already_suspended", "E-banking is already suspended.", field="case_id")
        channels = _channels(session, case.customer_id, "active")
    if not channels:
        raise Conflict(
            "no_active_channel", "The customer has no active e-banking channel.", field="case_id"
        )
    for channel in channels:
        change_enrolment_status(
            rt, actor, case.customer_id, channel, change="suspend", reason=SUSPENSION_NOTICE
        )
    now = rt.clock.now()
    with rt.db.write() as session:
        case = _case(session, case_id, lock=True)
        case.suspended_by, case.suspended_at, case.updated_at = actor.id, now, now
        case.suspended_channels = json.dumps(channels)
        case.lifted_by = case.lifted_at = None
        _audit(session, rt, actor, case, "suspend", channels=channels, reason=reason)
    return case_summary(rt, case_id)


def lift(rt: Runtime, actor: Actor, case_id: int, reason: str) -> CaseSummary:
    """Resume the channels this case suspended that are still suspended."""
    from ebank.channels.service import change_enrolment_status

    reason = require_text("reason", reason, max_length=500)
    with rt.db.read() as session:
        case = _case(session, case_id)
        if not is_suspended(case):
            raise Conflict(
                "not_suspended", "E-banking is not suspended by this case.", field="case_id"
            )
        suspended = set(_channels(session, case.customer_id, "suspended"))
        channels = [c for c in json.loads(case.suspended_channels or "[]") if c in suspended]
    for channel in channels:
        change_enrolment_status(
            rt, actor, case.customer_id, channel, change="resume", reason=reason
        )
    now = rt.clock.now()
    with rt.db.write() as session:
        case = _case(session, case_id, lock=True)
        case.lifted_by, case.lifted_at, case.updated_at = actor.id, now, now
        _audit(session, rt, actor, case, "lift", channels=channels, reason=reason)
    return case_summary(rt, case_id)


def _channels(session: Session, customer_id: int, status: str) -> list[str]:
    return list(
        session.scalars(
            select(ChannelEnrolment.channel)
            .where(ChannelEnrolment.customer_id == customer_id, ChannelEnrolment.status == status)
            .order_by(ChannelEnrolment.channel)
        )
    )


def _audit(
    session: Session, rt: Runtime, actor: Actor, case: AmlCase, action: str, **after: Any
) -> None:
    audit.record(
        session,
        AuditEntry(actor, f"aml.case.{action}", "aml_case", str(case.id), after=after),
        rt.clock.now(),
    )
