"""The analysts' side of the engine: alerts and what an analyst does with them.

Held and blocked payments become alerts in the transaction that settles them
(:func:`alert_rows`). An analyst sees the event with its features, reasons, the model's top
contributions and the customer's recent history, then releases or voids the held payment, blocks
the payee, suspends a channel, or labels the event fraud / not fraud. Labels reach the feature
store at once (payee risk, compromised customer) and the next training set.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.channels.models import Payment
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, NotFound, Unprocessable
from ebank.common.validation import require_text
from ebank.db import to_json
from ebank.ledger import clearing
from ebank.ledger import service as ledger
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE, PAYEE_NAME_PURPOSE
from ebank.ledger.posting import Code, TransferKind, TransferRequest, TransferResult
from ebank.notify import service as notify
from ebank.notify.models import Notification
from ebank.risk.assessment import Outcome
from ebank.risk.live import LiveRiskEngine
from ebank.risk.models import BlockedPayee, RiskAlert, RiskEventRecord
from ebank.risk.store import FeatureStore

if TYPE_CHECKING:
    from ebank.runtime import Runtime

ALERT_KINDS = ("hold", "block", "attempt", "shadow")
ALERT_STATUSES = ("open", "released", "voided", "closed")
LABELS = ("fraud", "not_fraud")
HISTORY_DAYS = 30
HISTORY_ROWS = 20


def alert_rows(payments: Sequence[Payment], now: datetime) -> list[dict[str, Any]]:
    """The alerts that settled payments raise: held and blocked ones for the queue, and those a
    shadow rule matched (already closed: they measure a rule before it goes live)."""
    rows = []
    for payment in payments:
        evidence = json.loads(payment.risk_evidence or "{}")
        kind = _alert_kind(payment, evidence)
        if kind is not None:
            rows.append(_alert_row(payment, kind, evidence, now))
    return rows


def _alert_row(
    payment: Payment, kind: str, evidence: dict[str, Any], now: datetime
) -> dict[str, Any]:
    rules = evidence.get("shadow_rules" if kind == "shadow" else "rules", [])
    return {
        "kind": kind,
        "status": "closed" if kind == "shadow" else "open",
        "resolution": "shadow" if kind == "shadow" else None,
        "customer_id": payment.customer_id,
        "payment_id": payment.id,
        "channel": payment.channel,
        "amount": payment.amount,
        "currency": payment.currency,
        "payee_hash": payment.payee_hash,
        "score": payment.risk_score,
        "rules": to_json(list(rules)),
        "reasons": payment.risk_reasons or "[]",
        "features": to_json(evidence.get("features", {})),
        "event_at": payment.risk_assessed_at or payment.created_at,
        "created_at": now,
    }


def alert_abandoned_attempts(rt: Runtime, limit: int = 500) -> int:
    """Payments the engine would have held or blocked that were never authorised (the customer
    — or whoever held the phone — gave up once the full authentication was asked): an alert
    each, once the draft's time (policy ``channels.draft_ttl_minutes``) has passed. Run by the
    worker."""
    now = rt.clock.now()
    cutoff = now - timedelta(minutes=rt.policy.channels.draft_ttl_minutes)
    alerted = select(RiskAlert.id).where(RiskAlert.payment_id == Payment.id)
    with rt.db.write() as session:
        abandoned = (
            session.execute(
                select(Payment)
                .where(
                    # left unfinished, or expired since (before this ran, or on its last step)
                    Payment.status.in_(("draft", "awaiting_auth", "expired")),
                    Payment.risk_outcome.in_((Outcome.HOLD.value, Outcome.BLOCK.value)),
                    Payment.updated_at < cutoff,
                    ~exists(alerted),
                )
                .limit(limit)
            )
            .scalars()
            .all()
        )
        rows = [
            _alert_row(payment, "attempt", json.loads(payment.risk_evidence or "{}"), now)
            for payment in abandoned
        ]
        if rows:
            session.execute(insert(RiskAlert), rows)
    return len(rows)


def _alert_kind(payment: Payment, evidence: dict[str, Any]) -> str | None:
    if payment.status == "held":
        return "hold"
    if payment.status == "blocked":
        return "block"
    return "shadow" if evidence.get("shadow_rules") else None


def queue_alerts(conn: Connection, payments: Sequence[Payment], now: datetime) -> None:
    rows = alert_rows(payments, now)
    if rows:
        conn.execute(insert(RiskAlert), rows)


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AlertSummary:
    id: int
    kind: str
    status: str
    customer_id: int
    payment_id: str | None
    channel: str
    amount: int | None
    currency: str | None
    score: float | None
    rules: list[str]
    label: str | None
    event_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str  # payment or a security event
    channel: str
    amount: int | None = None
    currency: str | None = None
    payee: str | None = None  # masked
    status: str | None = None
    risk_outcome: str | None = None


@dataclass(frozen=True)
class AlertDetail:
    alert: AlertSummary
    payee: str | None  # masked name and account
    payment_status: str | None
    reasons: list[dict[str, str]]  # code, text (in the reader's language)
    features: dict[str, float]
    contributions: list[tuple[str, float]]  # the model's top features, when a model is live
    history: list[HistoryItem]
    resolution: str | None
    resolved_by: str | None
    labelled_by: str | None


def _summary(row: RiskAlert) -> AlertSummary:
    return AlertSummary(
        id=row.id,
        kind=row.kind,
        status=row.status,
        customer_id=row.customer_id,
        payment_id=row.payment_id,
        channel=row.channel,
        amount=row.amount,
        currency=row.currency,
        score=row.score,
        rules=json.loads(row.rules),
        label=row.label,
        event_at=row.event_at,
        created_at=row.created_at,
    )


def list_alerts(
    rt: Runtime,
    *,
    status: str | None = "open",
    kind: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
) -> list[AlertSummary]:
    if status is not None and status not in ALERT_STATUSES:
        raise Unprocessable("invalid_status", "Unknown alert status.", field="status")
    if kind is not None and kind not in ALERT_KINDS:
        raise Unprocessable("invalid_kind", "Unknown alert kind.", field="kind")
    query = select(RiskAlert).order_by(RiskAlert.id.desc()).limit(max(1, min(limit, 200)))
    if status is not None:
        query = query.where(RiskAlert.status == status)
    if kind is not None:
        query = query.where(RiskAlert.kind == kind)
    if customer_id is not None:
        query = query.where(RiskAlert.customer_id == customer_id)
    with rt.db.read() as session:
        return [_summary(row) for row in session.execute(query).scalars()]


def alert_detail(rt: Runtime, alert_id: int, locale: str) -> AlertDetail:
    with rt.db.read() as session:
        row = _alert(session, alert_id)
        payment = session.get(Payment, row.payment_id) if row.payment_id else None
        history = _history(session, row.customer_id, row.event_at)
    features = json.loads(row.features)
    return AlertDetail(
        alert=_summary(row),
        payee=(f"{payment.payee_name_masked} {payment.payee_account_masked}" if payment else None),
        payment_status=payment.status if payment else None,
        reasons=_reasons(rt, json.loads(row.reasons), locale),
        features=features,
        contributions=_contributions(rt, features),
        history=history,
        resolution=row.resolution,
        resolved_by=row.resolved_by,
        labelled_by=row.labelled_by,
    )


def _alert(session: Session, alert_id: int, *, lock: bool = False) -> RiskAlert:
    query = select(RiskAlert).where(RiskAlert.id == alert_id)
    row = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None:
        raise NotFound("alert_not_found", "No such alert.", field="alert_id")
    return row


def _reasons(rt: Runtime, codes: list[str], locale: str) -> list[dict[str, str]]:
    """Each reason in the reader's language: a rule's own texts, or the engine's message."""
    from ebank.common.i18n import gettext
    from ebank.risk.engine import MODEL_REASON

    texts: dict[str, dict[str, str]] = {}
    if isinstance(rt.risk, LiveRiskEngine):
        engine = rt.risk.engine()
        for rule in (*engine.rules.rules, *engine.shadow.rules):
            texts[rule.id] = dict(rule.reasons)
    reasons = []
    for code in codes:
        if code == MODEL_REASON.code:
            text = gettext(MODEL_REASON.message, locale)
        else:
            by_language = texts.get(code, {})
            text = by_language.get(locale) or by_language.get("en") or code
        reasons.append({"code": code, "text": text})
    return reasons


def _contributions(rt: Runtime, features: dict[str, float]) -> list[tuple[str, float]]:
    if not isinstance(rt.risk, LiveRiskEngine) or not features:
        return []
    model = rt.risk.engine().model
    return model.explain(features) if model is not None else []


def _history(session: Session, customer_id: int, until: datetime) -> list[HistoryItem]:
    since = until - timedelta(days=HISTORY_DAYS)
    payments = session.execute(
        select(Payment)
        .where(
            Payment.customer_id == customer_id,
            Payment.created_at >= since,
            Payment.risk_outcome.is_not(None),
        )
        .order_by(Payment.created_at.desc())
        .limit(HISTORY_ROWS)
    ).scalars()
    items = [
        HistoryItem(
            at=p.created_at,
            kind="payment",
            channel=p.channel,
            amount=p.amount,
            currency=p.currency,
            payee=f"{p.payee_name_masked} {p.payee_account_masked}",
            status=p.status,
            risk_outcome=p.risk_outcome,
        )
        for p in payments
    ]
    events = session.execute(
        select(RiskEventRecord)
        .where(
            RiskEventRecord.customer_id == customer_id,
            RiskEventRecord.at >= since,
            RiskEventRecord.kind != "login",
        )
        .order_by(RiskEventRecord.at.desc())
        .limit(HISTORY_ROWS)
    ).scalars()
    items += [HistoryItem(at=e.at, kind=e.kind, channel=e.channel) for e in events]
    return sorted(items, key=lambda item: item.at, reverse=True)[:HISTORY_ROWS]


# ------------------------------------------------------------------------------ decisions


def release(rt: Runtime, actor: Actor, alert_id: int, note: str) -> AlertSummary:
    """Post the held payment: the money goes to the payee (through clearing for another bank)."""
    return _resolve_hold(rt, actor, alert_id, note, release=True)


def void(rt: Runtime, actor: Actor, alert_id: int, note: str) -> AlertSummary:
    """Release the hold: the money stays with the customer; the payment is stopped."""
    return _resolve_hold(rt, actor, alert_id, note, release=False)


def _resolve_hold(
    rt: Runtime, actor: Actor, alert_id: int, note: str, *, release: bool
) -> AlertSummary:
    note = require_text("note", note, max_length=200)
    with rt.db.read() as session:
        row = _alert(session, alert_id)
        payment = session.get(Payment, row.payment_id) if row.payment_id else None
        locale = _customer_locale(session, row.customer_id)
    if row.kind != "hold" or row.status != "open" or payment is None:
        raise Conflict("alert_not_open", "This alert has no held payment to decide.")
    if payment.status != "held":
        raise Conflict("payment_not_held", "The payment is no longer held.")
    suffix = "release" if release else "void"
    outbound = payment.payee_account_id is None
    request = TransferRequest(
        # A fresh id per attempt: a release refused (a frozen account…) can be tried again.
        id=f"{payment.id}.{suffix}.{secrets.token_hex(4)}",
        kind=TransferKind.POST if release else TransferKind.VOID,
        pending_id=payment.id,
        # Money to another bank is clearing money: it comes back only through clearing.
        code=("interbank_out" if outbound else "payment") if release else "payment_void",
        channel=payment.channel,
        reference=payment.id,
    )
    message = _outbound(rt, payment, request.id) if release and outbound else None
    decision = _HoldDecision(payment, "executed" if release else "voided", note, locale)
    resolved: list[AlertSummary] = []

    def after(conn: Connection, results: list[TransferResult]) -> list[AuditEntry]:
        if not results[0].ok:
            return []
        settled = _settle_alert(conn, rt, actor, alert_id, decision, transfer_id=request.id)
        if settled is None:  # another analyst decided first: this posting is refused below
            return []
        if message is not None:
            clearing.queue_outbound(conn, rt, [(message, results[0])])
        resolved.append(settled)
        return [
            AuditEntry(
                actor,
                f"risk.alert.{suffix}",
                "risk_alert",
                str(alert_id),
                after={"payment": payment.id, "status": decision.status, "note": note},
            )
        ]

    result = ledger.create_transfers(rt, actor, [request], after_post=after)[0]
    if result.code is Code.PENDING_TRANSFER_EXPIRED:
        settle_expired_holds(rt)
        raise Conflict("hold_expired", "The hold expired: the money is the customer's again.")
    if not result.ok or not resolved:
        if not result.ok and result.code not in _DECIDED:
            raise ledger.refusal(result)
        raise Conflict("alert_not_open", "This alert has no held payment to decide.")
    rt.courier.wake()
    return resolved[0]


_DECIDED = (Code.PENDING_TRANSFER_ALREADY_POSTED, Code.PENDING_TRANSFER_ALREADY_VOIDED)


@dataclass(frozen=True)
class _HoldDecision:
    payment: Payment
    status: str  # executed | voided
    note: str
    locale: str | None


def _outbound(rt: Runtime, payment: Payment, transfer_id: str) -> clearing.OutboundPayment:
    return clearing.outbound_payment(
        transfer_id=transfer_id,
        account_id=payment.from_account_id,
        amount=payment.amount,
        currency=payment.currency,
        payee_bank=payment.payee_bank,
        payee_account=rt.cipher.decrypt(payment.payee_account_enc, purpose=PAYEE_ACCOUNT_PURPOSE),
        payee_name=rt.cipher.decrypt(payment.payee_name_enc, purpose=PAYEE_NAME_PURPOSE),
    )


def _settle_alert(
    conn: Connection,
    rt: Runtime,
    actor: Actor,
    alert_id: int,
    decision: _HoldDecision,
    *,
    transfer_id: str,
) -> AlertSummary | None:
    """Record the decision with the posting; None when the alert was decided meanwhile."""
    now = rt.clock.now()
    payment = decision.payment
    with Session(bind=conn, expire_on_commit=False) as session:
        row = _alert(session, alert_id, lock=True)
        held = session.get(Payment, payment.id, with_for_update=True)
        if row.status != "open" or held is None or held.status != "held":
            return None
        held.status, held.updated_at = decision.status, now
        if decision.status == "executed":
            held.executed_at, held.transfer_id = now, transfer_id  # the transfer that paid
        row.status = "released" if decision.status == "executed" else "voided"
        row.resolution, row.resolved_by, row.resolved_at = decision.note, actor.ref, now
        notify.queue(
            session,
            rt,
            payment.customer_id,
            "payment_released" if decision.status == "executed" else "payment_voided",
            locale=decision.locale,
            amount=payment.amount,
            currency=payment.currency,
            payee=payment.payee_name_masked,
        )
        session.flush()
        return _summary(row)


def settle_expired_holds(rt: Runtime, limit: int = 500) -> int:
    """Held payments whose hold expired before an analyst decided (the ledger released the
    money): the payment is stopped, its alert closed, the customer told. Run by the worker."""
    from ebank.ledger.models import PendingTransfer

    now = rt.clock.now()
    with rt.db.write() as session:
        expired = (
            session.execute(
                select(Payment)
                .join(PendingTransfer, PendingTransfer.transfer_id == Payment.id)
                .where(Payment.status == "held", PendingTransfer.state == "expired")
                .limit(limit)
                .with_for_update(of=Payment)
            )
            .scalars()
            .all()
        )
        for payment in expired:
            payment.status, payment.updated_at = "expired", now
            for alert in session.execute(
                select(RiskAlert).where(
                    RiskAlert.payment_id == payment.id, RiskAlert.status == "open"
                )
            ).scalars():
                alert.status, alert.resolution = "closed", "hold expired"
                alert.resolved_by, alert.resolved_at = "system:system", now
            notify.queue(
                session,
                rt,
                payment.customer_id,
                "payment_voided",
                locale=_customer_locale(session, payment.customer_id),
                amount=payment.amount,
                currency=payment.currency,
                payee=payment.payee_name_masked,
            )
    if expired:
        rt.courier.wake()
    return len(expired)


def _customer_locale(session: Session, customer_id: int) -> str | None:
    """The language the customer last heard from the bank in (the payment's own notice)."""
    return session.execute(
        select(Notification.locale)
        .where(Notification.customer_id == customer_id)
        .order_by(Notification.id.desc())
        .limit(1)
    ).scalar()


def close(rt: Runtime, actor: Actor, alert_id: int, note: str) -> AlertSummary:
    """Close a blocked payment's alert after review (the payment stays refused)."""
    note = require_text("note", note, max_length=200)
    with rt.db.write() as session:
        row = _alert(session, alert_id, lock=True)
        if row.status != "open" or row.kind == "hold":
            raise Conflict(
                "alert_not_closable", "Only an open alert without a held payment can be closed."
            )
        now = rt.clock.now()
        row.status, row.resolution, row.resolved_by, row.resolved_at = (
            "closed",
            note,
            actor.ref,
            now,
        )
        _audit(session, rt, actor, row, "closed", note=note)
        return _summary(row)


def label(rt: Runtime, actor: Actor, alert_id: int, verdict: str) -> AlertSummary:
    """Fraud or not fraud: kept on the alert, given to the feature store at once, and part of
    the next training set."""
    if verdict not in LABELS:
        raise Unprocessable("invalid_label", "A label is fraud or not_fraud.", field="label")
    with rt.db.write() as session:
        row = _alert(session, alert_id, lock=True)
        before = row.label
        row.label, row.labelled_by, row.labelled_at = verdict, actor.ref, rt.clock.now()
        _audit(session, rt, actor, row, "labelled", label=verdict, before=before)
        summary = _summary(row)
    if before is None:  # a corrected label is not counted twice
        _feedback(
            rt,
            lambda store: store.label(
                str(row.customer_id),
                row.payee_hash,
                row.event_at.timestamp(),
                verdict == "fraud",
                None if row.amount is None else float(row.amount),
            ),
        )
    return summary


def block_payee(rt: Runtime, actor: Actor, alert_id: int, reason: str) -> AlertSummary:
    """Refuse every later payment to the alert's payee (the ``blocked_payee`` rule)."""
    reason = require_text("reason", reason, max_length=200)
    with rt.db.write() as session:
        row = _alert(session, alert_id)
        payment = session.get(Payment, row.payment_id) if row.payment_id else None
        if row.payee_hash is None or payment is None:
            raise Conflict("no_payee", "This alert has no payee to block.")
        # Two analysts may block one payee at once (from two alerts): the first one stands.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(BlockedPayee)
            .values(
                payee_hash=row.payee_hash,
                payee_masked=payment.payee_account_masked,
                reason=reason,
                alert_id=row.id,
                blocked_by=actor.ref,
                blocked_at=rt.clock.now(),
            )
            .on_conflict_do_nothing()
        )
        _audit(session, rt, actor, row, "payee_blocked", payee=payment.payee_account_masked)
        summary = _summary(row)
    payee_hash = row.payee_hash
    _feedback(rt, lambda store: store.block_payee(payee_hash))
    return summary


def suspend_channel(
    rt: Runtime, actor: Actor, alert_id: int, channel: str, reason: str
) -> AlertSummary:
    """Suspend the customer's e-banking channel (sessions end at once) pending review."""
    from ebank.channels import service as channels

    with rt.db.read() as session:
        row = _alert(session, alert_id)
    channels.change_enrolment_status(
        rt, actor, row.customer_id, channel, change="suspend", reason=reason
    )
    return _summary(row)


def _feedback(rt: Runtime, apply: Callable[[FeatureStore], object]) -> None:
    if isinstance(rt.risk, LiveRiskEngine):
        rt.risk.feedback(apply)


def _audit(
    session: Session, rt: Runtime, actor: Actor, row: RiskAlert, action: str, **after: Any
) -> None:
    audit.record(
        session,
        AuditEntry(actor, f"risk.alert.{action}", "risk_alert", str(row.id), after=after),
        rt.clock.now(),
    )
