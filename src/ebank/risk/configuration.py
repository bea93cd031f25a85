"""Rule-set and model versions: what the engine runs, who changed it, and when.

A rule set is submitted as a draft — parsed and checked first, so a bad rule never gets further —
then put in shadow (evaluated on live traffic, deciding nothing) or live. A model is trained on the
bank's own labelled history, through the same feature definition as live scoring, and kept as a
candidate with its training window and figures until an analyst puts it live. Four eyes: nobody
puts live what they drafted or trained themselves. Every change is in the audit trail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from ebank.common.validation import require_text
from ebank.risk import metrics
from ebank.risk.features import RETENTION, Observation
from ebank.risk.model import train
from ebank.risk.models import RiskAlert, RiskModelVersion, RiskRuleSetVersion
from ebank.risk.rules import FEATURES, RuleError, parse_rule_set
from ebank.risk.store import MemoryStore, observe

if TYPE_CHECKING:
    from ebank.runtime import Runtime

RULE_SET_MOVES = {
    "draft": ("shadow", "live", "retired"),
    "shadow": ("live", "retired"),
    "live": ("retired",),
    "retired": (),
}
MODEL_MOVES = {"candidate": ("live", "retired"), "live": ("retired",), "retired": ()}
Versions = list[RiskRuleSetVersion | RiskModelVersion]
HELD_OUT_SHARE = 0.2  # the last fifth of the window's days measure the model
MAX_TRAINING_DAYS = 366
MIN_YEAR = 2000


@dataclass(frozen=True)
class RuleSetView:
    id: int
    status: str
    note: str
    rules: list[str]
    body: str
    created_by: str
    created_at: datetime
    changed_by: str | None
    changed_at: datetime | None


@dataclass(frozen=True)
class ModelView:
    id: int
    status: str
    trained_from: date
    trained_to: date
    rows: int
    frauds: int
    metrics: dict[str, float]
    created_by: str
    created_at: datetime
    changed_by: str | None
    changed_at: datetime | None


def _rule_set_view(row: RiskRuleSetVersion) -> RuleSetView:
    return RuleSetView(
        id=row.id,
        status=row.status,
        note=row.note,
        rules=[rule.id for rule in parse_rule_set(row.body).rules],
        body=row.body,
        created_by=row.created_by,
        created_at=row.created_at,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )


def checked_rules(body: str) -> None:
    """Refuse a rule set that cannot run, naming every problem by its place."""
    try:
        parse_rule_set(body)
    except RuleError as exc:
        raise Unprocessable(
            "invalid_rule_set",
            "The rule set cannot be used: {problems}",
            field="body",
            problems="; ".join(exc.problems),
        ) from exc


def draft_rule_set(rt: Runtime, actor: Actor, body: str, note: str) -> RuleSetView:
    note = require_text("note", note, max_length=200)
    checked_rules(body)
    with rt.db.write() as session:
        row = RiskRuleSetVersion(
            status="draft", body=body, note=note, created_by=actor.ref, created_at=rt.clock.now()
        )
        session.add(row)
        session.flush()
        _audit(session, rt, actor, "risk.rule_set.drafted", row.id, after={"note": note})
        return _rule_set_view(row)


def rule_sets(rt: Runtime) -> list[RuleSetView]:
    with rt.db.read() as session:
        rows = session.execute(select(RiskRuleSetVersion).order_by(RiskRuleSetVersion.id.desc()))
        return [_rule_set_view(row) for row in rows.scalars()]


def rule_set(rt: Runtime, version_id: int) -> RuleSetView:
    with rt.db.read() as session:
        return _rule_set_view(_rule_set_row(session, version_id))


def _rule_set_row(session: Session, version_id: int, *, lock: bool = False) -> RiskRuleSetVersion:
    query = select(RiskRuleSetVersion).where(RiskRuleSetVersion.id == version_id)
    row = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None:
        raise NotFound("rule_set_not_found", "No such rule-set version.", field="version_id")
    return row


def move_rule_set(rt: Runtime, actor: Actor, version_id: int, status: str) -> RuleSetView:
    """Put a version in shadow, live, or retire it; the version it replaces is retired."""
    with rt.db.write() as session:
        # Every version locked: two analysts putting two versions live one after the other.
        session.execute(select(RiskRuleSetVersion.id).with_for_update()).all()
        row = _rule_set_row(session, version_id, lock=True)
        _move(
            session, rt, actor, row, status, moves=RULE_SET_MOVES, one_at_a_time=("shadow", "live")
        )
        view = _rule_set_view(row)
    _reload(rt)
    return view


def _move(
    session: Session,
    rt: Runtime,
    actor: Actor,
    row: RiskRuleSetVersion | RiskModelVersion,
    status: str,
    *,
    moves: dict[str, tuple[str, ...]],
    one_at_a_time: tuple[str, ...],
) -> None:
    """Move a version to ``status`` (four eyes to go live), retiring the one it replaces."""
    _check_move(row.status, status, moves)
    if status == "live" and row.created_by == actor.ref:
        raise _four_eyes()
    now = rt.clock.now()
    table = type(row)
    if status in one_at_a_time:
        replaced = select(table).where(table.status == status, table.id != row.id)
        others = cast(Versions, session.execute(replaced).scalars().all())
        for other in others:
            other.status, other.changed_by, other.changed_at = "retired", actor.ref, now
    before = row.status
    row.status, row.changed_by, row.changed_at = status, actor.ref, now
    entity = "rule_set" if isinstance(row, RiskRuleSetVersion) else "model"
    action = f"risk.{entity}.{status}"
    _audit(session, rt, actor, action, row.id, before={"status": before}, after={"status": status})


def _check_move(current: str, wanted: str, moves: dict[str, tuple[str, ...]]) -> None:
    if wanted not in moves:
        raise Unprocessable("invalid_status", "Unknown status.", field="status")
    if wanted not in moves[current]:
        raise Conflict(
            "invalid_transition",
            "A version in status {current} cannot become {wanted}.",
            field="status",
            current=current,
            wanted=wanted,
        )


def _four_eyes() -> Forbidden:
    return Forbidden(
        "four_eyes", "Another analyst must put live what you drafted or trained.", field="status"
    )


def _reload(rt: Runtime) -> None:
    from ebank.risk.live import LiveRiskEngine

    if isinstance(rt.risk, LiveRiskEngine):
        rt.risk.reload()


def _audit(
    session: Session,
    rt: Runtime,
    actor: Actor,
    action: str,
    entity_id: int,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    entity = action.split(".")[1]
    audit.record(
        session,
        AuditEntry(actor, action, entity, str(entity_id), before=before, after=after),
        rt.clock.now(),
    )


# ------------------------------------------------------------------------------------ models


@dataclass(frozen=True)
class TrainingSet:
    names: list[str]
    matrix: np.ndarray
    labels: np.ndarray
    days: list[int]
    customers: list[str]


def training_set(rt: Runtime, start: date, end: date) -> TrainingSet:
    """Every payment from ``start`` to ``end`` with its features as the engine saw them — the
    event log replayed from a month before through :func:`observe`, each analyst's label given
    to the store at the moment it was given, as live — and its label: fraud when an analyst
    said so, genuine otherwise."""
    from ebank.risk.live import replay_events

    window_start = datetime.combine(start, time(), UTC)
    window_end = datetime.combine(end + timedelta(days=1), time(), UTC)
    with rt.db.read() as session:
        labelled = session.execute(
            select(
                RiskAlert.labelled_at,
                RiskAlert.customer_id,
                RiskAlert.payee_hash,
                RiskAlert.event_at,
                RiskAlert.label,
                RiskAlert.amount,
                RiskAlert.payment_id,
            )
            .where(RiskAlert.label.is_not(None))
            .order_by(RiskAlert.labelled_at)
        ).all()
    frauds = {row.payment_id for row in labelled if row.label == "fraud"}
    arriving = [row for row in labelled if row.labelled_at < window_end]
    store = MemoryStore()
    names = sorted(FEATURES)
    rows: list[list[float]] = []
    labels: list[int] = []
    days: list[int] = []
    customers: list[str] = []

    def scored(observation: Observation) -> None:
        while arriving and arriving[0].labelled_at.timestamp() <= observation.at:
            known = arriving.pop(0)
            store.label(
                str(known.customer_id),
                known.payee_hash,
                known.event_at.timestamp(),
                known.label == "fraud",
                None if known.amount is None else float(known.amount),
            )
        features = observe(store, observation)
        if observation.kind != "payment" or observation.at < window_start.timestamp():
            return
        rows.append([features[name] for name in names])
        labels.append(int(observation.id in frauds))
        days.append(int((observation.at - window_start.timestamp()) // 86400))
        customers.append(observation.customer)

    replay_events(rt, window_start - timedelta(seconds=RETENTION), window_end, scored)
    return TrainingSet(names, np.array(rows, dtype=float), np.array(labels), days, customers)


def train_model(rt: Runtime, actor: Actor, start: date, end: date) -> ModelView:
    """Train on the window's first days, measure on its last fifth, then train on the whole
    window: a candidate with its figures."""
    if end < start:
        raise Unprocessable("invalid_window", "The window ends before it starts.", field="train_to")
    if (end - start).days >= MAX_TRAINING_DAYS or start.year < MIN_YEAR:
        raise Unprocessable(
            "invalid_window",
            "A training window is at most {days} days, from the year {year} on.",
            field="train_from",
            days=MAX_TRAINING_DAYS,
            year=MIN_YEAR,
        )
    data = training_set(rt, start, end)
    frauds = int(data.labels.sum())
    if frauds == 0 or frauds == len(data.labels):
        raise Conflict(
            "not_enough_labels",
            "Training needs confirmed frauds and genuine payments in the window.",
            field="train_from",
        )
    figures = _held_out_figures(data, (end - start).days + 1)
    model = train(data.names, data.matrix, data.labels)
    with rt.db.write() as session:
        row = RiskModelVersion(
            status="candidate",
            trained_from=start,
            trained_to=end,
            rows=len(data.labels),
            frauds=frauds,
            metrics=json.dumps(figures),
            body=model.dump(),
            created_by=actor.ref,
            created_at=rt.clock.now(),
        )
        session.add(row)
        session.flush()
        _audit(session, rt, actor, "risk.model.trained", row.id, after=figures)
        return _model_view(row)


def _held_out_figures(data: TrainingSet, window_days: int) -> dict[str, float]:
    cut = window_days - max(1, round(window_days * HELD_OUT_SHARE))
    first = np.array([day < cut for day in data.days])
    fit, held = data.labels[first], data.labels[~first]
    if fit.sum() in (0, len(fit)) or held.sum() in (0, len(held)):
        return {}  # too few labels on one side to measure
    model = train(data.names, data.matrix[first], fit)
    scores = model.score_matrix(data.matrix[~first])
    held_days = [day for day, kept in zip(data.days, first, strict=True) if not kept]
    held_customers = [c for c, kept in zip(data.customers, first, strict=True) if not kept]
    return {
        "auc_roc": round(metrics.auc_roc(held, scores), 4),
        "average_precision": round(metrics.average_precision(held, scores), 4),
        "card_precision_at_100": round(
            metrics.card_precision_at_k(held_days, held_customers, list(held), list(scores), 100),
            4,
        ),
        "held_out_rows": float(len(held)),
    }


def _model_view(row: RiskModelVersion) -> ModelView:
    return ModelView(
        id=row.id,
        status=row.status,
        trained_from=row.trained_from,
        trained_to=row.trained_to,
        rows=row.rows,
        frauds=row.frauds,
        metrics=json.loads(row.metrics),
        created_by=row.created_by,
        created_at=row.created_at,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )


def models(rt: Runtime) -> list[ModelView]:
    with rt.db.read() as session:
        rows = session.execute(select(RiskModelVersion).order_by(RiskModelVersion.id.desc()))
        return [_model_view(row) for row in rows.scalars()]


def move_model(rt: Runtime, actor: Actor, version_id: int, status: str) -> ModelView:
    with rt.db.write() as session:
        session.execute(select(RiskModelVersion.id).with_for_update()).all()  # one at a time
        row = session.execute(
            select(RiskModelVersion).where(RiskModelVersion.id == version_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("model_not_found", "No such model version.", field="version_id")
        _move(session, rt, actor, row, status, moves=MODEL_MOVES, one_at_a_time=("live",))
        view = _model_view(row)
    _reload(rt)
    return view


def retrain_if_due(rt: Runtime, actor: Actor) -> ModelView | None:
    """The schedule: when the newest model is older than the policy's interval, train a
    candidate on the latest window (an analyst still decides whether it goes live)."""
    policy = rt.policy.risk
    if policy.retrain_days <= 0:
        return None
    today = rt.clock.now().date()
    with rt.db.read() as session:
        newest = session.execute(
            select(RiskModelVersion.created_at).order_by(RiskModelVersion.id.desc()).limit(1)
        ).scalar()
    if newest is not None and today - newest.date() < timedelta(days=policy.retrain_days):
        return None
    end = today - timedelta(days=policy.label_delay_days)
    try:
        return train_model(rt, actor, end - timedelta(days=policy.training_days - 1), end)
    except Conflict:
        return None  # not enough labels yet: the next round tries again
