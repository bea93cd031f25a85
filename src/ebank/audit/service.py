"""Appending to the audit trail (inside the caller's transaction) and reading it back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from ebank.audit.chain import ChainedRecord, ChainReport, canonical_json, record_hash, verify_chain
from ebank.audit.models import GENESIS_HASH, AuditHead, AuditRecord
from ebank.common.actor import Actor
from ebank.db import DirectRead, driver_execute, json_insert, table_of

HEAD_ID = 1
_RECORDS = table_of(AuditRecord)
_RECORDS = table_of(AuditRecord)


@dataclass(frozen=True)
class AuditEntry:
    actor: Actor
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def append(conn: Connection, entries: Sequence[AuditEntry], at: datetime) -> None:
    """Chain ``entries`` after the current head, in the caller's transaction.

    The head row is locked for the rest of the transaction, so concurrent appenders (threads or
    processes) queue behind one another and the chain stays linear.
    """
    if not entries:
        return
    seq, prev = _lock_head(conn)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        after = entry.after if not entry.extra else {**(entry.after or {}), **entry.extra}
        row: dict[str, Any] = {
            "seq": seq,
            "at": at,
            "actor_kind": entry.actor.kind,
            "actor_id": entry.actor.id,
            "actor_role": entry.actor.role,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "before_json": None if entry.before is None else canonical_json(entry.before),
            "after_json": None if after is None else canonical_json(after),
            "prev_hash": prev,
        }
        row["hash"] = record_hash(**row)
        prev = row["hash"]
        rows.append(row)
    if conn.dialect.name == "postgresql":  # the records and the new head in one statement
        inserted, document = json_insert(_RECORDS, rows, "rows")
        driver_execute(
            conn,
            f"WITH appended AS ({inserted}) "  # noqa: S608 -- the insert is built from the table's own columns
            "UPDATE audit_head SET seq = %(seq)s, hash = %(hash)s WHERE id = %(head)s",
            {"rows": document, "seq": seq, "hash": prev, "head": HEAD_ID},
        )
        return
    conn.execute(insert(_RECORDS), rows)
    conn.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})


def record(session: Session, entry: AuditEntry, at: datetime) -> None:
    """Append one entry in the session's transaction (the usual case for a use case)."""
    append(session.connection(), [entry], at)


_HEAD = DirectRead(
    select(AuditHead.seq, AuditHead.hash)
    .where(AuditHead.id == HEAD_ID)
    .with_for_update(
        key_share=True
    )  # PostgreSQL; on SQLite the write transaction already excludes others
)
_MOVE_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == HEAD_ID)
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)


def _lock_head(conn: Connection) -> tuple[int, str]:
    head = next(iter(_HEAD.rows(conn)), None)
    if head is None:
        conn.execute(insert(AuditHead).values(id=HEAD_ID, seq=0, hash=GENESIS_HASH))
        return 0, GENESIS_HASH
    return int(head.seq), str(head.hash)


def iter_records(conn: Connection, batch: int = 5000) -> Iterator[ChainedRecord]:
    """All records in physical sequence order, streamed."""
    last = 0
    while records := find_records(conn, RecordFilter(), after=last, limit=batch):
        yield from records
        last = records[-1].seq


@dataclass(frozen=True)
class RecordFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    actor_id: str | None = None
    action: str | None = None


def find_records(
    conn: Connection, filters: RecordFilter, *, after: int = 0, limit: int = 100
) -> list[ChainedRecord]:
    query = select(_RECORDS).where(_RECORDS.c.seq > after).order_by(_RECORDS.c.seq).limit(limit)
    for column, value in (
        (_RECORDS.c.entity_type, filters.entity_type),
        (_RECORDS.c.entity_id, filters.entity_id),
        (_RECORDS.c.actor_id, filters.actor_id),
        (_RECORDS.c.action, filters.action),
    ):
        if value is not None:
            query = query.where(column == value)
    return [ChainedRecord(**row) for row in conn.execute(query).mappings()]


def head(conn: Connection) -> tuple[int, str]:

    row = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).first()
    return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))


def record_count(conn: Connection) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def verify(conn: Connection, records: Iterator[ChainedRecord] | None = None) -> ChainReport:
    head_seq, head_hash = head(conn)
    return verify_chain(records if records is not None else iter_records(conn), head_seq, head_hash)
