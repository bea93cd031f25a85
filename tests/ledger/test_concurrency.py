"""Many threads posting at once on PostgreSQL (and SQLite): conservation holds, no customer
balance goes negative, every acknowledged transfer is stored exactly once."""

from __future__ import annotations

import random
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from tests.conftest import START, make_settings
from tests.factories import funded_account, individual

from ebank.common.clock import ManualClock
from ebank.db import normalize_url
from ebank.ledger.accounts import Product
from ebank.ledger.models import Account, Transfer
from ebank.ledger.posting import Code, TransferKind, TransferRequest
from ebank.ledger.service import ensure_internal_accounts, internal_account_id
from ebank.ledger.verify import verify_ledger
from ebank.ledger.writer import post_batch
from ebank.runtime import build_runtime

THREADS = 12
TRANSFERS_PER_THREAD = 60
CUSTOMERS = 4
OPENING = 5_000_000


@pytest.mark.parametrize("path", ["engine", "direct"])
def test_concurrent_transfers_with_a_hot_account_keep_every_invariant(
    database_url: str, tmp_path: Path, path: str
) -> None:
    """Two ways in: the group-commit engine (several runtimes = several processes' engines) and
    direct transactions from many threads, which contend on the same rows."""
    runtimes = [
        build_runtime(make_settings(database_url, tmp_path), clock=ManualClock(START))
        for _ in range(3)
    ]
    rt = runtimes[0]
    ensure_internal_accounts(rt)
    fees = internal_account_id(rt, Product.FEE_INCOME)  # the hot account: every fee lands here
    accounts = [funded_account(rt, individual(rt, n), OPENING) for n in range(CUSTOMERS)]
    acknowledged: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        my_holds: list[str] = []
        engine_rt = runtimes[seed % len(runtimes)]
        try:
            for _ in range(TRANSFERS_PER_THREAD):
                debit, credit = rng.sample(accounts, 2)
                pay = TransferRequest(
                    uuid.uuid4().hex, debit, credit, rng.randint(1, 30_000), "CNY", linked=True
                )
                fee = TransferRequest(uuid.uuid4().hex, debit, fees, rng.randint(1, 50), "CNY")
                hold = TransferRequest(
                    uuid.uuid4().hex,
                    credit,
                    fees,
                    rng.randint(1, 5_000),
                    "CNY",
                    kind=TransferKind.PENDING,
                )
                batch = [pay, fee, hold]
                if my_holds and rng.random() < 0.5:
                    kind = rng.choice([TransferKind.POST, TransferKind.VOID])
                    batch.append(
                        TransferRequest(uuid.uuid4().hex, kind=kind, pending_id=my_holds.pop(0))
                    )
                if path == "engine":
                    results = engine_rt.posting.submit(batch)
                else:
                    with engine_rt.db.write_connection() as conn:
                        results = post_batch(conn, [batch], now=START, policy=engine_rt.policy)
                if results[2].ok:
                    my_holds.append(hold.id)
                with lock:
                    for result in results:
                        (acknowledged if result.ok else refused).append(result.id)
                    assert results[0].code == results[1].code or Code.LINKED_EVENT_FAILED in (
                        results[0].code,
                        results[1].code,
                    )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for runtime in runtimes:
        runtime.close()
    assert not errors, errors
    assert len(refused) < len(acknowledged) / 10  # money stays ample: nearly all go through

    # Read back on a fresh connection, as an auditor would.
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        stored = conn.execute(select(Transfer.id)).scalars().all()
        assert len(stored) == len(set(stored))
        stored_ids = set(stored)
        assert set(acknowledged) <= stored_ids
        assert not stored_ids & set(refused)
        report = verify_ledger(conn)
        assert report.ok, report.problems
        negative = conn.execute(
            select(func.count()).where(
                Account.kind == "customer",
                Account.credits_posted - Account.debits_posted - Account.debits_pending < 0,
            )
        ).scalar_one()
        assert negative == 0
        fee_income = conn.execute(
            select(Account.credits_posted).where(Account.id == fees)
        ).scalar_one()
        assert fee_income > 0
    engine.dispose()
