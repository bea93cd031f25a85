"""Risk-engine benchmark: ``risk.assess`` with the starter rule set and a trained model.

A synthetic bank (customers paying payees for 60 days, stolen cards and a compromised payee among
them) trains the model through the backtest's own path (:mod:`ebank.risk.backtest`); the engine
is then warmed with that history and measured, one decision at a time, on payments it has not
seen — once with the in-process store, once with the Redis store (``--redis-url``, default the
local Redis; the benchmark's keys are deleted afterwards). The last line printed is one JSON
object: ``{"memory": {"decisions_per_s", "p50_ms", "p99_ms"}, "redis": {...}}``.

    python bench/risk.py [--decisions N] [--customers N] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ebank.app import tune_collector
from ebank.config import PROJECT_ROOT, Settings
from ebank.policy import load_policy_file
from ebank.risk import backtest
from ebank.risk.assessment import EventKind, RiskEvent
from ebank.risk.engine import RiskEngine, observation_of
from ebank.risk.redis_store import RedisStore
from ebank.risk.rules import parse_rule_set
from ebank.risk.store import FeatureStore, MemoryStore

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 60


def _history(path: Path, customers: int, seed: int = 11) -> list[tuple[datetime, int, int, float]]:
    chance = random.Random(seed)
    usual = {customer: chance.uniform(10, 400) for customer in range(customers)}
    compromised = {chance.randrange(customers * 2) for _ in range(20)}
    rows = []
    for day in range(DAYS):
        for customer, mean in usual.items():
            for _ in range(chance.randint(0, 2)):
                at = START + timedelta(days=day, seconds=chance.randint(0, 86_399))
                payee = chance.randrange(customers * 2)
                amount = max(1.0, chance.gauss(mean, mean / 3))
                fraud = int(payee in compromised and day % 20 < 10)
                if chance.random() < 0.01:
                    amount, fraud = amount * 6, 1
                rows.append((at, customer, payee, round(amount, 2), fraud))
    rows.sort()
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(backtest.COLUMNS)
        for index, (at, customer, payee, amount, fraud) in enumerate(rows):
            writer.writerow([index, at.isoformat(), customer, payee, amount, fraud])
    return [(at, customer, payee, amount) for at, customer, payee, amount, _ in rows]


def _event(at: datetime, customer: int, payee: int, amount: float, payment: str) -> RiskEvent:
    """A confirmed payment as the channels show it (with its id: the store counts it once)."""
    return RiskEvent(
        kind=EventKind.PAYMENT,
        customer_id=customer,
        at=at,
        channel="online",
        amount=round(amount * 100),
        balance_before=round(amount * 100) * 10,
        payee_key=str(payee),
        device_id=customer,
        ip=f"10.0.{customer % 250}.{customer % 7}",
        details={"payment": payment},
    )


def _measure(engine: RiskEngine, events: list[RiskEvent]) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    for event in events:
        began = time.perf_counter()
        engine.assess(event)
        latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "decisions_per_s": round(len(events) / seconds, 1),
        "p50_ms": round(cuts[49] * 1000, 3),
        "p99_ms": round(cuts[98] * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument(
        "--redis-url", default=os.environ.get("EBANK_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ebank-bench-risk-"))
    print("training the model on a synthetic history…", file=sys.stderr)
    history = _history(workdir / "history.csv.gz", args.customers)
    first = START.date()
    windows = backtest.Windows(
        first + timedelta(days=30), first + timedelta(days=44),
        first + timedelta(days=52), first + timedelta(days=DAYS - 1), 7,
    )  # fmt: skip
    result = backtest.run(backtest.read_transactions(workdir / "history.csv.gz"), windows)

    policy = load_policy_file(PROJECT_ROOT / "policies" / "cn.yaml").risk
    rules = parse_rule_set(
        (PROJECT_ROOT / "policies" / "rules" / f"{policy.rules}.yaml").read_text(encoding="utf-8")
    )
    figures: dict[str, object] = {"benchmark": "risk", "rules": len(rules.rules)}
    known = [observation_of(_event(*entry, f"h{i}")) for i, entry in enumerate(history)]
    chance = random.Random(5)
    later = START + timedelta(days=DAYS)
    events = [
        _event(
            later + timedelta(seconds=index * 0.5),
            chance.randrange(args.customers),
            chance.randrange(args.customers * 2),
            chance.uniform(5, 800),
            f"p{index}",
        )
        for index in range(args.decisions)
    ]
    tune_collector(Settings().gc_young_threshold)  # as `ebank serve` runs
    for name, store in _stores(args.redis_url):
        engine = RiskEngine(store, rules, policy, model=result.model)
        print(f"{name}: learning the history, then {args.decisions} decisions…", file=sys.stderr)
        for observation in known:  # the engine knows the bank's history
            store.record(observation)
        figures[name] = _measure(engine, events)
        if isinstance(store, RedisStore):
            _clean(store)
    print(json.dumps(figures))
    return 0


def _stores(redis_url: str) -> Iterator[tuple[str, FeatureStore]]:
    yield "memory", MemoryStore()
    yield "redis", RedisStore.from_url(redis_url, prefix=f"ebank-bench:{uuid.uuid4().hex[:8]}:")


def _clean(store: RedisStore) -> None:
    keys = list(store.redis.scan_iter(match=store.prefix + "*", count=10_000))
    for start in range(0, len(keys), 10_000):
        store.redis.delete(*keys[start : start + 10_000])


if __name__ == "__main__":
    sys.exit(main())
