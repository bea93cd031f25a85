"""A customer's channel enrolment through its states, driven over the API: suspended at the
counter (sessions end, login refused), resumed, closed for good; an account signed for query
only; where a registration came from; and the mobile channel next to online banking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    PIN,
    TRANSACTION_PASSWORD,
    OnlineCustomer,
    authorise_with_sms,
    last_code,
    login_with_sms,
    online_customer,
    open_online_customer,
    pay,
    sms_login,
)
from tests.conftest import StaffLogins
from tests.factories import funded_account, individual, mobile, resident_id

from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account, reveal_account_number
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

pytestmark = pytest.mark.usefixtures("permissive_risk")  # these tests are about enrolments

Response = Any  # what the TestClient answers
SMS_RESEND = timedelta(seconds=61)  # one login code a minute


def _try_login(
    rt: Runtime,
    client: TestClient,
    clock: ManualClock,
    customer: OnlineCustomer,
    *,
    channel: str = "online",
) -> Response:
    """Password + SMS code, right both; the login's answer, whatever it is. On success the
    customer carries the new session."""
    clock.advance(SMS_RESEND)
    return sms_login(rt, client, customer, channel=channel)


def _change_channel(
    client: TestClient, staff: StaffLogins, customer_id: int, channel: str, change: str
) -> Response:
    return client.post(
        f"{API}/customers/{customer_id}/channels/{channel}/{change}",
        json={"reason": f"{change}: a test of the counter's {channel} controls"},
        headers=staff.headers(Role.SUPERVISOR),
    )


def _channels(client: TestClient, staff: StaffLogins, customer_id: int) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/customers/{customer_id}/channels", headers=staff.headers(Role.TELLER)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def _refused(response: Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_a_suspended_channel_ends_the_sessions_and_refuses_login_until_resumed(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 201)
    phone = OnlineCustomer(**{**customer.__dict__, "token": None, "device": "second-phone"})
    assert _try_login(rt, client, clock, phone).status_code == 200

    suspended = _change_channel(client, staff, customer.customer_id, "online", "suspend")
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    for session in (customer, phone):
        assert client.get(f"{API}/me/accounts", headers=session.headers()).status_code == 401
    _refused(_try_login(rt, client, clock, customer), 403, "channel_suspended")
    _refused(_try_login(rt, client, clock, customer), 403, "channel_suspended")  # and again
    [row] = _channels(client, staff, customer.customer_id)
    assert row["status"] == "suspended"

    resumed = _change_channel(client, staff, customer.customer_id, "online", "resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    assert _try_login(rt, client, clock, customer).status_code == 200
    mine = client.get(f"{API}/me/channels", headers=customer.headers())
    assert [(c["channel"], c["status"]) for c in mine.json()] == [("online", "active")]
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200
    _refused(
        _change_channel(client, staff, customer.customer_id, "online", "resume"),
        409,
        "enrolment_state",
    )


def test_a_closed_channel_is_refused_for_good(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 202)
    closed = _change_channel(client, staff, customer.customer_id, "online", "close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 401
    _refused(_try_login(rt, client, clock, customer), 403, "channel_not_registered")

    for change in ("resume", "suspend", "close"):
        refused = _change_channel(client, staff, customer.customer_id, "online", change)
        _refused(refused, 409, "enrolment_state")
    _refused(_try_login(rt, client, clock, customer), 403, "channel_not_registered")
    [row] = _channels(client, staff, customer.customer_id)
    assert row["status"] == "closed"


def test_an_account_signed_for_query_only_is_refused_a_transfer(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer_id = individual(rt, 203)
    account_id = funded_account(rt, customer_id, 1_000_000)
    registered = client.post(
        f"{API}/customers/{customer_id}/channels",
        json={
            "channel": "online",
            "account_ids": [account_id],
            "functions": ["query"],
            "login_name": "user203",
            "login_password": LOGIN_PASSWORD,
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=staff.headers(Role.TELLER),
    )
    assert registered.status_code == 201, registered.text
    [signed] = registered.json()["accounts"]
    assert (signed["can_query"], signed["can_transfer"]) == (True, False)
    customer = OnlineCustomer(
        customer_id,
        account_id,
        reveal_account_number(rt, account_id),
        mobile(203),
        "user203",
        "测试客户203",
    )
    assert _try_login(rt, client, clock, customer).status_code == 200
    payee = open_online_customer(rt, client, staff, 204, balance=0)

    accounts = client.get(f"{API}/me/accounts", headers=customer.headers())
    assert [a["id"] for a in accounts.json()] == [account_id]
    statement = client.get(f"{API}/me/accounts/{account_id}/statement", headers=customer.headers())
    assert statement.status_code == 200, statement.text
    _refused(pay(rt, client, customer, payee, 30_000), 403, "account_not_signed")
    opened = client.post(
        f"{API}/me/services/precious-metal",
        json={"parent_account_id": account_id},
        headers=customer.headers(),
    )
    _refused(opened, 403, "account_not_signed")
    assert client.get(f"{API}/me/payments", headers=customer.headers()).json() == []
    assert get_account(rt, account_id).balance == 1_000_000
    assert get_account(rt, payee.account_id).balance == 0


def test_a_registration_records_whether_it_was_made_at_the_counter_or_self_service(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    at_counter = online_customer(rt, client, staff, 205)
    [row] = _channels(client, staff, at_counter.customer_id)
    assert (row["channel"], row["registered_via"]) == ("online", "counter")
    mine = client.get(f"{API}/me/channels", headers=at_counter.headers()).json()
    assert [c["registered_via"] for c in mine] == ["counter"]

    customer_id = individual(rt, 206)
    account_id = funded_account(rt, customer_id, 100_000)
    pin = client.put(
        f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=staff.headers(Role.TELLER)
    )
    assert pin.status_code == 204, pin.text
    card = reveal_account_number(rt, account_id)
    registered = client.post(
        f"{API}/channels/registrations",
        json={
            "card_number": card,
            "pin": PIN,
            "name": "测试客户206",
            "id_number": resident_id(206),
            "login_name": "self206",
            "login_password": LOGIN_PASSWORD,
            "transaction_password": TRANSACTION_PASSWORD,
        },
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["registered_via"] == "self_service"
    [row] = _channels(client, staff, customer_id)
    assert (row["channel"], row["registered_via"]) == ("online", "self_service")
    customer = OnlineCustomer(customer_id, account_id, card, mobile(206), "self206", "测试客户206")
    assert _try_login(rt, client, clock, customer).status_code == 200
    mine = client.get(f"{API}/me/channels", headers=customer.headers()).json()
    assert [c["registered_via"] for c in mine] == ["self_service"]


def test_a_mobile_customer_logs_in_with_a_bearer_token_and_pays_but_not_online(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = open_online_customer(rt, client, staff, 207, channel="mobile")
    payee = open_online_customer(rt, client, staff, 208, balance=0)
    login_with_sms(rt, client, customer, channel="mobile")
    assert customer.token is not None
    mine = client.get(f"{API}/me/channels", headers=customer.headers()).json()
    assert [c["channel"] for c in mine] == ["mobile"]
    accounts = client.get(f"{API}/me/accounts", headers=customer.headers())
    assert [a["id"] for a in accounts.json()] == [customer.account_id]

    payment = pay(rt, client, customer, payee, 45_000)
    assert payment.status_code == 201, payment.text
    assert payment.json()["channel"] == "mobile"
    done = authorise_with_sms(rt, client, customer, payment.json())
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == 45_000

    online = OnlineCustomer(**{**customer.__dict__, "token": None})
    _refused(_try_login(rt, client, clock, online), 403, "channel_not_registered")
    _refused(  # and the other way round: online banking alone does not open the mobile app
        _try_login(rt, client, clock, payee, channel="mobile"), 403, "channel_not_registered"
    )


def test_suspending_online_banking_leaves_the_mobile_channel_usable(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = open_online_customer(rt, client, staff, 209)
    payee = open_online_customer(rt, client, staff, 210, balance=0)
    also_mobile = client.post(
        f"{API}/customers/{customer.customer_id}/channels",
        json={"channel": "mobile", "account_ids": [customer.account_id]},
        headers=staff.headers(Role.TELLER),
    )
    assert also_mobile.status_code == 201, also_mobile.text
    assert _try_login(rt, client, clock, customer, channel="mobile").status_code == 200
    on_the_phone = customer.headers()
    online = OnlineCustomer(**{**customer.__dict__, "device": "online-browser", "token": None})
    assert _try_login(rt, client, clock, online).status_code == 200
    suspended = _change_channel(client, staff, customer.customer_id, "online", "suspend")
    assert suspended.status_code == 200, suspended.text
    assert client.get(f"{API}/me/accounts", headers=online.headers()).status_code == 401
    still = client.get(f"{API}/me/accounts", headers=on_the_phone)  # the app's session goes on
    assert still.status_code == 200, still.text

    _refused(_try_login(rt, client, clock, customer), 403, "channel_suspended")
    assert _try_login(rt, client, clock, customer, channel="mobile").status_code == 200
    payment = pay(rt, client, customer, payee, 46_000)
    assert payment.status_code == 201, payment.text
    done = authorise_with_sms(rt, client, customer, payment.json())
    assert done.json()["status"] == "executed", done.text
    statuses = {c["channel"]: c["status"] for c in _channels(client, staff, customer.customer_id)}
    assert statuses == {"online": "suspended", "mobile": "active"}


def test_a_channel_registered_again_after_closing_signs_only_the_new_contracts_accounts(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """Closing ends the old contract: a later registration at the counter signs the accounts it
    names, and an account of the closed contract stays unsigned."""
    customer = open_online_customer(rt, client, staff, 211)
    payee = open_online_customer(rt, client, staff, 212, balance=0)
    closed = _change_channel(client, staff, customer.customer_id, "online", "close")
    assert closed.status_code == 200, closed.text
    second_account = funded_account(rt, customer.customer_id, 500_000)
    again = client.post(
        f"{API}/customers/{customer.customer_id}/channels",
        json={"channel": "online", "account_ids": [second_account]},
        headers=staff.headers(Role.TELLER),
    )
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "active"
    assert [a["account_id"] for a in again.json()["accounts"]] == [second_account]

    assert _try_login(rt, client, clock, customer).status_code == 200
    accounts = client.get(f"{API}/me/accounts", headers=customer.headers()).json()
    assert [a["id"] for a in accounts] == [second_account]
    _refused(pay(rt, client, customer, payee, 30_000), 403, "account_not_signed")
    assert get_account(rt, customer.account_id).balance == 1_000_000


def test_a_login_code_spent_on_a_refused_channel_cannot_be_used_again(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """A one-time code works once: refused because the customer has no online banking, the same
    challenge and code do not then open the mobile channel."""
    customer = open_online_customer(rt, client, staff, 213, channel="mobile")
    headers = {"X-Device-Id": customer.device, "Accept-Language": "en"}
    challenge = client.post(
        f"{API}/customer/login/challenge",
        json={"login_name": customer.login_name, "method": "sms"},
        headers=headers,
    ).json()
    body = {
        "login_name": customer.login_name,
        "password": LOGIN_PASSWORD,
        "method": "sms",
        "challenge_id": challenge["id"],
        "code": last_code(rt, customer.mobile),
    }
    online = client.post(
        f"{API}/customer/login", json=body | {"channel": "online"}, headers=headers
    )
    _refused(online, 403, "channel_not_registered")
    again = client.post(f"{API}/customer/login", json=body | {"channel": "mobile"}, headers=headers)
    assert again.status_code == 401, again.text
