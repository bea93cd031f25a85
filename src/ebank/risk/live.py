"""The engine as the running bank uses it (``rt.risk``): the live rule set, the shadow rule set
and the live model from the database, a feature store rebuilt from the event log on start, and
every event kept for the next rebuild.

Rule sets and models change through :mod:`ebank.risk.service`; every process notices a change
within ``risk_reload_s`` (one cheap query) and swaps its engine, keeping its feature store.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select

from ebank.risk.assessment import Decision, EventKind, RiskEvent
from ebank.risk.engine import Decided, RiskEngine
from ebank.risk.features import LABEL_RETENTION, RETENTION, Observation
from ebank.risk.model import RiskModel
from ebank.risk.models import (
    BlockedPayee,
    RiskAlert,
    RiskEventRecord,
    RiskModelVersion,
    RiskRuleSetVersion,
)
from ebank.risk.rules import RuleSet, parse_rule_set
from ebank.risk.store import FeatureStore, MemoryStore

if TYPE_CHECKING:
    from ebank.runtime import Runtime

log = logging.getLogger(__name__)
IP_PURPOSE = "risk.ip"
Generation = tuple[int | None, int | None, int | None]


def ip_key(rt: Runtime, ip: str | None) -> str | None:
    """The feature store's key for an IP address: a keyed hash, never the address itself."""
    return None if not ip else rt.cipher.lookup_hash(ip, purpose=IP_PURPOSE)


def policy_rules_text(rt: Runtime) -> str:
    """The policy profile's rule set (``policies/rules/<name>.yaml``): live until a rule-set
    version is put live."""
    path = Path(rt.settings.policy_dir) / "rules" / f"{rt.policy.risk.rules}.yaml"
    return path.read_text(encoding="utf-8")


def build_store(rt: Runtime) -> FeatureStore:
    """Redis when processes share the state (it outlives them); otherwise this process's memory,
    rebuilt from the event log."""
    from ebank.risk.redis_store import RedisStore

    url = rt.settings.risk_store_url
    return RedisStore.from_url(url) if url else rebuild_store(rt, MemoryStore())


class LiveRiskEngine:
    """``rt.risk``: built on first use, so that a process that never scores pays nothing."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._engine: RiskEngine | None = None
        self._generation: Generation | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._store_lock = threading.Lock()  # shared by the engines built over one store
        self._decided = Decided()
        self._labels_seen: set[int] = set()
        self._blocked_seen: set[str] = set()

    def assess(self, event: RiskEvent) -> Decision:
        engine = self.engine()
        event = replace(event, ip=ip_key(self.rt, event.ip))
        decision = engine.assess(event)
        if event.kind is not EventKind.PAYMENT:  # payments are logged as payments
            self.rt.worker(RiskEventLog).add(event)
        return decision

    def engine(self) -> RiskEngine:
        engine = self._engine
        if engine is not None and time.monotonic() - self._checked < self.rt.settings.risk_reload_s:
            return engine
        with self._lock:
            if self._engine is None:
                self._engine = self._build(build_store(self.rt))
                self._checked = time.monotonic()
                self._sync_feedback(self._engine.store)
            elif time.monotonic() - self._checked >= self.rt.settings.risk_reload_s:
                self._refresh(self._engine)
            self._checked = time.monotonic()
            return self._engine

    def _refresh(self, engine: RiskEngine) -> None:
        """A new live rule set or model, if any; a failure keeps the engine running as it was."""
        try:
            if generation(self.rt) != self._generation:
                self._engine = self._build(engine.store)
            self._sync_feedback(engine.store)
        except Exception as exc:  # the bank keeps scoring with what it had
            log.error("risk engine reload failed: %s", type(exc).__name__)

    def reload(self) -> None:
        """Take a rule-set or model change now (the process that made it)."""
        with self._lock:
            if self._engine is not None:
                self._engine = self._build(self._engine.store)
                self._checked = time.monotonic()

    @property
    def store(self) -> FeatureStore:
        return self.engine().store

    @property
    def shared(self) -> bool:
        """Whether the store is shared by the processes (Redis) rather than this one's."""
        return not isinstance(self.store, MemoryStore)

    def feedback(self, apply: Callable[[FeatureStore], object]) -> None:
        """A label or a blocked payee just given: a shared store takes it once, here; this
        process's memory store takes it from the database, as the other processes will."""
        if self.shared:
            apply(self.store)
        else:
            self.sync_feedback()

    def sync_feedback(self) -> None:
        """Give this process's memory store the labels and blocked payees it has not seen."""
        self._sync_feedback(self.store)

    def _sync_feedback(self, store: FeatureStore) -> None:
        if not isinstance(store, MemoryStore):
            return
        now = self.rt.clock.now()
        with self.rt.db.read() as session:
            labels = session.execute(
                select(
                    RiskAlert.id,
                    RiskAlert.customer_id,
                    RiskAlert.payee_hash,
                    RiskAlert.event_at,
                    RiskAlert.label,
                    RiskAlert.amount,
                )
                .where(
                    RiskAlert.label.is_not(None),
                    RiskAlert.event_at >= now - timedelta(seconds=LABEL_RETENTION),
                )
                .order_by(RiskAlert.event_at)
            ).all()
            blocked = session.execute(select(BlockedPayee.payee_hash)).scalars().all()
        with self._store_lock:
            for alert_id, customer, payee, at, label, amount in labels:
                if alert_id not in self._labels_seen:
                    self._labels_seen.add(alert_id)
                    store.label(str(customer), payee, at.timestamp(), label == "fraud", amount)
            for payee in set(blocked) - self._blocked_seen:
                self._blocked_seen.add(payee)
                store.block_payee(payee)

    def _build(self, store: FeatureStore) -> RiskEngine:
        self._generation = generation(self.rt)
        live, shadow, model = current_configuration(self.rt)
        return RiskEngine(
            store,
            live,
            self.rt.policy.risk,
            model=model,
            shadow=shadow,
            lock=self._store_lock,
            decided=self._decided,
        )


def generation(rt: Runtime) -> Generation:
    """What identifies the configuration in force: the newest live and shadow rule sets and the
    live model."""
    with rt.db.read() as session:
        rows = session.execute(
            select(RiskRuleSetVersion.status, func.max(RiskRuleSetVersion.id))
            .where(RiskRuleSetVersion.status.in_(("live", "shadow")))
            .group_by(RiskRuleSetVersion.status)
        ).all()
        model = session.execute(
            select(func.max(RiskModelVersion.id)).where(RiskModelVersion.status == "live")
        ).scalar()
    by_status = dict(rows)
    return by_status.get("live"), by_status.get("shadow"), model


def current_configuration(rt: Runtime) -> tuple[RuleSet, RuleSet | None, RiskModel | None]:
    with rt.db.read() as session:
        bodies = dict(
            session.execute(
                select(RiskRuleSetVersion.status, RiskRuleSetVersion.body)
                .where(RiskRuleSetVersion.status.in_(("live", "shadow")))
                .order_by(RiskRuleSetVersion.id)
            ).all()
        )
        model_body = session.execute(
            select(RiskModelVersion.body)
            .where(RiskModelVersion.status == "live")
            .order_by(RiskModelVersion.id.desc())
            .limit(1)
        ).scalar()
    live = parse_rule_set(bodies.get("live") or policy_rules_text(rt))
    shadow = parse_rule_set(bodies["shadow"]) if "shadow" in bodies else None
    model = RiskModel.load(model_body) if model_body else None
    return live, shadow, model


# ------------------------------------------------------------------ the event log and rebuild


class RiskEventLog:
    """Keeps the non-payment events the engine saw, written by a thread of its own: the hook is
    called inside other transactions, which must not wait for this one."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ebank-risk-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(10)

    def add(self, event: RiskEvent) -> None:
        self._queue.put(
            {
                "kind": event.kind.value,
                "customer_id": event.customer_id,
                "channel": event.channel,
                "device_id": event.device_id,
                "ip_hash": event.ip,
                "at": event.at,
            }
        )

    def flush(self) -> None:
        """Wait until what was added so far is written (tests, shutdown)."""
        done = threading.Event()
        self._queue.put({"_done": done})
        done.wait(10)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            stopping = None in batch
            rows = [row for row in batch if row is not None and "_done" not in row]
            try:
                if rows:
                    with self.rt.db.write_connection() as conn:
                        conn.execute(insert(RiskEventRecord), rows)
            except Exception as exc:  # a lost log line costs a feature after restart, no more
                log.error("risk event log: %s", type(exc).__name__)
            for row in batch:
                if row is not None and "_done" in row:
                    row["_done"].set()


def prune_event_log(rt: Runtime) -> int:
    """Forget the logins and security changes older than the policy keeps (``risk.event_log_days``:
    more than a rebuild and a training window with its month before need). Run by the worker."""
    cutoff = rt.clock.now() - timedelta(days=rt.policy.risk.event_log_days)
    with rt.db.write_connection() as conn:
        return conn.execute(delete(RiskEventRecord).where(RiskEventRecord.at < cutoff)).rowcount


def rebuild_store(rt: Runtime, store: FeatureStore) -> FeatureStore:
    """Replay what the windows still need from the event log (payments and risk events): the
    state a restart would otherwise lose. Labels and blocked payees follow (``sync_feedback``)."""
    now = rt.clock.now()
    replay_events(rt, now - timedelta(seconds=RETENTION), None, store.record)
    return store


def replay_events(
    rt: Runtime, since: datetime, until: datetime | None, handle: Callable[[Observation], object]
) -> None:
    """Hand every event the engine saw from ``since`` to before ``until`` (None: to this moment
    included) to ``handle``, in time order: the assessed payments (the observation's id is the
    payment's) and the other events."""
    end = until or datetime.max.replace(tzinfo=UTC)
    from ebank.channels.models import Payment

    assessed = func.coalesce(Payment.risk_assessed_at, Payment.created_at)
    with rt.db.read() as session:
        payments = session.execute(
            select(
                Payment.id,
                Payment.customer_id,
                assessed,
                Payment.amount,
                Payment.payee_hash,
                Payment.device_id,
                Payment.ip_hash,
                Payment.channel,
            ).where(assessed >= since, assessed < end, Payment.risk_outcome.is_not(None))
        ).all()
        events = session.execute(
            select(
                RiskEventRecord.kind,
                RiskEventRecord.customer_id,
                RiskEventRecord.at,
                RiskEventRecord.device_id,
                RiskEventRecord.ip_hash,
                RiskEventRecord.channel,
            ).where(RiskEventRecord.at >= since, RiskEventRecord.at < end)
        ).all()
    replay = [
        _observation(
            "payment", c, at, id=pid, amount=amount, payee=payee, device=dev, ip=ip, channel=ch
        )
        for pid, c, at, amount, payee, dev, ip, ch in payments
    ]
    replay += [
        _observation(kind, c, at, id="", amount=0, payee=None, device=dev, ip=ip, channel=ch)
        for kind, c, at, dev, ip, ch in events
    ]
    replay.sort(key=lambda o: o.at)
    for observation in replay:
        handle(observation)


def _observation(
    kind: str,
    customer: int,
    at: datetime,
    *,
    id: str,
    amount: int,
    payee: str | None,
    device: int | None,
    ip: str | None,
    channel: str,
) -> Observation:
    return Observation(
        id=id,
        kind=kind,
        customer=str(customer),
        at=at.timestamp(),
        amount=float(amount),
        payee=payee,
        device=None if device is None else str(device),
        ip=ip,
        channel=channel,
    )
