"""The AML officers' API beyond scenario S1: bad input refused with problem+json and nothing
changed, scans that do not repeat themselves, dismissal, notes, suspension and its lifting,
large-value filing and export, stale edits."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.aml.test_s1_shell_company import API, ShellCompany, create_shell_company, post_history
from tests.conftest import StaffLogins
from tests.risk.test_risk_page_access import cookie_login

from ebank.aml.models import AmlAlert, AmlNote, LargeValueReport
from ebank.aml.scan import run_scan, scan_if_due
from ebank.common.actor import SYSTEM
from ebank.common.clock import ManualClock
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

DAYS = {"from": "2026-11-23", "to": "2026-12-04"}


@pytest.fixture
def shell(rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock) -> ShellCompany:
    company = create_shell_company(rt, client, staff)
    post_history(client, staff, clock, company)
    clock.advance(timedelta(days=2))
    staff.log_in_again()
    return company


def officer(staff: StaffLogins, locale: str = "en") -> dict[str, str]:
    return staff.headers(Role.AML_OFFICER, locale)


def scanned_case(client: TestClient, staff: StaffLogins) -> dict[str, Any]:
    response = client.post(f"{API}/aml/scans", json=DAYS, headers=officer(staff))
    assert response.status_code == 200, response.text
    [case] = client.get(f"{API}/aml/cases", headers=officer(staff)).json()
    return case


def counts(rt: Runtime) -> tuple[int, int]:
    with rt.db.read() as session:
        alerts = session.scalar(select(func.count()).select_from(AmlAlert)) or 0
        reports = session.scalar(select(func.count()).select_from(LargeValueReport)) or 0
    return alerts, reports


def assert_problem(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body


def test_scanning_the_same_days_again_changes_nothing(
    rt: Runtime, client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    first = client.post(f"{API}/aml/scans", json=DAYS, headers=officer(staff)).json()
    assert first["alerts_created"] >= 5
    assert first["large_value_reports_created"] >= 28
    before = counts(rt)
    again = client.post(f"{API}/aml/scans", json=DAYS, headers=officer(staff)).json()
    assert (again["alerts_created"], again["large_value_reports_created"]) == (0, 0)
    assert counts(rt) == before
    assert len(client.get(f"{API}/aml/cases", headers=officer(staff)).json()) == 1
    runs = client.get(f"{API}/aml/scans", headers=officer(staff)).json()
    assert [r["status"] for r in runs] == ["done", "done"]


def test_a_scan_without_days_carries_on_from_the_last_one(
    client: TestClient, staff: StaffLogins, shell: ShellCompany, clock: ManualClock
) -> None:
    client.post(f"{API}/aml/scans", json=DAYS, headers=officer(staff))
    clock.advance(timedelta(days=3))  # Tuesday 8 December
    staff.log_in_again()
    nightly = client.post(f"{API}/aml/scans", json={}, headers=officer(staff)).json()
    assert (nightly["first_day"], nightly["last_day"]) == ("2026-12-05", "2026-12-07")
    assert nightly["alerts_created"] == 0
    nothing = client.post(f"{API}/aml/scans", json={}, headers=officer(staff)).json()
    assert nothing["scan_id"] is None


def test_the_nightly_scan_runs_once_a_day(
    rt: Runtime, staff: StaffLogins, shell: ShellCompany, clock: ManualClock
) -> None:
    first = scan_if_due(rt, SYSTEM)
    assert first is not None
    assert (first.first_day, first.last_day) == (date(2026, 12, 4), date(2026, 12, 4))
    assert scan_if_due(rt, SYSTEM) is None  # yesterday is covered
    clock.advance(timedelta(days=1))
    following = scan_if_due(rt, SYSTEM)
    assert following is not None
    assert following.first_day == following.last_day == date(2026, 12, 5)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2026-12-04", "to": "2026-11-23"}, "from"),
        ({"from": "23/11/2026"}, "from"),
        ({"from": "2026-11-23", "depth": 3}, "depth"),
    ],
)
def test_bad_scan_requests_are_refused(
    rt: Runtime, client: TestClient, staff: StaffLogins, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"{API}/aml/scans", json=body, headers=officer(staff))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert client.get(f"{API}/aml/scans", headers=officer(staff)).json() == []


def test_unknown_cases_and_reports_in_the_readers_language(
    client: TestClient, staff: StaffLogins
) -> None:
    missing = client.get(f"{API}/aml/cases/999", headers=officer(staff, "zh-CN"))
    assert_problem(missing, 404, "case_not_found", "case_id")
    assert missing.json()["detail"] == "案件不存在。"
    assert_problem(client.get(f"{API}/aml/cases/0", headers=officer(staff)), 422, "too_small")
    assert_problem(
        client.get(f"{API}/aml/suspicious-reports/5", headers=officer(staff)),
        404,
        "report_not_found",
    )
    assert client.get(f"{API}/aml/cases?status=closed", headers=officer(staff)).status_code == 422


def test_dismissing_needs_a_reason_and_happens_once(
    client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    case = scanned_case(client, staff)
    path = f"{API}/aml/cases/{case['id']}/dismiss"
    assert_problem(
        client.post(path, json={"reason": "  "}, headers=officer(staff)), 422, "field_required"
    )
    assert client.get(f"{API}/aml/cases", headers=officer(staff)).json()[0]["status"] == "open"
    dismissed = client.post(
        path, json={"reason": "Known event ticket reseller"}, headers=officer(staff)
    )
    assert dismissed.json()["status"] == "dismissed"
    assert_problem(
        client.post(path, json={"reason": "again"}, headers=officer(staff)), 409, "case_closed"
    )
    detail = client.get(f"{API}/aml/cases/{case['id']}", headers=officer(staff)).json()
    assert detail["decision_reason"] == "Known event ticket reseller"
    assert client.get(f"{API}/aml/cases", headers=officer(staff)).json() == []


def test_a_new_case_after_a_dismissed_one_shows_it(
    client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    first_week = {"from": "2026-11-23", "to": "2026-11-27"}
    client.post(f"{API}/aml/scans", json=first_week, headers=officer(staff))
    [first] = client.get(f"{API}/aml/cases", headers=officer(staff)).json()
    client.post(
        f"{API}/aml/cases/{first['id']}/dismiss",
        json={"reason": "Event season: the owner explained the fees"},
        headers=officer(staff),
    )
    second_week = {"from": "2026-11-30", "to": "2026-12-04"}
    client.post(f"{API}/aml/scans", json=second_week, headers=officer(staff))
    [second] = client.get(f"{API}/aml/cases", headers=officer(staff)).json()
    assert second["id"] != first["id"]
    detail = client.get(f"{API}/aml/cases/{second['id']}", headers=officer(staff)).json()
    assert [(c["id"], c["status"]) for c in detail["earlier_cases"]] == [(first["id"], "dismissed")]
    cookie_login(client, staff, Role.AML_OFFICER)
    page = client.get(f"/staff/aml/cases/{second['id']}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Other cases of this customer" in page.text
    assert f'href="/staff/aml/cases/{first["id"]}"' in page.text


def test_notes_are_kept_encrypted_and_read_back(
    rt: Runtime, client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    case = scanned_case(client, staff)
    text = "法定代表人王某电话无法接通，公司已搬离注册地址"
    note = client.post(
        f"{API}/aml/cases/{case['id']}/notes", json={"body": text}, headers=officer(staff)
    )
    assert note.status_code == 201, note.text
    detail = client.get(f"{API}/aml/cases/{case['id']}", headers=officer(staff)).json()
    assert [n["body"] for n in detail["notes"]] == [text]
    with rt.db.read() as session:
        stored = session.scalars(select(AmlNote.body_enc)).one()
    assert text.encode() not in stored


def test_suspension_is_lifted_once_and_channels_resume(
    client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    case = scanned_case(client, staff)
    base = f"{API}/aml/cases/{case['id']}"
    assert_problem(
        client.post(f"{base}/lift", json={"reason": "x"}, headers=officer(staff)),
        409,
        "not_suspended",
    )
    client.post(f"{base}/suspend", json={"reason": "pending review"}, headers=officer(staff))
    assert_problem(
        client.post(f"{base}/suspend", json={"reason": "again"}, headers=officer(staff)),
        409,
        "already_suspended",
    )
    lifted = client.post(f"{base}/lift", json={"reason": "cleared"}, headers=officer(staff))
    assert lifted.json()["suspended"] is False
    channels = client.get(
        f"{API}/customers/{shell.customer_id}/channels", headers=staff.headers(Role.TELLER)
    ).json()
    assert [(c["channel"], c["status"]) for c in channels] == [("online", "active")]


def test_a_stale_edit_of_a_report_is_refused_and_changes_nothing(
    client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    case = scanned_case(client, staff)
    report = client.post(
        f"{API}/aml/cases/{case['id']}/suspicious-reports", headers=officer(staff)
    ).json()
    path = f"{API}/aml/suspicious-reports/{report['id']}"
    edited = client.put(
        path,
        json={
            "narrative": report["narrative"] + "\n补充：客户已失联。",
            "measures": "暂停网银",
            "version": 1,
        },
        headers=officer(staff),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    stale = client.put(
        path, json={"narrative": "x" * 60, "measures": "none", "version": 1}, headers=officer(staff)
    )
    assert_problem(stale, 409, "stale_version", "version")
    assert client.get(path, headers=officer(staff)).json()["narrative"].endswith("客户已失联。")
    second = client.post(f"{API}/aml/cases/{case['id']}/suspicious-reports", headers=officer(staff))
    assert_problem(second, 409, "report_in_progress")
    draft_export = client.get(f"{path}/export?format=csv", headers=officer(staff))
    assert_problem(draft_export, 409, "report_not_reviewed")
    assert client.get(f"{path}/export?format=pdf", headers=officer(staff)).status_code == 422


def test_large_value_reports_are_filed_once_and_exported(
    client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    scanned_case(client, staff)
    due = client.get(f"{API}/aml/large-value-reports?due_by=2026-11-30", headers=officer(staff))
    reports = due.json()
    assert reports
    assert all(r["deadline"] <= "2026-11-30" for r in reports)
    report = reports[0]
    exported = client.get(
        f"{API}/aml/large-value-reports/{report['id']}/export?format=csv", headers=officer(staff)
    )
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].endswith(f'{report["report_ref"]}.csv"')
    text = exported.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == report["transfer_count"]
    batch = client.get(f"{API}/aml/large-value-reports/export", headers=officer(staff))
    assert batch.status_code == 200
    batch_rows = list(csv.DictReader(io.StringIO(batch.content.decode("utf-8")[1:])))
    all_due = client.get(f"{API}/aml/large-value-reports", headers=officer(staff)).json()
    assert len(batch_rows) == sum(r["transfer_count"] for r in all_due)
    assert {row["report_ref"] for row in batch_rows} == {r["report_ref"] for r in all_due}
    path = f"{API}/aml/large-value-reports/{report['id']}/file"
    assert client.post(path, headers=officer(staff)).json()["status"] == "filed"
    assert_problem(client.post(path, headers=officer(staff)), 409, "report_state")
    still_due = client.get(f"{API}/aml/large-value-reports", headers=officer(staff)).json()
    assert report["id"] not in {r["id"] for r in still_due}


def test_concurrent_scans_of_the_same_days_record_everything_once(
    rt: Runtime, client: TestClient, staff: StaffLogins, shell: ShellCompany
) -> None:
    def scan(_: int) -> tuple[int, int]:
        summary = run_scan(rt, SYSTEM, first_day=date(2026, 11, 23), last_day=date(2026, 12, 4))
        return summary.alerts_created, summary.large_value_reports_created

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(scan, range(4)))
    alerts, reports = counts(rt)
    assert sum(a for a, _ in created) == alerts == 5
    assert sum(r for _, r in created) == reports
    assert len(client.get(f"{API}/aml/cases", headers=officer(staff)).json()) == 1
    runs = client.get(f"{API}/aml/scans", headers=officer(staff)).json()
    assert [r["status"] for r in runs] == ["done"] * 4
