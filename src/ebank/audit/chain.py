"""The hash chain: how a record's hash is computed, and how a sequence of records is verified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ebank.audit.models import GENESIS_HASH


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class ChainedRecord:
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str
    before_json: str | None
    after_json: str | None
    prev_hash: str
    hash: str


def record_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor_kind: str,
    actor_id: str,
    actor_role: str | None,
    action: str,
    entity_type: str,
    entity_id: str,
    before_json: str | None,
    after_json: str | None,
) -> str:
    body = canonical_json(
        [
            seq,
            at.isoformat(timespec="microseconds"),
            actor_kind,
            actor_id,
            actor_role,
            action,
            entity_type,
            entity_id,
            before_json,
            after_json,
        ]
    )
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


def recompute(record: ChainedRecord) -> str:
    return record_hash(
        prev_hash=record.prev_hash,
        seq=record.seq,
        at=record.at,
        actor_kind=record.actor_kind,
        actor_id=record.actor_id,
        actor_role=record.actor_role,
        action=record.action,
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        before_json=record.before_json,
        after_json=record.after_json,
    )


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_chain(records: Iterable[ChainedRecord], head_seq: int, head_hash: str) -> ChainReport:
    """Walk the records in storage order; name the first one altered, removed or reordered.

    A record's own content is checked against its hash; its link against the previous record's
    hash; its position against the previous sequence number. The head (last seq and hash) catches
    records removed from the end.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for record in records:
        if record.seq != expected_seq:
            missing = record.seq > expected_seq
            reason = (
                f"record {expected_seq} is missing (next present is {record.seq})"
                if missing
                else f"record {record.seq} is out of order (expected {expected_seq})"
            )
            return ChainReport(False, checked, min(record.seq, expected_seq), reason)
        if recompute(record) != record.hash:
            return ChainReport(False, checked, record.seq, f"record {record.seq} was altered")
        if record.prev_hash != expected_prev:
            return ChainReport(
                False, checked, record.seq, f"record {record.seq} does not link to its predecessor"
            )
        expected_prev = record.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if head_seq > last_seq:
        return ChainReport(
            False, checked, last_seq + 1, f"records {last_seq + 1}..{head_seq} were removed"
        )
    if head_seq < last_seq:
        return ChainReport(
            False, checked, head_seq + 1, f"record {head_seq + 1} was added outside the chain head"
        )
    if head_hash != expected_prev:
        return ChainReport(
            False, checked, last_seq, f"record {last_seq} does not match the chain head"
        )
    return ChainReport(True, checked)
