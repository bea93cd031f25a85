"""The hash chain as pure functions: what ``verify_chain`` catches and which record it names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ebank.audit.chain import ChainedRecord, canonical_json, record_hash, verify_chain
from ebank.audit.models import GENESIS_HASH

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def make_chain(count: int) -> list[ChainedRecord]:
    records: list[ChainedRecord] = []
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        fields = {
            "seq": seq,
            "at": T0 + timedelta(seconds=seq, microseconds=seq),
            "actor_kind": "staff",
            "actor_id": str(100 + seq % 3),
            "actor_role": "teller" if seq % 2 else None,
            "action": "customer.update",
            "entity_type": "customer",
            "entity_id": str(seq),
            "before_json": None if seq == 1 else canonical_json({"occupation": f"job {seq - 1}"}),
            "after_json": canonical_json({"occupation": f"job {seq}", "name": "*三"}),
        }
        digest = record_hash(prev_hash=prev, **fields)  # type: ignore[arg-type]
        records.append(ChainedRecord(prev_hash=prev, hash=digest, **fields))  # type: ignore[arg-type]
        prev = digest
    return records


def head_of(records: list[ChainedRecord]) -> tuple[int, str]:
    return (records[-1].seq, records[-1].hash) if records else (0, GENESIS_HASH)


CHAIN = make_chain(6)
HEAD_SEQ, HEAD_HASH = head_of(CHAIN)


def test_an_intact_chain_verifies() -> None:
    report = verify_chain(CHAIN, HEAD_SEQ, HEAD_HASH)
    assert report.ok
    assert report.checked == 6
    assert report.first_bad_seq is None
    assert report.reason is None


def test_an_empty_chain_with_head_zero_is_ok() -> None:
    report = verify_chain([], 0, GENESIS_HASH)
    assert report.ok
    assert report.checked == 0


def test_an_empty_chain_whose_head_says_records_existed_is_caught() -> None:
    report = verify_chain([], 3, "ab" * 32)
    assert not report.ok
    assert report.first_bad_seq == 1


def test_the_hash_depends_on_every_field_and_the_previous_hash() -> None:
    record = CHAIN[2]
    base = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "hash"}
    assert record_hash(**base) == record.hash
    for name, other in {
        "prev_hash": "f" * 64,
        "seq": 99,
        "at": record.at + timedelta(microseconds=1),
        "actor_kind": "system",
        "actor_id": "999",
        "actor_role": "admin",
        "action": "customer.create",
        "entity_type": "account",
        "entity_id": "4",
        "before_json": '{"occupation":"thief"}',
        "after_json": None,
    }.items():
        assert record_hash(**{**base, name: other}) != record.hash, name


ALTERATIONS: dict[str, Any] = {
    "at": T0 - timedelta(days=1),
    "actor_kind": "system",
    "actor_id": "1",
    "actor_role": "auditor",
    "action": "customer.delete",
    "entity_type": "account",
    "entity_id": "77",
    "before_json": '{"occupation":"banker"}',
    "after_json": '{"occupation":"job 0","name":"*三"}',
    "prev_hash": "e" * 64,
    "hash": "d" * 64,
}


@pytest.mark.parametrize("k", [1, 3, 6])
@pytest.mark.parametrize("field", sorted(ALTERATIONS))
def test_altering_any_field_of_record_k_names_record_k(field: str, k: int) -> None:
    records = list(CHAIN)
    records[k - 1] = dataclasses.replace(records[k - 1], **{field: ALTERATIONS[field]})
    report = verify_chain(records, HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == k
    assert report.checked == k - 1
    assert report.reason


def test_altering_a_json_value_without_changing_its_meaning_is_still_caught() -> None:
    records = list(CHAIN)
    original = records[3].after_json
    assert original is not None
    records[3] = dataclasses.replace(records[3], after_json=original.replace(",", ", "))
    assert verify_chain(records, HEAD_SEQ, HEAD_HASH).first_bad_seq == 4


@pytest.mark.parametrize("k", [2, 3, 5])
def test_removing_a_middle_record_names_the_first_missing_seq(k: int) -> None:
    records = [r for r in CHAIN if r.seq != k]
    report = verify_chain(records, HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == k
    assert report.reason is not None
    assert "missing" in report.reason


def test_removing_several_middle_records_names_the_first_one() -> None:
    records = [r for r in CHAIN if r.seq not in (3, 4)]
    report = verify_chain(records, HEAD_SEQ, HEAD_HASH)
    assert report.first_bad_seq == 3


def test_removing_the_first_record_is_caught() -> None:
    report = verify_chain(CHAIN[1:], HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == 1


@pytest.mark.parametrize(("a", "b"), [(2, 3), (1, 6), (4, 5)])
def test_swapping_two_records_is_reported(a: int, b: int) -> None:
    records = list(CHAIN)
    records[a - 1], records[b - 1] = records[b - 1], records[a - 1]
    report = verify_chain(records, HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == a


def test_swapping_contents_but_keeping_seq_numbers_is_reported() -> None:
    """Records 2 and 3 trade everything but their position and sequence number."""
    records = list(CHAIN)
    second, third = records[1], records[2]
    records[1] = dataclasses.replace(third, seq=2)
    records[2] = dataclasses.replace(second, seq=3)
    report = verify_chain(records, HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == 2


@pytest.mark.parametrize("removed", [1, 2, 6])
def test_removing_the_last_records_is_caught_through_the_head(removed: int) -> None:
    records = CHAIN[:-removed]
    report = verify_chain(records, HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == 7 - removed
    assert report.checked == 6 - removed


def test_an_extra_record_after_the_head_is_caught() -> None:
    longer = make_chain(7)  # a well-formed record 7, chained to record 6
    assert longer[:6] == CHAIN
    report = verify_chain(longer, HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == 7


def test_a_head_that_does_not_match_the_last_record_is_caught() -> None:
    report = verify_chain(CHAIN, HEAD_SEQ, "c" * 64)
    assert not report.ok
    assert report.first_bad_seq == 6


def test_a_rewritten_tail_is_caught_by_the_head() -> None:
    """An attacker rewrites record 6 and recomputes its hash but cannot move the head."""
    last = CHAIN[-1]
    forged_fields = {
        f.name: getattr(last, f.name)
        for f in dataclasses.fields(last)
        if f.name not in ("hash", "after_json")
    }
    forged_fields["after_json"] = '{"occupation":"forged"}'
    forged = ChainedRecord(hash=record_hash(**forged_fields), **forged_fields)
    report = verify_chain([*CHAIN[:-1], forged], HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq == 6


def test_a_rehashed_middle_record_breaks_the_next_link() -> None:
    """Record 3 rewritten with a fresh hash: record 4 no longer links to it."""
    target = CHAIN[2]
    fields = {
        f.name: getattr(target, f.name)
        for f in dataclasses.fields(target)
        if f.name not in ("hash", "after_json")
    }
    fields["after_json"] = '{"occupation":"forged"}'
    forged = ChainedRecord(hash=record_hash(**fields), **fields)
    report = verify_chain([*CHAIN[:2], forged, *CHAIN[3:]], HEAD_SEQ, HEAD_HASH)
    assert not report.ok
    assert report.first_bad_seq in (3, 4)
