"""The AML officers' pages refuse every other staff role and customers, and a refused decision
changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.aml.test_aml_api import scanned_case, shell  # noqa: F401 - the fixture
from tests.aml.test_s1_shell_company import API, ShellCompany
from tests.channels.banking import login_with_sms, open_online_customer
from tests.conftest import StaffLogins
from tests.risk.test_risk_page_access import cookie_login

from ebank.runtime import Runtime
from ebank.staff.permissions import Role

PAGES = (
    "/staff/aml/cases",
    "/staff/aml/cases/1",
    "/staff/aml/reports/1",
    "/staff/aml/reports/1/export.xml",
    "/staff/aml/large-value",
    "/staff/aml/large-value/1/export.csv",
)
FORMS = (
    "/staff/aml/scans",
    "/staff/aml/cases/1/dismiss",
    "/staff/aml/cases/1/suspend",
    "/staff/aml/reports/1/review",
    "/staff/aml/large-value/1/file",
)


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.AML_OFFICER])
def test_every_other_role_is_refused_the_aml_pages(
    client: TestClient, staff: StaffLogins, role: Role
) -> None:
    csrf = cookie_login(client, staff, role)
    for path in PAGES:
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 403, (path, role)
    for path in FORMS:
        response = client.post(path, data={"csrf_token": csrf, "reason": "x", "version": "1"})
        assert response.status_code == 403, (path, role)


def test_without_a_session_the_pages_send_to_the_login(client: TestClient) -> None:
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=")


def test_a_risk_analyst_cannot_dismiss_a_case_and_nothing_changes(
    client: TestClient,
    staff: StaffLogins,
    shell: ShellCompany,  # noqa: F811
) -> None:
    case = scanned_case(client, staff)
    csrf = cookie_login(client, staff, Role.RISK_ANALYST)
    refused = client.post(
        f"/staff/aml/cases/{case['id']}/dismiss",
        data={"reason": "looks fine to me", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    client.cookies.clear()
    cases = client.get(f"{API}/aml/cases", headers=staff.headers(Role.AML_OFFICER)).json()
    assert [c["status"] for c in cases] == ["open"]


def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient,
    staff: StaffLogins,
    shell: ShellCompany,  # noqa: F811
) -> None:
    case = scanned_case(client, staff)
    cookie_login(client, staff, Role.AML_OFFICER)
    response = client.post(
        f"/staff/aml/cases/{case['id']}/dismiss",
        data={"reason": "no token"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    client.cookies.clear()
    cases = client.get(f"{API}/aml/cases", headers=staff.headers(Role.AML_OFFICER)).json()
    assert [c["status"] for c in cases] == ["open"]


def test_a_customer_session_is_refused_the_aml_pages(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = login_with_sms(rt, client, open_online_customer(rt, client, staff, 84))
    assert customer.token is not None
    client.cookies.set("ebank_session", customer.token)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (303, 401, 403), path
        assert "aml" not in response.headers.get("location", "/staff/login")
