"""Ledger use cases below the API: hold expiry, the engine's isolation of a bad submission,
clearing fallbacks, the demo seed and the ``ebank ledger verify`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text
from tests.factories import funded_account, individual

from ebank.common.actor import SYSTEM
from ebank.common.clock import ManualClock
from ebank.ledger import service
from ebank.ledger.accounts import Product
from ebank.ledger.clearing import SimulatedCounterparty, run_clearing, send_to_other_bank
from ebank.ledger.models import Account, OutboundTransfer, PendingTransfer
from ebank.ledger.posting import Code, TransferKind, TransferRequest, TransferResult
from ebank.ledger.service import internal_account_id
from ebank.runtime import Runtime
from ebank.sim.demo import DEMO_STAFF, seed


def send(
    rt: Runtime, transfer_id: str, account: int, amount: int, *, payee: tuple[str, str]
) -> None:
    """A counter payment to another bank, queued for clearing."""
    send_to_other_bank(
        rt,
        SYSTEM,
        transfer_id=transfer_id,
        account_id=account,
        amount=amount,
        currency="CNY",
        payee_bank="ABC",
        payee_account=payee[0],
        payee_name=payee[1],
    )


def available(rt: Runtime, account_id: int) -> int:
    return service.get_account(rt, account_id).available


def test_holds_expire_when_their_time_is_up(rt: Runtime, clock: ManualClock) -> None:
    alice = funded_account(rt, individual(rt, 1), 1_000)
    bob = funded_account(rt, individual(rt, 2), 0)
    hold = TransferRequest("h1", alice, bob, 600, "CNY", kind=TransferKind.PENDING, timeout_s=300)
    assert rt.posting.submit([hold])[0].ok
    assert available(rt, alice) == 400
    assert service.expire_due_holds(rt) == 0
    clock.advance(timedelta(seconds=301))
    assert service.expire_due_holds(rt) == 1
    assert available(rt, alice) == 1_000
    with rt.db.read() as session:
        assert session.get(PendingTransfer, "h1").state == "expired"  # type: ignore[union-attr]
    post = TransferRequest("p1", kind=TransferKind.POST, pending_id="h1")
    assert rt.posting.submit([post])[0].code is Code.PENDING_TRANSFER_EXPIRED
    assert service.expire_due_holds(rt) == 0


def test_a_submission_that_breaks_its_batch_fails_alone(rt: Runtime) -> None:
    alice = funded_account(rt, individual(rt, 1), 1_000)
    bob = funded_account(rt, individual(rt, 2), 0)

    def explode(_conn: Connection, _results: list[TransferResult]) -> None:
        raise RuntimeError("a side write failed")

    engine = rt.posting
    bad = engine.submit_async([TransferRequest("bad", alice, bob, 100, "CNY")], after_post=explode)
    good = engine.submit_async([TransferRequest("good", alice, bob, 200, "CNY")])
    assert good.result(30)[0].ok
    with pytest.raises(Exception, match="could not record"):
        bad.result(30)
    assert service.get_account(rt, bob).balance == 200  # the bad one left nothing behind


def test_returned_payment_to_a_closed_account_goes_to_suspense(rt: Runtime) -> None:
    account = funded_account(rt, individual(rt, 1), 5_000)
    send(rt, "ib-1", account, 5_000, payee=("6222021234567890128", "王五"))
    service.set_account_status(rt, SYSTEM, account, status="closed", reason="customer left")
    run = run_clearing(rt, SimulatedCounterparty(closed_accounts={"6222021234567890128"}))
    assert (run.settled, run.returned) == (0, 1)
    assert service.get_account(rt, internal_account_id(rt, Product.SUSPENSE)).balance == 5_000
    assert service.get_account(rt, internal_account_id(rt, Product.CLEARING)).balance == 0
    with rt.db.read() as session:
        item = session.execute(select(OutboundTransfer)).scalar_one()
        assert (item.status, item.return_reason) == ("returned", "account closed")


def test_counterparty_checks_the_payee_name_it_knows(rt: Runtime) -> None:
    account = funded_account(rt, individual(rt, 1), 5_000)
    for n, name in enumerate(["王五", "赵六"]):
        send(rt, f"ib-{n}", account, 1_000, payee=("6222021234567890128", name))
    run = run_clearing(rt, SimulatedCounterparty(directory={"6222021234567890128": "王五"}))
    assert (run.settled, run.returned) == (1, 1)
    assert service.get_account(rt, account).balance == 4_000


def test_demo_seed_creates_a_working_bank_once(rt: Runtime) -> None:
    first = seed(rt)
    assert first.created
    assert not seed(rt).created
    accounts = service.customer_accounts(rt, first.individual_id or 0)
    assert [a.balance for a in accounts] == [5_000_000, 0]
    company_accounts = service.customer_accounts(rt, first.company_id or 0)
    assert company_accounts[0].product == "corporate_basic"
    from ebank.staff.service import list_staff

    assert {s.username for s in list_staff(rt)} == {p.username for p in DEMO_STAFF}


def _cli_env(rt: Runtime) -> dict[str, str]:
    settings = rt.settings
    return {
        **os.environ,
        "EBANK_DATABASE_URL": settings.database_url,
        "EBANK_DATA_KEYS": str(settings.data_keys),
        "EBANK_LOOKUP_KEY": str(settings.lookup_key),
        "EBANK_VAR_DIR": str(settings.var_dir),
        "EBANK_BACKGROUND_INTERVAL_S": "0",
    }


def test_ledger_verify_command_passes_then_names_the_broken_account(
    rt: Runtime, tmp_path: Path
) -> None:
    account = funded_account(rt, individual(rt, 1), 5_000)
    command = [sys.executable, "-m", "ebank.cli", "ledger", "verify"]
    ok = subprocess.run(
        command, env=_cli_env(rt), capture_output=True, text=True, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ledger OK" in ok.stdout
    with rt.db.write() as session:
        session.execute(
            text("UPDATE accounts SET debits_posted = debits_posted + 7 WHERE id = :id"),
            {"id": account},
        )
    broken = subprocess.run(
        command, env=_cli_env(rt), capture_output=True, text=True, timeout=120, check=False
    )
    assert broken.returncode == 1
    assert f"account {account}" in broken.stdout
    assert "FAILED" in broken.stdout


def test_the_database_itself_refuses_an_overdraft(rt: Runtime) -> None:
    """Even a write that bypasses the rules cannot take a customer account below zero."""
    account = funded_account(rt, individual(rt, 1), 100)
    with pytest.raises(Exception, match=r"(?i)check|constraint"), rt.db.write() as session:
        session.execute(
            text("UPDATE accounts SET debits_posted = debits_posted + 101 WHERE id = :id"),
            {"id": account},
        )
    with rt.db.read() as session:
        stored = session.get(Account, account)
        assert stored is not None
        assert stored.credits_posted - stored.debits_posted == 100


def test_hold_post_and_reversal_in_one_submission_are_stored_consistently(rt: Runtime) -> None:
    alice = funded_account(rt, individual(rt, 1), 10_000)
    bob = funded_account(rt, individual(rt, 2), 0)
    results = rt.posting.submit(
        [
            TransferRequest("h1", alice, bob, 3_000, "CNY", kind=TransferKind.PENDING),
            TransferRequest("p1", kind=TransferKind.POST, pending_id="h1", amount=2_000),
            TransferRequest("t1", alice, bob, 1_000, "CNY"),
            TransferRequest("r1", bob, alice, 1_000, "CNY", reverses_id="t1", code="reversal"),
        ]
    )
    assert [r.code for r in results] == [Code.OK] * 4
    with rt.db.read() as session:
        hold = session.get(PendingTransfer, "h1")
        assert hold is not None
        assert (hold.state, hold.resolved_by) == ("posted", "p1")
    assert service.get_account(rt, bob).balance == 2_000
    assert service.get_account(rt, alice).available == 8_000
    with rt.db.snapshot() as conn:
        from ebank.ledger.verify import verify_ledger

        report = verify_ledger(conn)
    assert report.ok, report.problems


def test_one_stuck_item_does_not_hold_up_the_clearing_queue(rt: Runtime) -> None:
    account = funded_account(rt, individual(rt, 1), 5_000)
    for n, payee in enumerate(["6222021234567890128", "6222021234567890219"]):
        send(rt, f"ib-{n}", account, 1_000, payee=(payee, "王五"))

    class Flaky(SimulatedCounterparty):
        def decide(self, payee_bank: str, payee_account: str, payee_name: str) -> str | None:
            if payee_account.endswith("128"):
                raise ConnectionError("the other bank did not answer")
            return None

    run = run_clearing(rt, Flaky())
    assert (run.settled, run.returned, run.failed) == (1, 0, 1)
    later = run_clearing(rt, SimulatedCounterparty())
    assert (later.settled, later.failed) == (1, 0)


def test_a_stopped_engine_refuses_new_work_instead_of_leaving_it_waiting(rt: Runtime) -> None:
    engine = rt.posting
    engine.stop()
    late = engine.submit_async([TransferRequest("late", 1, 2, 1, "CNY")])
    with pytest.raises(Exception, match="shutting down"):
        late.result(5)
