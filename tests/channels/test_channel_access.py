"""Another customer's payments, payees, accounts, devices, tools and notifications are refused;
a session is bound to its device and ends after five idle minutes; bad input changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.channels.banking import API, online_customer, open_online_customer, pay
from tests.conftest import StaffLogins

from ebank.channels.models import Payee, Payment
from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account
from ebank.runtime import Runtime


def _count(rt: Runtime, model: Any) -> int:
    with rt.db.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_another_customers_things_are_refused(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    owner = online_customer(rt, client, staff, 61)
    intruder = online_customer(rt, client, staff, 62)
    payee = open_online_customer(rt, client, staff, 63, balance=0)
    payment = pay(rt, client, owner, payee, 30_000).json()
    saved = client.post(
        f"{API}/me/payees",
        json={"account_number": payee.card_number, "name": payee.name},
        headers=owner.headers(),
    ).json()
    device_id = client.get(f"{API}/me/devices", headers=owner.headers()).json()[0]["id"]
    notification_id = client.get(f"{API}/me/notifications", headers=owner.headers()).json()[0]["id"]
    pid = payment["id"]
    attempts = [
        ("GET", f"/me/payments/{pid}", None),
        ("PATCH", f"/me/payments/{pid}", {"amount": 1}),
        ("POST", f"/me/payments/{pid}/confirm", {"method": "sms"}),
        ("POST", f"/me/payments/{pid}/authorize", {"challenge_id": payment["challenge"]["id"]}),
        ("POST", f"/me/payments/{pid}/recall", {"reason": "mine"}),
        ("DELETE", f"/me/payees/{saved['id']}", None),
        ("DELETE", f"/me/devices/{device_id}", None),
        ("POST", f"/me/notifications/{notification_id}/read", None),
    ]
    for method, path, body in attempts:
        response = client.request(method, API + path, json=body, headers=intruder.headers())
        assert response.status_code == 404, (method, path, response.text)
    for method, path, body in [
        ("GET", f"/me/accounts/{owner.account_id}/statement", None),
        ("POST", "/me/services/precious-metal", {"parent_account_id": owner.account_id}),
        (
            "POST",
            "/me/payments",
            {
                "request_id": "steal-0001",
                "from_account_id": owner.account_id,
                "amount": 100,
                "payee_account": intruder.card_number,
                "payee_name": intruder.name,
                "method": "sms",
            },
        ),
    ]:
        response = client.request(method, API + path, json=body, headers=intruder.headers())
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "account_not_signed"
    assert get_account(rt, owner.account_id).balance == 1_000_000
    own = client.get(f"{API}/me/payments/{pid}", headers=owner.headers())
    assert own.json()["version"] == 1  # the intruder's edit changed nothing
    assert [
        a["id"] for a in client.get(f"{API}/me/accounts", headers=intruder.headers()).json()
    ] == [intruder.account_id]


def test_a_session_is_bound_to_its_device(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = online_customer(rt, client, staff, 64)
    stolen = {**customer.headers(), "X-Device-Id": "the-fraudsters-phone"}
    response = client.get(f"{API}/me/accounts", headers=stolen)
    assert response.status_code == 401
    assert response.json()["code"] == "device_mismatch"
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200


def test_revoking_a_device_ends_its_sessions(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = online_customer(rt, client, staff, 65)
    devices = client.get(f"{API}/me/devices", headers=customer.headers()).json()
    assert devices[0]["current"] is True
    gone = client.delete(f"{API}/me/devices/{devices[0]['id']}", headers=customer.headers())
    assert gone.status_code == 204
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 401


def test_five_idle_minutes_end_the_session(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 66)
    clock.advance(timedelta(minutes=4, seconds=59))
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200
    clock.advance(timedelta(minutes=5))
    expired = client.get(f"{API}/me/accounts", headers=customer.headers())
    assert expired.status_code == 401


def test_activity_moves_the_idle_clock_on_within_its_touch_interval(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """A busy session is not rewritten on every request: the idle clock moves on at most once per
    twentieth of the timeout (15 s of 5 min), so it can end up to that much early, never late."""
    from ebank.auth.models import AuthSession

    def last_seen() -> Any:
        with rt.db.read() as session:
            return session.execute(
                select(AuthSession.last_seen_at).order_by(AuthSession.id.desc()).limit(1)
            ).scalar_one()

    customer = online_customer(rt, client, staff, 68)
    logged_in = last_seen()
    clock.advance(timedelta(seconds=14))
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200
    assert last_seen() == logged_in
    clock.advance(timedelta(seconds=2))
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200
    assert last_seen() == logged_in + timedelta(seconds=16)
    clock.advance(timedelta(minutes=4, seconds=59))
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200
    clock.advance(timedelta(minutes=5, seconds=1))
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 401


def test_login_failures_share_one_counter_and_never_say_which_factor(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    from tests.channels.banking import LOGIN_PASSWORD, last_code

    customer = open_online_customer(rt, client, staff, 67)
    answers = []
    for attempt in range(5):
        clock.advance(timedelta(seconds=61))  # one login code a minute
        challenge = client.post(
            f"{API}/customer/login/challenge",
            json={"login_name": customer.login_name, "method": "sms"},
            headers=customer.headers(),
        ).json()
        code = last_code(rt, customer.mobile)
        wrong_password = attempt % 2 == 0
        answers.append(
            client.post(
                f"{API}/customer/login",
                json={
                    "login_name": customer.login_name,
                    "password": "not-the-password-1" if wrong_password else LOGIN_PASSWORD,
                    "method": "sms",
                    "challenge_id": challenge["id"],
                    "code": code if wrong_password else "000000",
                },
                headers=customer.headers(),
            ).json()
        )
    details = {a["detail"] for a in answers[:3]}
    assert len(details) == 1  # the same words whichever factor was wrong
    assert answers[3]["params"]["remaining_attempts"] == 1
    assert answers[4]["code"] == "customer_locked"


BAD_PAYMENTS = [
    {"amount": -100},
    {"amount": 0},
    {"amount": "100"},
    {"amount": 10**19},
    {"amount": 1.5},
    {"payee_account": "12ab"},
    {"payee_name": ""},
    {"payee_name": "x" * 65},
    {"request_id": "short"},
    {"method": "carrier-pigeon"},
    {"unexpected": True},
    {"from_account_id": -1},
]


@pytest.mark.parametrize("change", BAD_PAYMENTS)
def test_bad_payment_input_is_refused_and_changes_nothing(
    rt: Runtime, client: TestClient, staff: StaffLogins, change: dict[str, Any]
) -> None:
    payer = online_customer(rt, client, staff, 68)
    payee = open_online_customer(rt, client, staff, 69, balance=0)
    response = pay(rt, client, payer, payee, 30_000, **change)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"]
    assert _count(rt, Payment) == 0
    assert get_account(rt, payer.account_id).balance == 1_000_000


def test_an_unknown_in_bank_payee_or_a_wrong_name_is_refused(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 70)
    payee = open_online_customer(rt, client, staff, 71, balance=0)
    wrong_name = client.post(
        f"{API}/me/payees",
        json={"account_number": payee.card_number, "name": "别人"},
        headers={**payer.headers(locale="zh-CN")},
    )
    assert wrong_name.status_code == 422
    assert wrong_name.json()["code"] == "payee_name_mismatch"
    assert wrong_name.json()["field"] == "payee_name"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in wrong_name.json()["detail"])  # Chinese
    unknown = pay(rt, client, payer, payee, 30_000, payee_account="6219990000000000001")
    assert unknown.json()["code"] == "payee_account_unknown"
    assert _count(rt, Payee) == 0


def test_the_passkey_page_refuses_an_answer_that_is_not_a_passkeys(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """The security centre's "add a passkey" form, posted with garbage or a forged answer instead
    of what the browser's authenticator returns: a clear error, and no tool is added."""
    import json
    import re

    from tests.channels.banking import LOGIN_PASSWORD, last_code

    from ebank.auth.models import AuthTool

    customer = online_customer(rt, client, staff, 69)
    clock.advance(timedelta(seconds=61))  # one login code a minute
    challenge = client.post(
        f"{API}/customer/login/challenge",
        json={"login_name": customer.login_name, "method": "sms"},
        headers=customer.headers(),
    ).json()
    session = client.post(
        f"{API}/customer/login",
        json={
            "login_name": customer.login_name,
            "password": LOGIN_PASSWORD,
            "method": "sms",
            "challenge_id": challenge["id"],
            "code": last_code(rt, customer.mobile),
        },
        headers=customer.headers(),
    ).json()
    client.cookies.set("ebank_session", session["token"])
    client.cookies.set("ebank_csrf", session["csrf_token"])
    client.cookies.set("ebank_device", customer.device)
    csrf = {"csrf_token": session["csrf_token"]}
    headers = {"Accept-Language": "en"}

    options = client.post("/bank/passkeys/options", data=csrf, headers=headers)
    assert options.status_code == 200
    assert 'data-webauthn="create"' in options.text
    found = re.search(r'name="challenge_id" value="([^"]+)"', options.text)
    assert found is not None
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
    }
    for answer in ("{not json", json.dumps(forged)):
        refused = client.post(
            "/bank/passkeys",
            data={**csrf, "challenge_id": found.group(1), "credential": answer, "label": "x"},
            headers=headers,
        )
        assert refused.status_code in (409, 422), refused.status_code
        assert 'role="alert"' in refused.text
    with rt.db.read() as db:
        kinds = db.execute(
            select(AuthTool.kind).where(AuthTool.customer_id == customer.customer_id)
        ).scalars()
        assert "passkey" not in set(kinds)
