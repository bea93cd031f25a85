"""What the scan sees of the ledger: the bank's local days, payees at other banks as nodes of
their own (cross-border by their BIC), the bank's internal accounts and other currencies left
out, and the large-value report of a person paying abroad."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tests.factories import funded_account, individual

from ebank.aml.dataset import is_foreign_bank, load_ledger, scan_database
from ebank.aml.reporting import large_value_reports
from ebank.aml.scan import run_scan
from ebank.aml.service import list_cases
from ebank.common.actor import SYSTEM
from ebank.common.clock import ManualClock
from ebank.ledger.clearing import send_to_other_bank
from ebank.ledger.posting import TransferRequest
from ebank.ledger.service import create_transfers
from ebank.runtime import Runtime

YUAN = 100


@pytest.mark.parametrize(
    ("bank", "foreign"),
    [
        ("HSBCHKHHXXX", True),  # Hong Kong
        ("CHASUS33", True),
        ("ICBKCNBJ", False),  # a Chinese bank's BIC
        ("ICBKCNBJBJM", False),
        ("中国工商银行北京分行", False),  # a name: domestic
        ("102100099996", False),  # a CNAPS bank code: domestic
        ("HSBC HK", False),
    ],
)
def test_a_payee_bank_is_foreign_by_its_bic(bank: str, foreign: bool) -> None:
    assert is_foreign_bank(bank, "CN") is foreign


def test_the_extract_keeps_local_days_and_outside_payees_and_no_internal_party(
    rt: Runtime, clock: ManualClock
) -> None:
    person = individual(rt, 501)
    account = funded_account(rt, person, 2_000_000 * YUAN)  # from the bank's equity
    friend = funded_account(rt, individual(rt, 502), 0)
    clock.set(datetime(2026, 11, 23, 15, 30, tzinfo=UTC))  # 23:30 in Beijing, 23 November
    create_transfers(
        rt, SYSTEM, [TransferRequest("late", account, friend, 1_000 * YUAN, "CNY", purpose="晚饭")]
    )
    clock.set(datetime(2026, 11, 23, 16, 30, tzinfo=UTC))  # 00:30 in Beijing, 24 November
    create_transfers(rt, SYSTEM, [TransferRequest("early", account, friend, 2_000 * YUAN, "CNY")])
    for n, bank in enumerate(("HSBCHKHHXXX", "ICBKCNBJ", "ICBKCNBJ")):
        send_to_other_bank(
            rt,
            SYSTEM,
            transfer_id=f"out-{n}",
            account_id=account,
            amount=(250_000 + n) * YUAN,
            currency="CNY",
            payee_bank=bank,
            payee_account=f"62220200000000{n % 2}",  # the last two: one payee, twice
            payee_name="收款人",
        )
    con = scan_database()
    with rt.db.read() as session:
        extract = load_ledger(
            session.connection(),
            con,
            first_day=date(2026, 11, 20),
            last_day=date(2026, 11, 24),
            zone=rt.policy.zone,
            currency="CNY",
        )
    rows = con.execute(
        "SELECT id, day, payer, payee, cross_border, purpose FROM flows ORDER BY ts"
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    assert set(by_id) == {f"fund-{account}", "late", "early", "out-0", "out-1", "out-2"}
    assert extract.flows == 6
    assert by_id[f"fund-{account}"][2:4] == (None, account)  # the bank's side is no party
    assert by_id["late"][1:4] == (date(2026, 11, 23), account, friend)
    assert by_id["early"][1] == date(2026, 11, 24)
    assert by_id["late"][5] == "晚饭"
    outside = [by_id[f"out-{n}"][3] for n in range(3)]
    assert all(node < 0 for node in outside)
    assert outside[0] != outside[1]
    assert [by_id[f"out-{n}"][4] for n in range(3)] == [True, False, False]
    external = con.execute("SELECT count(*) FROM parties WHERE kind = 'external'").fetchone()
    assert external == (2,)


def test_paying_abroad_is_reported_at_the_cross_border_threshold(
    rt: Runtime, clock: ManualClock
) -> None:
    person = individual(rt, 503)
    account = funded_account(rt, person, 300_000 * YUAN)  # under the domestic threshold
    send_to_other_bank(
        rt,
        SYSTEM,
        transfer_id="abroad",
        account_id=account,
        amount=200_000 * YUAN,  # exactly the cross-border threshold, under the domestic one
        currency="CNY",
        payee_bank="HSBCHKHHXXX",
        payee_account="400123456789",
        payee_name="Chan Tai Man",
    )
    clock.advance(timedelta(days=1))
    today = clock.now().astimezone(rt.policy.zone).date()
    run_scan(rt, SYSTEM, first_day=today - timedelta(days=1), last_day=today - timedelta(days=1))
    [report] = large_value_reports(rt, customer_id=person)
    assert (report.criterion, report.direction, report.total) == (
        "individual_cross_border",
        "out",
        200_000 * YUAN,
    )
    assert list_cases(rt) == []
