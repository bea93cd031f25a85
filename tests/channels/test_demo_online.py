"""The demo bank's customer 张三 banks online with the published demo login."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.channels.banking import API, last_code

from ebank.runtime import Runtime
from ebank.sim import demo


def test_the_demo_customer_logs_in_online_with_password_and_sms_code(
    rt: Runtime, client: TestClient
) -> None:
    demo.seed(rt)
    headers = {"X-Device-Id": "demo-browser", "Accept-Language": "en"}
    challenge = client.post(
        f"{API}/customer/login/challenge",
        json={"login_name": demo.DEMO_ONLINE_LOGIN, "method": "sms"},
        headers=headers,
    ).json()
    login = client.post(
        f"{API}/customer/login",
        json={
            "login_name": demo.DEMO_ONLINE_LOGIN,
            "password": demo.DEMO_ONLINE_PASSWORD,
            "method": "sms",
            "challenge_id": challenge["id"],
            "code": last_code(rt, demo.DEMO_INDIVIDUAL.mobile),
        },
        headers=headers,
    )
    assert login.status_code == 200, login.text
    accounts = client.get(
        f"{API}/me/accounts",
        headers={**headers, "Authorization": f"Bearer {login.json()['token']}"},
    ).json()
    assert [a["balance"] for a in accounts] == [5_000_000]
