"""The Redis feature store against a real Redis: the same features as the in-process store, shared
by every process, and gone when the windows no longer need it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from tests.conftest import need_redis

from ebank.risk.features import DAY, Observation
from ebank.risk.redis_store import RedisStore
from ebank.risk.store import MemoryStore, observe

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(need_redis())
    yield connection
    connection.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    name = f"ebank-test:{uuid.uuid4().hex[:8]}:"
    yield name
    keys = list(client.scan_iter(match=name + "*"))
    if keys:
        client.delete(*keys)


def history(seed: int = 4) -> list[Observation]:
    """Two months of payments, security changes and logins by a few customers."""
    chance = random.Random(seed)
    events = []
    at = START
    for index in range(600):
        at += chance.uniform(60, 9 * 3600)
        customer = f"c{chance.randrange(6)}"
        kind = chance.choice(
            ["payment"] * 8 + ["login", "password_change", "new_device", "new_service"]
        )
        events.append(
            Observation(
                id=str(index),
                kind=kind,
                customer=customer,
                at=at,
                amount=round(chance.uniform(1, 900), 2) if kind == "payment" else 0.0,
                payee=f"p{chance.randrange(10)}" if kind == "payment" else None,
                device=f"d{chance.randrange(8)}",
                ip=f"10.0.0.{chance.randrange(5)}",
                channel=chance.choice(["online", "mobile"]),
                balance_before=1000.0,
            )
        )
    return events


def test_redis_and_memory_stores_compute_the_same_features(
    client: redis.Redis, prefix: str
) -> None:
    memory, shared = MemoryStore(), RedisStore(client, prefix)
    pending: list[Observation] = []
    for event in history():
        while pending and pending[0].at + 7 * DAY <= event.at:  # labels a week late
            late = pending.pop(0)
            fraud = int(late.id) % 9 == 0
            memory.label(late.customer, late.payee, late.at, fraud, late.amount)
            shared.label(late.customer, late.payee, late.at, fraud, late.amount)

        expected, got = observe(memory, event), observe(shared, event)

        assert got == pytest.approx(expected), event
        if event.kind == "payment":
            pending.append(event)


def test_a_second_process_sees_what_the_first_recorded(client: redis.Redis, prefix: str) -> None:
    first, second = (
        RedisStore(client, prefix),
        RedisStore(redis.Redis.from_url(need_redis()), prefix),
    )
    observe(first, Observation("1", "payment", "c1", START, 500.0, payee="p1", device="d1"))

    features = observe(second, Observation("2", "payment", "c1", START + 60, 20.0, payee="p1"))

    assert features["customer_count_1h"] == 1
    assert features["first_payee"] == 0


def test_activity_beyond_the_longest_window_is_dropped_and_keys_expire(
    client: redis.Redis, prefix: str
) -> None:
    store = RedisStore(client, prefix)
    observe(store, Observation("1", "payment", "c1", START, 10.0, payee="p1"))
    observe(store, Observation("2", "payment", "c1", START + 31 * DAY, 20.0, payee="p1"))

    key = prefix + "a:c:c1"
    assert client.zcard(key) == 1
    assert 0 < client.ttl(key) <= 61 * DAY
