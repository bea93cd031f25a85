"""``ebank aml scan``: every typology and the large-value criteria over the ledger's days, alerts
grouped into cases per customer, large-value reports with their deadlines.

A scan reports on a span of the bank's local days and loads enough history before it for every
typology's window. Without dates it carries on from the last finished scan up to yesterday, so a
daily run covers each day once. Running the same days again changes nothing: alerts and reports
are keyed by what they are about.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ebank.aml.calendar import calendar_for
from ebank.aml.dataset import load_ledger, scan_database
from ebank.aml.large_value import LargeValueHit, large_value_hits, report_deadline
from ebank.aml.models import AmlAlert, AmlCase, AmlScanRun, LargeValueReport
from ebank.aml.typologies import Context, Days, Hit, detectors, lookback_days, with_flows
from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.common.actor import Actor
from ebank.common.errors import Unprocessable
from ebank.common.money import currency_exponent
from ebank.policy import AmlPolicy
from ebank.runtime import Runtime

Progress = Callable[[str], None]
CRITERION_CODES = {
    "cash": "C",
    "company_transfer": "T",
    "individual_domestic": "D",
    "individual_cross_border": "X",
}


@dataclass(frozen=True)
class ScanSummary:
    scan_id: int | None
    first_day: date
    last_day: date
    movements: int
    hits: int
    alerts_created: int
    large_value_reports_created: int
    hits_by_typology: dict[str, int]


def scan_days(rt: Runtime, first_day: date | None, last_day: date | None) -> Days | None:
    """The days to scan: as given, or from the day after the last finished scan (yesterday on
    the first run) to yesterday. ``None`` when there is nothing new."""
    yesterday = rt.local_today() - timedelta(days=1)
    last = last_day or yesterday
    if first_day is None:
        with rt.db.read() as session:
            done = session.scalar(
                select(AmlScanRun.last_day)
                .where(AmlScanRun.status == "done")
                .order_by(AmlScanRun.last_day.desc())
                .limit(1)
            )
        first_day = done + timedelta(days=1) if done else last
    if first_day > last:
        if last_day is not None:
            raise Unprocessable("bad_days", "The first day is after the last.", field="from")
        return None
    return Days(first_day, last)


def run_scan(
    rt: Runtime,
    actor: Actor,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    progress: Progress = lambda _step: None,
) -> ScanSummary:
    days = scan_days(rt, first_day, last_day)
    if days is None:
        today = rt.local_today()
        return ScanSummary(None, today, today - timedelta(days=1), 0, 0, 0, 0, {})
    policy = rt.policy.aml
    scan_id = _start(rt, actor, days)
    try:
        summary = _scan(rt, actor, policy=policy, scan_id=scan_id, days=days, progress=progress)
    except Exception:
        _finish(rt, scan_id, "failed")
        raise
    return summary


def scan_if_due(rt: Runtime, actor: Actor) -> ScanSummary | None:
    """The nightly scan, for the background worker: scan up to yesterday unless a finished scan
    already has."""
    if scan_days(rt, None, None) is None:
        return None
    return run_scan(rt, actor)


def scan_steps(policy: AmlPolicy) -> list[str]:
    """What a scan does, in order (the progress bar's steps)."""
    return [
        "load",
        *detectors(policy.typologies),
        "large_value",
        *(f"large_value {currency}" for currency in policy.large_value.foreign),
        "record",
    ]


def _scan(
    rt: Runtime,
    actor: Actor,
    *,
    policy: AmlPolicy,
    scan_id: int,
    days: Days,
    progress: Progress,
) -> ScanSummary:
    progress("load")
    home = rt.policy.currency
    ctx, movements = _load(rt, policy, days, home, lookback_days(policy.typologies))
    hits: list[Hit] = []
    for name, detect in detectors(policy.typologies).items():
        progress(name)
        hits += detect(ctx)
    hits = with_flows(ctx, hits)
    progress("large_value")
    reports = large_value_hits(ctx, policy.large_value, home)
    customers = _customers_of(ctx.con, {h.subject for h in hits})
    ours = [h for h in hits if h.subject in customers]
    ctx.con.close()  # before the next currency's tables take its memory
    for currency, thresholds in policy.large_value.foreign.items():
        progress(f"large_value {currency}")
        foreign, count = _load(rt, policy, days, currency, 0)
        reports += large_value_hits(foreign, thresholds, currency)
        foreign.con.close()
        movements += count
    progress("record")
    alerts_created, reports_created = _record(
        rt, actor, policy=policy, scan_id=scan_id, hits=ours, customers=customers, reports=reports
    )
    _finish(
        rt,
        scan_id,
        "done",
        flows=movements,
        alerts=alerts_created,
        reports=reports_created,
    )
    by_typology: dict[str, int] = {}
    for hit in ours:
        by_typology[hit.typology] = by_typology.get(hit.typology, 0) + 1
    return ScanSummary(
        scan_id,
        days.first,
        days.last,
        movements,
        len(ours),
        alerts_created,
        reports_created,
        by_typology,
    )


def _load(
    rt: Runtime, policy: AmlPolicy, days: Days, currency: str, lookback: int
) -> tuple[Context, int]:
    """The scan's tables for the movements in ``currency`` of ``days`` and the ``lookback`` days
    before them, and how many movements that is."""
    con = scan_database()
    with rt.db.read() as session:
        # One snapshot for the whole extract: postings, accounts and identifiers agree.
        options = {"isolation_level": "REPEATABLE READ"} if rt.db.is_postgres else {}
        conn = session.connection(execution_options=options)
        extract = load_ledger(
            conn,
            con,
            first_day=days.first - timedelta(days=lookback),
            last_day=days.last,
            zone=rt.policy.zone,
            currency=currency,
            home_country=policy.home_country,
        )
    ctx = Context(con, days, 10 ** currency_exponent(currency), policy.large_value)
    return ctx, extract.flows


def _customers_of(con: duckdb.DuckDBPyConnection, nodes: set[int]) -> dict[int, int]:
    if not nodes:
        return {}
    rows = con.execute(
        "SELECT node, customer FROM parties WHERE customer IS NOT NULL AND list_contains(?, node)",
        [sorted(nodes)],
    ).fetchall()
    return dict(rows)


def _start(rt: Runtime, actor: Actor, days: Days) -> int:
    with rt.db.write() as session:
        run = AmlScanRun(
            first_day=days.first,
            last_day=days.last,
            status="running",
            started_by=actor.id,
            started_at=rt.clock.now(),
        )
        session.add(run)
        session.flush()
        return run.id


def _finish(
    rt: Runtime, scan_id: int, status: str, *, flows: int = 0, alerts: int = 0, reports: int = 0
) -> None:
    with rt.db.write() as session:
        run = session.get_one(AmlScanRun, scan_id)
        run.status, run.flows = status, flows
        run.alerts_created, run.reports_created = alerts, reports
        run.finished_at = rt.clock.now()


RECORD_ATTEMPTS = 3


def _record(
    rt: Runtime,
    actor: Actor,
    *,
    policy: AmlPolicy,
    scan_id: int,
    hits: Sequence[Hit],
    customers: dict[int, int],
    reports: Sequence[LargeValueHit],
) -> tuple[int, int]:
    """Record what is new, retrying when a concurrent scan recorded the same (its customer's
    open case, most likely) first: the retry sees theirs and adds only what is left."""
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            return _record_once(
                rt,
                actor,
                policy=policy,
                scan_id=scan_id,
                hits=hits,
                customers=customers,
                reports=reports,
            )
        except IntegrityError:
            if attempt == RECORD_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _record_once(
    rt: Runtime,
    actor: Actor,
    *,
    policy: AmlPolicy,
    scan_id: int,
    hits: Sequence[Hit],
    customers: dict[int, int],
    reports: Sequence[LargeValueHit],
) -> tuple[int, int]:
    now = rt.clock.now()
    with rt.db.write() as session:
        alerts = sum(
            _record_alert(
                session,
                rt,
                scan_id=scan_id,
                hit=hit,
                customer_id=customers[hit.subject],
                now=now,
            )
            for hit in hits
        )
        filed = sum(
            _record_report(session, rt, policy=policy, scan_id=scan_id, hit=r, now=now)
            for r in reports
        )
        audit.record(
            session,
            AuditEntry(
                actor,
                "aml.scan",
                "aml_scan_run",
                str(scan_id),
                after={"alerts_created": alerts, "large_value_reports_created": filed},
            ),
            now,
        )
    return alerts, filed


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def _insert_new(session: Session, row: AmlAlert | LargeValueReport) -> bool:
    """Insert ``row`` unless its fingerprint is already there (another scan found it first)."""
    model = type(row)
    values = {c.key: getattr(row, c.key) for c in model.__table__.columns if c.key != "id"}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(values)
        .on_conflict_do_nothing(index_elements=["fingerprint"])
        .returning(model.id)
    )
    return session.execute(statement).first() is not None


def _record_alert(
    session: Session, rt: Runtime, *, scan_id: int, hit: Hit, customer_id: int, now: datetime
) -> bool:
    fingerprint = _fingerprint(hit.typology, hit.subject, hit.first_day, hit.last_day)
    if session.scalar(select(AmlAlert.id).where(AmlAlert.fingerprint == fingerprint)):
        return False
    case = _open_case(session, customer_id, hit, now)
    return _insert_new(
        session,
        AmlAlert(
            fingerprint=fingerprint,
            scan_id=scan_id,
            case_id=case.id,
            customer_id=customer_id,
            account_id=hit.subject,
            typology=hit.typology,
            first_day=hit.first_day,
            last_day=hit.last_day,
            amount=hit.amount,
            currency=rt.policy.currency,
            transfer_count=hit.count or len(hit.transfer_ids),
            score=hit.score,
            facts=json.dumps(hit.facts, ensure_ascii=False, sort_keys=True, default=str),
            members=json.dumps(list(hit.members)),
            transfer_ids=json.dumps(list(hit.transfer_ids)),
            created_at=now,
        ),
    )


def _open_case(session: Session, customer_id: int, hit: Hit, now: datetime) -> AmlCase:
    """The customer's open case (locked), or a new one; the hit raises its score and adds its
    typology."""
    case = session.scalar(
        select(AmlCase)
        .where(AmlCase.customer_id == customer_id, AmlCase.status == "open")
        .with_for_update()
    )
    if case is None:
        case = AmlCase(
            customer_id=customer_id,
            status="open",
            score=hit.score,
            typologies="[]",
            opened_at=now,
            updated_at=now,
        )
        session.add(case)
    typologies = sorted({*json.loads(case.typologies), hit.typology})
    case.typologies = json.dumps(typologies)
    case.score = max(case.score, hit.score)
    case.updated_at = now
    session.flush()
    return case


def _record_report(
    session: Session,
    rt: Runtime,
    *,
    policy: AmlPolicy,
    scan_id: int,
    hit: LargeValueHit,
    now: datetime,
) -> bool:
    calendar = calendar_for(rt.settings.policy_dir, policy.calendar)
    code = f"{CRITERION_CODES[hit.criterion]}{'I' if hit.direction == 'in' else 'O'}"
    about: tuple[object, ...] = (hit.customer, hit.day, hit.criterion, hit.direction)
    reference = f"LVR-{hit.day:%Y%m%d}-{hit.customer:08d}-{code}"
    if hit.currency != rt.policy.currency:  # the home currency's keys predate foreign ones
        about, reference = (*about, hit.currency), f"{reference}-{hit.currency}"
    return _insert_new(
        session,
        LargeValueReport(
            fingerprint=_fingerprint(*about),
            scan_id=scan_id,
            customer_id=hit.customer,
            transaction_day=hit.day,
            criterion=hit.criterion,
            direction=hit.direction,
            total=hit.total,
            largest=hit.largest,
            currency=hit.currency,
            transfer_count=hit.count,
            accounts=json.dumps(list(hit.accounts)),
            transfer_ids=json.dumps(list(hit.transfer_ids)),
            deadline=report_deadline(calendar, hit.day, policy.large_value.report_working_days),
            status="due",
            report_ref=reference,
            created_at=now,
        ),
    )


@dataclass(frozen=True)
class ScanRunView:
    id: int
    first_day: date
    last_day: date
    status: str
    movements: int
    alerts_created: int
    reports_created: int
    started_by: str
    started_at: datetime
    finished_at: datetime | None


def recent_scans(rt: Runtime, limit: int = 20) -> list[ScanRunView]:
    with rt.db.read() as session:
        rows = session.scalars(select(AmlScanRun).order_by(AmlScanRun.id.desc()).limit(limit))
        return [
            ScanRunView(
                r.id,
                r.first_day,
                r.last_day,
                r.status,
                r.flows,
                r.alerts_created,
                r.reports_created,
                r.started_by,
                r.started_at,
                r.finished_at,
            )
            for r in rows
        ]
