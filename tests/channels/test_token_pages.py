"""A customer whose e-token counts button presses (HOTP) logs in on the portal with it, and the
pay page offers it to verify payments; a code already used does not log in again."""

from __future__ import annotations

import base64
import re

from fastapi.testclient import TestClient
from tests.channels.banking import API, LOGIN_PASSWORD, open_online_customer
from tests.conftest import StaffLogins

from ebank.runtime import Runtime
from ebank.sim.usbkey import SoftToken
from ebank.staff.permissions import Role

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _log_in(client: TestClient, login_name: str, code: str) -> tuple[int, str]:
    page = client.get("/bank/login?lang=en")
    token = CSRF.search(page.text)
    assert token is not None
    answer = client.post(
        "/bank/login",
        data={
            "login_name": login_name,
            "password": LOGIN_PASSWORD,
            "method": "hotp",
            "code": code,
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    return answer.status_code, answer.headers.get("location", "")


def test_a_button_token_logs_in_on_the_portal_and_verifies_payments(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = open_online_customer(rt, client, staff, 93)
    token = SoftToken()
    assigned = client.post(
        f"{API}/customers/{customer.customer_id}/tokens",
        json={"kind": "hotp", "secret_base32": base64.b32encode(token.secret).decode()},
        headers=staff.headers(Role.TELLER),
    )
    assert assigned.status_code == 201, assigned.text
    assert "Button token code (counter-based)" in client.get("/bank/login?lang=en").text

    used = token.next_code()
    assert _log_in(client, customer.login_name, used) == (303, "/bank")
    assert "Button token code" in client.get("/bank/pay?lang=en").text

    client.cookies.clear()  # a new visitor with the same code
    status, _ = _log_in(client, customer.login_name, used)
    assert status == 401
