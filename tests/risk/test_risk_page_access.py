"""The analysts' pages refuse every other staff role and customers, and a refused decision
changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import login_with_sms, open_online_customer
from tests.conftest import STAFF_PASSWORD, StaffLogins
from tests.risk.test_risk_scenarios import open_alerts, paid

from ebank.common.clock import ManualClock
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

PAGES = ("/staff/risk/alerts", "/staff/risk/alerts/1", "/staff/risk/rule-sets")


def cookie_login(client: TestClient, staff: StaffLogins, role: Role) -> str:
    """Log ``role`` in with a cookie session, as the portal does; returns its CSRF token."""
    staff.token(role)  # the user exists
    username = f"{role.value.replace('_', '')}1"
    response = client.post(
        "/api/v1/staff/sessions", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 201, response.text
    client.cookies.set("ebank_session", response.json()["token"])
    client.cookies.set("ebank_csrf", response.json()["csrf_token"])
    return str(response.json()["csrf_token"])


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.RISK_ANALYST])
def test_every_other_role_is_refused_the_risk_pages(
    client: TestClient, staff: StaffLogins, role: Role
) -> None:
    cookie_login(client, staff, role)
    for path in PAGES:
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 403, (path, role)
        assert "Not allowed" in response.text or "not allowed" in response.text


def test_without_a_session_the_pages_send_to_the_login(client: TestClient) -> None:
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=")


def test_a_teller_cannot_release_a_held_payment_and_nothing_moves(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    victim = login_with_sms(rt, client, open_online_customer(rt, client, staff, 81))
    mule = open_online_customer(rt, client, staff, 82, balance=0)
    assert paid(rt, client, victim, mule, 450_000)["status"] == "held"  # S7
    [alert] = open_alerts(client, staff)
    csrf = cookie_login(client, staff, Role.TELLER)
    refused = client.post(
        f"/staff/risk/alerts/{alert['id']}/release",
        data={"note": "trust me", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    client.cookies.clear()
    assert open_alerts(client, staff)[0]["status"] == "open"


def test_a_customer_session_is_refused_the_risk_pages(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = login_with_sms(rt, client, open_online_customer(rt, client, staff, 83))
    assert customer.token is not None
    client.cookies.set("ebank_session", customer.token)
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (303, 401, 403), path
        assert "risk" not in response.headers.get("location", "/staff/login")
