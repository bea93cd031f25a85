"""Ledger posting benchmark.

Posts 20,000 transfers among 10,000 accounts through the group-commit posting engine, from many
concurrent client threads that each wait for their own acknowledgement (a durable commit), then
5,000 transfers that all touch one hot internal account, then verifies every ledger invariant.

    python bench/ledger.py --backend sqlite|postgres [--transfers N] [--accounts N] [--clients N]

PostgreSQL comes from EBANK_DATABASE_URL (default: the local ``test`` database, over the server's
Unix socket where it has one, as an app on the database's host connects); the benchmark
works in a schema of its own and drops it afterwards. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from ebank.common.actor import SYSTEM
from ebank.common.crypto import generate_keys_document
from ebank.config import PROJECT_ROOT, Settings
from ebank.db import normalize_url, table_of
from ebank.ledger.accounts import PRODUCTS, Product
from ebank.ledger.models import Account
from ebank.ledger.posting import TransferRequest
from ebank.ledger.service import ensure_internal_accounts, internal_account_id
from ebank.ledger.verify import verify_ledger
from ebank.migrate import upgrade
from ebank.runtime import Runtime, build_runtime

LOCAL_SOCKET_DIR = Path("/var/run/postgresql")
DEFAULT_POSTGRES = (
    f"postgresql+psycopg://postgres@/test?host={LOCAL_SOCKET_DIR}"
    if (LOCAL_SOCKET_DIR / ".s.PGSQL.5432").exists()
    else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
OPENING_BALANCE = 100_000_000


def bench_settings(url: str, var_dir: Path) -> Settings:
    keys = generate_keys_document()
    data_keys = ",".join(f"{k}:{v}" for k, v in keys["data_keys"].items())  # type: ignore[attr-defined]
    return Settings(
        database_url=url,
        var_dir=var_dir,
        policy_dir=PROJECT_ROOT / "policies",
        data_keys=data_keys,
        lookup_key=str(keys["lookup_key"]),
        background_interval_s=0,
    )


def bench_database(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    base = os.environ.get("EBANK_DATABASE_URL", DEFAULT_POSTGRES)
    if not base.startswith("postgres"):
        base = DEFAULT_POSTGRES
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(normalize_url(base))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", schema


def drop_bench_schema(schema: str) -> None:
    base = os.environ.get("EBANK_DATABASE_URL", DEFAULT_POSTGRES)
    engine = create_engine(normalize_url(base if base.startswith("postgres") else DEFAULT_POSTGRES))
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _create_accounts(rt: Runtime, count: int) -> list[int]:
    """Customer accounts in bulk (set-up, not measured), funded from the bank's equity."""
    rules = PRODUCTS[Product.PERSONAL_I]
    now = datetime.now(UTC)
    rows = [
        {
            "kind": "customer",
            "product": Product.PERSONAL_I.value,
            "name": f"bench {n}",
            "number_masked": f"BENCH-{n}",
            "currency": "CNY",
            "normal_side": rules.normal_side,
            "debits_must_not_exceed_credits": rules.no_overdraft,
            "credits_must_not_exceed_debits": rules.no_negative_asset,
            "status": "active",
            "debits_pending": 0,
            "debits_posted": 0,
            "credits_pending": 0,
            "credits_posted": 0,
            "outbound_day_amount": 0,
            "outbound_year_amount": 0,
            "opened_at": now,
        }
        for n in range(count)
    ]
    table = table_of(Account)
    with rt.db.write_connection() as conn:
        conn.execute(insert(table), rows)
        ids = [
            row[0] for row in conn.execute(text("SELECT id FROM accounts WHERE kind = 'customer'"))
        ]
    equity = internal_account_id(rt, Product.EQUITY)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        results = rt.posting.submit(
            [TransferRequest(f"open-{a}", equity, a, OPENING_BALANCE, "CNY") for a in chunk]
        )
        assert all(r.ok for r in results)
    return ids


def _run(
    rt: Runtime, make_request: object, total: int, clients: int
) -> tuple[float, list[float], int]:
    """``clients`` threads submit one transfer at a time until ``total`` are acknowledged."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def client(seed: int) -> None:
        nonlocal failures
        rng = random.Random(seed)
        own: list[float] = []
        bad = 0
        for _ in iter(lambda: next(counter, None), None):
            request = make_request(rng)  # type: ignore[operator]
            started = time.perf_counter()
            [result] = rt.posting.submit([request])
            own.append(time.perf_counter() - started)
            bad += not result.ok
        with lock:
            latencies.extend(own)
            failures += bad

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, failures


def _p99_ms(latencies: list[float]) -> float:
    return round(statistics.quantiles(latencies, n=100)[98] * 1000, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--hot-transfers", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=128)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, schema = bench_database(args.backend, workdir)
        rt = build_runtime(bench_settings(url, workdir))
        try:
            upgrade(rt.db)
            ensure_internal_accounts(rt)
            accounts = _create_accounts(rt, args.accounts)
            fees = internal_account_id(rt, Product.FEE_INCOME)

            def spread(rng: random.Random) -> TransferRequest:
                debit, credit = rng.sample(accounts, 2)
                return TransferRequest(
                    uuid.uuid4().hex,
                    debit,
                    credit,
                    rng.randint(1, 10_000),
                    "CNY",
                    created_by=SYSTEM.ref,
                )

            def hot(rng: random.Random) -> TransferRequest:
                return TransferRequest(
                    uuid.uuid4().hex,
                    rng.choice(accounts),
                    fees,
                    rng.randint(1, 100),
                    "CNY",
                    code="fee",
                )

            seconds, latencies, failures = _run(rt, spread, args.transfers, args.clients)
            hot_seconds, _, hot_failures = _run(rt, hot, args.hot_transfers, args.clients)
            with rt.db.read() as session:
                report = verify_ledger(session.connection())
        finally:
            rt.close()
            if schema:
                drop_bench_schema(schema)

    figures = {
        "backend": args.backend,
        "transfers": args.transfers,
        "seconds": round(seconds, 3),
        "transfers_per_s": round(args.transfers / seconds, 1),
        "p99_ms": _p99_ms(latencies),
        "hot_account_transfers_per_s": round(args.hot_transfers / hot_seconds, 1),
        "failed": failures + hot_failures,
        "invariants_ok": report.ok and failures + hot_failures == 0,
    }
    print(json.dumps(figures))
    return 0 if figures["invariants_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
