"""Every security change reaches the customer's reserved phone, whoever makes it — the customer
online or the counter: a card PIN set, a tool's counter reset or its resynchronisation, an unlock,
a channel suspended, resumed or closed. The customer who did not ask for it calls the bank."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    OnlineCustomer,
    online_customer,
    sms_login,
    sms_messages,
)
from tests.conftest import StaffLogins

from ebank.common.clock import ManualClock
from ebank.runtime import Runtime
from ebank.sim.usbkey import SoftToken
from ebank.staff.permissions import Role

NOT_YOU = "If this was not you, call the bank at once."


def _told(rt: Runtime, customer: OnlineCustomer, since: int) -> list[str]:
    """The security notices sent to the reserved phone after the first ``since`` messages."""
    sent = sms_messages(rt, customer.mobile)[since:]
    return [m["text"] for m in sent if m["text"].startswith("Security change on your e-banking")]


def test_security_changes_at_the_counter_and_online_are_sent_to_the_reserved_phone(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 91)
    assert any("PIN of a card was set" in text for text in _told(rt, customer, 0))
    seed = SoftToken().secret
    assigned = client.post(
        f"{API}/customers/{customer.customer_id}/tokens",
        json={"kind": "totp", "secret_base32": base64.b32encode(seed).decode()},
        headers=staff.headers(Role.TELLER),
    )
    assert assigned.status_code == 201, assigned.text
    tool_id = assigned.json()["tool"]["id"]

    def step(
        method: str, path: str, expected: str, role: Role = Role.TELLER, **body: object
    ) -> None:
        before = len(sms_messages(rt, customer.mobile))
        headers = customer.headers() if path.startswith("/me/") else staff.headers(role)
        answer = client.request(method, API + path, json=body or None, headers=headers)
        assert answer.status_code < 300, (path, answer.text)
        [text] = _told(rt, customer, before)
        assert expected in text, (path, text)
        assert NOT_YOU in text

    step(
        "POST",
        f"/customers/{customer.customer_id}/tools/{tool_id}/reset-counter",
        "the failure counter of an authentication tool was reset",
    )
    token = SoftToken(seed)
    drifted = clock.now() + timedelta(minutes=5)  # the token's clock runs ahead
    step(
        "POST",
        f"/me/tools/{tool_id}/resync",
        "an e-token was resynchronised",
        first=token.code(drifted),
        second=token.code(drifted + timedelta(seconds=30)),
    )
    for _ in range(rt.policy.customer_auth.max_failed_attempts):
        clock.advance(timedelta(seconds=61))  # one login code a minute
        failed = sms_login(rt, client, customer, password="not-the-password-1")
    assert failed.json()["code"] == "customer_locked"
    step("POST", f"/customers/{customer.customer_id}/unlock", "your e-banking was unlocked")
    channel = f"/customers/{customer.customer_id}/channels/online"
    analyst = Role.RISK_ANALYST
    step("POST", f"{channel}/suspend", "channel was suspended", analyst, reason="check")
    step("POST", f"{channel}/resume", "channel was resumed", analyst, reason="checked")
    step("POST", f"{channel}/close", "an e-banking channel was closed", reason="asked")

    login = client.post(
        f"{API}/customer/login",
        json={"login_name": customer.login_name, "password": LOGIN_PASSWORD, "method": "sms"},
        headers=customer.headers(),
    )
    assert login.status_code >= 400  # closed for good
