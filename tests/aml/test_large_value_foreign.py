"""Large-value reports on accounts kept in a foreign currency: measured against that currency's
thresholds (PBoC Order [2016] No. 3: cash from USD 10,000, a person's domestic transfers from
USD 100,000), reported in that currency, through the teller's and the officer's API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.aml.test_s1_shell_company import API
from tests.conftest import StaffLogins
from tests.factories import individual

from ebank.common.clock import ManualClock
from ebank.ledger.service import ensure_internal_accounts
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

CENTS = 100


def _usd_account(client: TestClient, staff: StaffLogins, customer_id: int) -> int:
    response = client.post(
        f"{API}/accounts",
        json={"customer_id": customer_id, "product": "personal_i", "currency": "USD"},
        headers=staff.headers(Role.TELLER),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _deposit(client: TestClient, staff: StaffLogins, account: int, cents: int, ref: str) -> None:
    response = client.post(
        f"{API}/cash/deposits",
        json={"id": ref, "account_id": account, "amount": cents, "currency": "USD"},
        headers=staff.headers(Role.TELLER),
    )
    assert response.status_code == 201, response.text


def _transfer(client: TestClient, staff: StaffLogins, debit: int, credit: int, cents: int) -> None:
    response = client.post(
        f"{API}/transfers",
        json={
            "transfers": [
                {
                    "id": f"usd-{debit}-{credit}",
                    "debit_account_id": debit,
                    "credit_account_id": credit,
                    "amount": cents,
                    "currency": "USD",
                }
            ]
        },
        headers=staff.headers(Role.SUPERVISOR),
    )
    assert response.json()["results"][0]["result"] == "ok", response.text


def test_usd_movements_are_measured_against_the_usd_thresholds(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    ensure_internal_accounts(rt, "USD")
    at_threshold, under, payer, payee = (individual(rt, 8100 + n) for n in range(4))
    reported = _usd_account(client, staff, at_threshold)
    _deposit(client, staff, reported, 10_000 * CENTS, "usd-cash-at")
    _deposit(
        client, staff, _usd_account(client, staff, under), 10_000 * CENTS - 1, "usd-cash-under"
    )
    paying = _usd_account(client, staff, payer)
    _deposit(client, staff, paying, 120_000 * CENTS, "usd-cash-payer")  # a cash report of its own
    _transfer(client, staff, paying, _usd_account(client, staff, payee), 100_000 * CENTS)
    clock.advance(timedelta(days=1))
    staff.log_in_again()
    officer = staff.headers(Role.AML_OFFICER, "en")

    day = (clock.now() - timedelta(days=1)).date().isoformat()
    scanned = client.post(f"{API}/aml/scans", json={"from": day, "to": day}, headers=officer)
    assert scanned.status_code == 200, scanned.text

    reports = client.get(f"{API}/aml/large-value-reports", headers=officer).json()
    found = {(r["customer_id"], r["criterion"], r["direction"]): r for r in reports}
    # USD 10,000 in cash is reported (in yuan the threshold is 50,000), a cent less is not; a
    # person's USD 100,000 transfer is reported on both sides (in yuan: from 500,000)
    assert set(found) == {
        (at_threshold, "cash", "in"),
        (payer, "cash", "in"),
        (payer, "individual_domestic", "out"),
        (payee, "individual_domestic", "in"),
    }
    report = found[(at_threshold, "cash", "in")]
    assert (report["currency"], report["total"]) == ("USD", 10_000 * CENTS)
    assert report["report_ref"].endswith("-CI-USD")
    exported = client.get(
        f"{API}/aml/large-value-reports/{report['id']}/export?format=csv", headers=officer
    )
    [row] = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8")[1:])))
    assert (row["currency"], row["amount"]) == ("USD", "10000.00")

    again = client.post(f"{API}/aml/scans", json={"from": day, "to": day}, headers=officer)
    assert again.json()["large_value_reports_created"] == 0
