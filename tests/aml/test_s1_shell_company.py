"""Scenario S1 end to end, through the public API: a shell company's history posted through the
ledger, then the AML officers' scan, case, suspension of its corporate online banking, a suspicious
transaction report drafted with the reasons of S1 (reviewed by a second officer, exported, filed),
and the large-value reports of the individual transfers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fastapi.testclient import TestClient
from tests.conftest import STAFF_PASSWORD, StaffLogins
from tests.factories import funded_account, individual, mobile, uscc

from ebank.common.actor import SYSTEM
from ebank.common.clock import ManualClock
from ebank.common.validators import DocumentType
from ebank.customers.service import DocumentInput, KycInput, create_company
from ebank.ledger.accounts import Product
from ebank.runtime import Runtime
from ebank.staff.permissions import Role
from ebank.staff.service import create_staff

API = "/api/v1"
NS = {"r": "urn:ebank:aml:report:1"}
SCOPE = "票务代理、印刷、场地租赁"
FIRST_DAY = date(2026, 11, 23)  # the clock's first day (a Monday)
DAYS = 9  # business days of traffic
YUAN = 100


@dataclass
class ShellCompany:
    customer_id: int
    account_id: int
    advertiser_account: int
    people: list[int]  # customer ids
    people_accounts: list[int]


def create_shell_company(rt: Runtime, client: TestClient, staff: StaffLogins) -> ShellCompany:
    """The company of S1 (registered capital 100,000; ticketing, printing, venue rental) with a
    basic account and corporate online banking, the "advertising company" paying it, and the
    fixed set of individuals it pays."""
    shell = create_company(
        rt,
        SYSTEM,
        name="某某票务印刷有限公司",
        document=DocumentInput(DocumentType.USCC, uscc(71)),
        mobile=mobile(70_071),
        legal_representative="王某",
        kyc=KycInput(business_scope=SCOPE, registered_capital=100_000 * YUAN),
    ).id
    account = funded_account(rt, shell, 0, Product.CORPORATE_BASIC)
    advertiser = create_company(
        rt,
        SYSTEM,
        name="某某广告传媒有限公司",
        document=DocumentInput(DocumentType.USCC, uscc(72)),
        mobile=mobile(70_072),
        legal_representative="赵某",
        kyc=KycInput(
            business_scope="广告设计、制作、代理、发布", registered_capital=50_000_000 * YUAN
        ),
    ).id
    advertiser_account = funded_account(rt, advertiser, 60_000_000 * YUAN, Product.CORPORATE_BASIC)
    people = [individual(rt, 7100 + n) for n in range(4)]
    people_accounts = [funded_account(rt, p, 0) for p in people]
    response = client.post(
        f"{API}/customers/{shell}/channels",
        json={
            "channel": "online",
            "account_ids": [account],
            "login_name": "shellco",
            "login_password": "Shell-login-2026",
            "transaction_password": "Shell-pay-2026",
        },
        headers=staff.headers(Role.TELLER),
    )
    assert response.status_code == 201, response.text
    return ShellCompany(shell, account, advertiser_account, people, people_accounts)


def post_history(
    client: TestClient, staff: StaffLogins, clock: ManualClock, shell: ShellCompany
) -> int:
    """Nine business days: each morning "advertising fees" come in from the one advertiser, each
    afternoon the same money leaves as "salary and pension" to three or four of the individuals,
    over 1,000,000 each. 37 movements; returns their total."""
    total, movements = 0, 0
    day = 0
    for n in range(DAYS):
        while (FIRST_DAY + timedelta(days=day)).weekday() >= 5:
            day += 1
        clock.set(_at(day, 1))  # 09:00 Beijing
        staff.log_in_again()
        payees = range(4) if n == 0 else [(n + k) % 4 for k in range(3)]
        outs = [(1_000_000 + 37_000 * (n + k + 1)) * YUAN for k, _ in enumerate(payees)]
        total += _post(
            client,
            staff,
            f"s1-in-{n}",
            shell.advertiser_account,
            shell.account_id,
            sum(outs),
            "广告费",
        )
        clock.set(_at(day, 6))  # 14:00 Beijing
        staff.log_in_again()
        for k, (person, amount) in enumerate(zip(payees, outs, strict=True)):
            total += _post(
                client,
                staff,
                f"s1-out-{n}-{k}",
                shell.account_id,
                shell.people_accounts[person],
                amount,
                "工资及养老金",
            )
        movements += 1 + len(outs)
        day += 1
    assert movements == 37
    return total


def _at(day: int, utc_hour: int) -> datetime:
    return datetime.combine(FIRST_DAY + timedelta(days=day), time(utc_hour), UTC)


def _post(  # noqa: PLR0917 - one transfer, spelt out
    client: TestClient,
    staff: StaffLogins,
    transfer_id: str,
    debit: int,
    credit: int,
    amount: int,
    purpose: str,
) -> int:
    response = client.post(
        f"{API}/transfers",
        json={
            "transfers": [
                {
                    "id": transfer_id,
                    "debit_account_id": debit,
                    "credit_account_id": credit,
                    "amount": amount,
                    "currency": "CNY",
                    "purpose": purpose,
                }
            ]
        },
        headers=staff.headers(Role.SUPERVISOR),
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["result"] == "ok", response.text
    return amount


def second_officer(rt: Runtime, client: TestClient) -> dict[str, str]:
    create_staff(
        rt,
        SYSTEM,
        username="aml2",
        display_name="Second AML officer",
        role=Role.AML_OFFICER,
        password=STAFF_PASSWORD,
    )
    response = client.post(
        f"{API}/staff/sessions", json={"username": "aml2", "password": STAFF_PASSWORD}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}", "Accept-Language": "zh-CN"}


def test_s1_laundering_through_a_shell_company_online_banking(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    shell = create_shell_company(rt, client, staff)
    moved = post_history(client, staff, clock, shell)
    assert moved > 20_000_000 * YUAN

    # The nightly scan, the day after the last movement.
    clock.advance(timedelta(days=2))
    staff.log_in_again()
    officer = staff.headers(Role.AML_OFFICER, "zh-CN")
    scan = client.post(
        f"{API}/aml/scans", json={"from": "2026-11-23", "to": "2026-12-04"}, headers=officer
    )
    assert scan.status_code == 200, scan.text
    assert scan.json()["movements"] >= 37

    # One case, for the shell company, with S1's features.
    cases = client.get(f"{API}/aml/cases", headers=officer).json()
    assert [c["customer_id"] for c in cases] == [shell.customer_id]
    case = cases[0]
    assert {
        "pass_through",
        "concentrated_dispersed",
        "turnover_vs_profile",
        "purpose_vs_scope",
        "payroll_without_history",
    } <= set(case["typologies"])
    assert "票务" not in case["customer_name"] or "*" in case["customer_name"]  # masked

    detail = client.get(f"{API}/aml/cases/{case['id']}", headers=officer).json()
    assert len(detail["movements"]) == 37
    assert {m["purpose"] for m in detail["movements"]} == {"广告费", "工资及养老金"}
    reasons = " ".join(a["reason"] for a in detail["alerts"])
    assert "广告费" in reasons
    assert SCOPE in reasons
    assert detail["profile"]["registered_capital"] == 100_000 * YUAN
    assert detail["fund_flow_svg"].startswith("<svg")
    assert "本案客户" in detail["fund_flow_svg"]  # the graph speaks the officer's language
    svg = client.get(f"{API}/aml/cases/{case['id']}/fund-flow.svg", headers=officer)
    assert svg.headers["content-type"].startswith("image/svg+xml")

    # Corporate online banking suspended pending review.
    suspended = client.post(
        f"{API}/aml/cases/{case['id']}/suspend",
        json={"reason": "资金快进快出，与经营范围不符，暂停网银待审查"},
        headers=officer,
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["suspended"] is True
    channels = client.get(
        f"{API}/customers/{shell.customer_id}/channels", headers=staff.headers(Role.TELLER)
    ).json()
    assert [(c["channel"], c["status"]) for c in channels] == [("online", "suspended")]

    # A suspicious transaction report drafted with S1's reasons.
    draft = client.post(f"{API}/aml/cases/{case['id']}/suspicious-reports", headers=officer)
    assert draft.status_code == 201, draft.text
    report = draft.json()
    narrative = report["narrative"]
    for phrase in ("广告费", SCOPE, "工资", "注册资本", "倍", "快进快出"):
        assert phrase in narrative, phrase
    assert "暂停" in report["measures"]
    assert report["determined_on"] == "2026-12-05"  # a Saturday
    assert report["deadline"] == "2026-12-11"  # five working days later

    # Four eyes: the preparer cannot review; a second officer can.
    own = client.post(
        f"{API}/aml/suspicious-reports/{report['id']}/review",
        json={"version": report["version"]},
        headers=officer,
    )
    assert own.status_code == 409
    assert own.json()["code"] == "four_eyes"
    reviewer = second_officer(rt, client)
    reviewed = client.post(
        f"{API}/aml/suspicious-reports/{report['id']}/review",
        json={"version": report["version"]},
        headers=reviewer,
    )
    assert reviewed.status_code == 200, reviewed.text

    exported = client.get(
        f"{API}/aml/suspicious-reports/{report['id']}/export?format=xml", headers=officer
    )
    assert exported.status_code == 200
    root = ET.fromstring(exported.content)  # noqa: S314 - the bank's own export
    assert root.find(".//r:party/r:name", NS).text == "某某票务印刷有限公司"  # type: ignore[union-attr]
    assert len(root.findall(".//r:transaction", NS)) == 37

    filed = client.post(
        f"{API}/aml/suspicious-reports/{report['id']}/file",
        json={"version": reviewed.json()["version"]},
        headers=officer,
    )
    assert filed.status_code == 200, filed.text
    closed = client.get(f"{API}/aml/cases?status=reported", headers=officer).json()
    assert [c["id"] for c in closed] == [case["id"]]

    # Large-value reports for the individual transfers, and the company's, regardless.
    due = client.get(f"{API}/aml/large-value-reports", headers=officer).json()
    individual_reports = {
        (r["customer_id"], r["transaction_day"])
        for r in due
        if r["criterion"] == "individual_domestic" and r["direction"] == "in"
    }
    assert {c for c, _ in individual_reports} == set(shell.people)
    assert len(individual_reports) == 28  # one per person per day paid
    company = {
        (r["criterion"], r["direction"]) for r in due if r["customer_id"] == shell.customer_id
    }
    assert company == {("company_transfer", "in"), ("company_transfer", "out")}
    first = next(r for r in due if r["transaction_day"] == "2026-11-23")
    assert first["deadline"] == "2026-11-30"
