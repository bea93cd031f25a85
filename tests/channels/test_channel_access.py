"""Another customer's payments, payees, accounts, devices, tools and notifications are refused,
through the API and the online-banking pages alike (the routes read from the application, so
none is forgotten); a session is bound to its device and ends after five idle minutes; bad input
changes nothing."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
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
from tests.web.test_route_permissions import app_routes, customer_page_routes, page_fallbacks

from ebank.channels.models import Payee, Payment
from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account
from ebank.runtime import Runtime
from ebank.sim.passkey import SoftPasskey
from ebank.sim.usbkey import SoftToken, SoftUsbKey
from ebank.staff.permissions import Role


def _count(rt: Runtime, model: Any) -> int:
    with rt.db.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@dataclass
class Owned:
    """A customer with one of each thing another customer could name: payments (one made, one
    waiting for its code), a saved payee, a device, notifications, an e-token, a USB key, a
    passkey and a passkey registration still open."""

    owner: OnlineCustomer
    payee: OnlineCustomer
    executed: dict[str, Any]
    awaiting: dict[str, Any]
    awaiting_code: str  # the SMS code the owner received for ``awaiting``
    token: SoftToken
    tools: dict[str, int]  # kind → id
    saved_payee_id: int
    device_id: int
    notification_id: int
    passkey_challenge: str


def _owner_of_everything(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock, n: int
) -> Owned:
    owner = online_customer(rt, client, staff, n)
    payee = open_online_customer(rt, client, staff, n + 2, balance=0)
    first = pay(rt, client, owner, payee, 30_000).json()
    executed = authorise_with_sms(rt, client, owner, first).json()
    assert executed["status"] == "executed", executed
    clock.advance(timedelta(seconds=61))  # one code a minute
    awaiting = pay(rt, client, owner, payee, 40_000).json()
    assert awaiting["status"] == "awaiting_auth", awaiting
    awaiting_code = last_code(rt, owner.mobile)
    teller = staff.headers(Role.TELLER)
    token = SoftToken()
    assigned = client.post(
        f"{API}/customers/{owner.customer_id}/tokens",
        json={"kind": "totp", "secret_base32": base64.b32encode(token.secret).decode()},
        headers=teller,
    )
    assert assigned.status_code == 201, assigned.text
    usbkey = client.post(
        f"{API}/customers/{owner.customer_id}/usbkeys",
        json={"public_key_pem": SoftUsbKey().public_key_pem().decode()},
        headers=teller,
    )
    assert usbkey.status_code == 201, usbkey.text
    options = client.post(f"{API}/me/passkeys/options", headers=owner.headers()).json()
    passkey = client.post(
        f"{API}/me/passkeys",
        json={
            "challenge_id": options["challenge_id"],
            "credential": SoftPasskey().register(options["options"], origin=rt.settings.rp_origin),
        },
        headers=owner.headers(),
    )
    assert passkey.status_code == 201, passkey.text
    still_open = client.post(f"{API}/me/passkeys/options", headers=owner.headers()).json()
    saved = client.post(
        f"{API}/me/payees",
        json={"account_number": payee.card_number, "name": payee.name},
        headers=owner.headers(),
    )
    assert saved.status_code == 201, saved.text
    return Owned(
        owner=owner,
        payee=payee,
        executed=executed,
        awaiting=awaiting,
        awaiting_code=awaiting_code,
        token=token,
        tools={t["kind"]: t["id"] for t in _get(client, owner, "/me/tools")},
        saved_payee_id=saved.json()["id"],
        device_id=_get(client, owner, "/me/devices")[0]["id"],
        notification_id=_get(client, owner, "/me/notifications")[0]["id"],
        passkey_challenge=still_open["challenge_id"],
    )


def _get(client: TestClient, customer: OnlineCustomer, path: str) -> Any:
    response = client.get(API + path, headers=customer.headers())
    assert response.status_code == 200, response.text
    return response.json()


def _as_seen_by_the_owner(rt: Runtime, client: TestClient, owned: Owned) -> dict[str, Any]:
    """Everything the owner can see of their things, and both balances."""
    owner = owned.owner
    seen = {
        path: _get(client, owner, path)
        for path in (
            "/me/accounts",
            "/me/payments",
            "/me/payees",
            "/me/devices",
            "/me/tools",
            "/me/notifications?limit=200",
            "/me/channels",
            f"/me/accounts/{owner.account_id}/statement",
        )
    }
    seen["balances"] = [
        get_account(rt, owner.account_id).balance,
        get_account(rt, owned.payee.account_id).balance,
    ]
    return seen


def _log_in(rt: Runtime, client: TestClient, customer: OnlineCustomer) -> str:
    """Log in with password + SMS code; the customer gets the token, the caller the CSRF token
    its pages need."""
    csrf = login_with_sms(rt, client, customer).csrf
    assert csrf is not None
    return csrf


def _app(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def _me_routes(client: TestClient) -> list[tuple[str, str, APIRoute]]:
    """The customer's own API, as the application serves it: (method, full path, route)."""
    return [(m, p, r) for m, p, r in app_routes(_app(client)) if p.startswith(f"{API}/me/")]


def _ids_in_bodies(client: TestClient) -> set[tuple[str, str, str]]:
    """(method, path, field) of every id a ``/me`` route takes in its JSON body."""
    found = set()
    for method, path, route in _me_routes(client):
        for param in route.dependant.body_params:
            model = param.field_info.annotation
            assert isinstance(model, type)
            assert issubclass(model, BaseModel)
            found |= {(method, path, name) for name in model.model_fields if name.endswith("_id")}
    return found


@dataclass(frozen=True)
class Attempt:
    path: str
    body: Any
    status: int
    code: str | None  # None: served as the caller's own, never as the owner's


@pytest.mark.usefixtures("permissive_risk")
def test_another_customers_things_are_refused_on_every_route_that_names_them(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """Every ``/me`` route with an id in its path, and every id in a ``/me`` body, is tried by
    another customer with the owner's thing (with the owner's own SMS code where one is asked):
    each refuses with its stable code and the owner's things stay as they were. The routes are
    read from the application, so a new one fails here until it is added to the table."""
    owned = _owner_of_everything(rt, client, staff, clock, 61)
    intruder = open_online_customer(rt, client, staff, 62)
    _log_in(rt, client, intruder)
    mine = pay(rt, client, intruder, owned.payee, 30_000).json()  # the intruder's own payment
    assert mine["status"] == "awaiting_auth", mine
    assert mine["challenge"], mine  # no exemption: the code is asked for
    me, owner = f"{API}/me", owned.owner
    done, waiting = owned.executed["id"], owned.awaiting["id"]
    code_and_password = {"code": owned.awaiting_code, "transaction_password": TRANSACTION_PASSWORD}
    now = clock.now()
    genuine_passkey = SoftPasskey().register(  # answering the intruder's own ceremony
        _registration_options(client, intruder), origin=rt.settings.rp_origin
    )
    by_path: dict[tuple[str, str], list[Attempt]] = {
        ("GET", f"{me}/payments/{{payment_id}}"): [
            Attempt(f"{me}/payments/{pid}", None, 404, "payment_not_found")
            for pid in (done, waiting)
        ],
        ("PATCH", f"{me}/payments/{{payment_id}}"): [
            Attempt(f"{me}/payments/{waiting}", {"amount": 1}, 404, "payment_not_found"),
            Attempt(
                f"{me}/payments/{waiting}",
                {"payee_account": intruder.card_number, "payee_name": intruder.name},
                404,
                "payment_not_found",
            ),
        ],
        ("POST", f"{me}/payments/{{payment_id}}/confirm"): [
            Attempt(f"{me}/payments/{waiting}/confirm", {"method": "sms"}, 404, "payment_not_found")
        ],
        ("POST", f"{me}/payments/{{payment_id}}/authorize"): [
            Attempt(
                f"{me}/payments/{waiting}/authorize",
                {"challenge_id": owned.awaiting["challenge"]["id"], **code_and_password},
                404,
                "payment_not_found",
            )
        ],
        ("POST", f"{me}/payments/{{payment_id}}/recall"): [
            Attempt(f"{me}/payments/{done}/recall", {"reason": "mine"}, 404, "payment_not_found")
        ],
        ("GET", f"{me}/accounts/{{account_id}}/statement"): [
            Attempt(f"{me}/accounts/{owner.account_id}/statement", None, 403, "account_not_signed")
        ],
        ("DELETE", f"{me}/payees/{{payee_id}}"): [
            Attempt(f"{me}/payees/{owned.saved_payee_id}", None, 404, "payee_not_found")
        ],
        ("DELETE", f"{me}/devices/{{device_id}}"): [
            Attempt(f"{me}/devices/{owned.device_id}", None, 404, "device_not_found")
        ],
        ("POST", f"{me}/tools/{{tool_id}}/report-lost"): [
            Attempt(f"{me}/tools/{tool_id}/report-lost", None, 404, "tool_not_found")
            for tool_id in owned.tools.values()
        ],
        ("POST", f"{me}/tools/{{tool_id}}/resync"): [
            Attempt(
                f"{me}/tools/{tool_id}/resync",
                {
                    "first": owned.token.code(now - timedelta(seconds=30)),
                    "second": owned.token.code(now),
                },
                404,
                "tool_not_found",
            )
            for tool_id in owned.tools.values()
        ],
        ("POST", f"{me}/notifications/{{notification_id}}/read"): [
            Attempt(
                f"{me}/notifications/{owned.notification_id}/read",
                None,
                404,
                "notification_not_found",
            )
        ],
    }
    by_body: dict[tuple[str, str, str], list[Attempt]] = {
        ("POST", f"{me}/payments", "request_id"): [  # the same request id is not the same payment
            Attempt(
                f"{me}/payments",
                {
                    "request_id": owned.executed["request_id"],
                    "from_account_id": intruder.account_id,
                    "amount": 100,
                    "payee_account": owned.payee.card_number,
                    "payee_name": owned.payee.name,
                    "method": "sms",
                },
                201,
                None,
            )
        ],
        ("POST", f"{me}/payments", "from_account_id"): [
            Attempt(
                f"{me}/payments",
                {
                    "request_id": "steal-0001",
                    "from_account_id": owner.account_id,
                    "amount": 100,
                    "payee_account": intruder.card_number,
                    "payee_name": intruder.name,
                    "method": "sms",
                },
                403,
                "account_not_signed",
            )
        ],
        ("POST", f"{me}/payments", "payee_id"): [
            Attempt(
                f"{me}/payments",
                {
                    "request_id": "their-payee-0001",
                    "from_account_id": intruder.account_id,
                    "amount": 100,
                    "payee_id": owned.saved_payee_id,
                    "method": "sms",
                },
                404,
                "payee_not_found",
            )
        ],
        ("PATCH", f"{me}/payments/{{payment_id}}", "payee_id"): [
            Attempt(
                f"{me}/payments/{mine['id']}",
                {"payee_id": owned.saved_payee_id},
                404,
                "payee_not_found",
            )
        ],
        ("POST", f"{me}/payments/{{payment_id}}/authorize", "challenge_id"): [
            Attempt(
                f"{me}/payments/{mine['id']}/authorize",
                {"challenge_id": owned.awaiting["challenge"]["id"], **code_and_password},
                409,
                "challenge_unusable",
            )
        ],
        ("POST", f"{me}/services/precious-metal", "parent_account_id"): [
            Attempt(
                f"{me}/services/precious-metal",
                {"parent_account_id": owner.account_id},
                403,
                "account_not_signed",
            )
        ],
        ("POST", f"{me}/passkeys", "challenge_id"): [
            Attempt(
                f"{me}/passkeys",
                {"challenge_id": owned.passkey_challenge, "credential": genuine_passkey},
                409,
                "challenge_unusable",
            )
        ],
    }
    named_in_path = {(m, p) for m, p, r in _me_routes(client) if r.dependant.path_params}
    assert len(named_in_path) >= 11
    assert named_in_path - by_path.keys() == set(), "new routes: add them to the table"
    assert len(_ids_in_bodies(client)) >= 6
    assert _ids_in_bodies(client) - by_body.keys() == set(), "new ids: add them to the table"

    before = _as_seen_by_the_owner(rt, client, owned)
    for (method, _route, *_field), attempts in [*by_path.items(), *by_body.items()]:
        for attempt in attempts:
            response = client.request(
                method, attempt.path, json=attempt.body, headers=intruder.headers()
            )
            assert response.status_code == attempt.status, (method, attempt.path, response.text)
            if attempt.code is None:
                assert response.json()["id"] not in (done, waiting), response.text
                assert response.json()["amount"] == attempt.body["amount"], response.text
            else:
                assert response.json()["code"] == attempt.code, (
                    method,
                    attempt.path,
                    response.text,
                )
            assert _as_seen_by_the_owner(rt, client, owned) == before, (method, attempt.path)
    assert [a["id"] for a in _get(client, intruder, "/me/accounts")] == [intruder.account_id]
    # The owner's own code still works: the intruder's tries did not spend it.
    own = authorise_with_sms(rt, client, owner, owned.awaiting, owned.awaiting_code)
    assert own.json()["status"] == "executed", own.text


def _registration_options(client: TestClient, customer: OnlineCustomer) -> dict[str, Any]:
    """Options of a passkey registration the customer opens (to answer someone else's)."""
    response = client.post(f"{API}/me/passkeys/options", headers=customer.headers())
    assert response.status_code == 200, response.text
    return dict(response.json()["options"])


@dataclass(frozen=True)
class PageAttempt:
    path: str
    form: dict[str, str] | None  # None: a GET
    status: int  # 303: the page sends the browser elsewhere (see ``then``)
    code: str | None = None  # the error page's data-code
    then: str | None = None  # where a 303 goes


@pytest.mark.usefixtures("permissive_risk")
def test_another_customers_things_are_refused_on_every_page_that_names_them(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """The online-banking pages, in the intruder's browser (session cookie, CSRF token, device
    cookie), with the owner's ids in the address: every page that names a thing refuses it with
    the error page, every reloaded form address sends the browser to a page that refuses it or
    shows only the intruder's own things, and nothing of the owner's changes."""
    owned = _owner_of_everything(rt, client, staff, clock, 71)
    intruder = open_online_customer(rt, client, staff, 72)
    csrf = _log_in(rt, client, intruder)
    assert intruder.token is not None
    client.cookies.set("ebank_session", intruder.token)
    client.cookies.set("ebank_csrf", csrf)
    client.cookies.set("ebank_device", intruder.device)
    assert client.get("/bank", follow_redirects=False).status_code == 200  # the session works
    owner = owned.owner
    done, waiting = owned.executed["id"], owned.awaiting["id"]
    token = {"csrf_token": csrf}
    attempts: dict[tuple[str, str], list[PageAttempt]] = {
        ("GET", "/bank/accounts/{account_id}"): [
            PageAttempt(f"/bank/accounts/{owner.account_id}", None, 403, "account_not_signed")
        ],
        ("GET", "/bank/payments/{payment_id}"): [
            PageAttempt(f"/bank/payments/{pid}", None, 404, "payment_not_found")
            for pid in (done, waiting)
        ],
        ("POST", "/bank/payments/{payment_id}/confirm"): [
            PageAttempt(
                f"/bank/payments/{waiting}/confirm",
                {**token, "method": "sms", "checked": "1"},
                404,
                "payment_not_found",
            )
        ],
        ("POST", "/bank/payments/{payment_id}/authorise"): [
            PageAttempt(
                f"/bank/payments/{waiting}/authorise",
                {
                    **token,
                    "challenge_id": owned.awaiting["challenge"]["id"],
                    "challenge_method": "sms",
                    "code": owned.awaiting_code,
                    "transaction_password": TRANSACTION_PASSWORD,
                },
                404,
                "payment_not_found",
            )
        ],
        ("POST", "/bank/payments/{payment_id}/recall"): [
            PageAttempt(
                f"/bank/payments/{done}/recall",
                {**token, "reason": "mine"},
                404,
                "payment_not_found",
            )
        ],
        ("POST", "/bank/payees/{payee_id}/delete"): [
            PageAttempt(
                f"/bank/payees/{owned.saved_payee_id}/delete", token, 404, "payee_not_found"
            )
        ],
        ("POST", "/bank/devices/{device_id}/revoke"): [
            PageAttempt(f"/bank/devices/{owned.device_id}/revoke", token, 404, "device_not_found")
        ],
        ("POST", "/bank/tools/{tool_id}/report-lost"): [
            PageAttempt(f"/bank/tools/{tool_id}/report-lost", token, 404, "tool_not_found")
            for tool_id in owned.tools.values()
        ],
        # A form's address typed or reloaded: only a redirect, to a page that refuses too.
        **{
            ("GET", f"/bank/payments/{{payment_id}}/{step}"): [
                PageAttempt(
                    f"/bank/payments/{waiting}/{step}",
                    None,
                    303,
                    then=f"/bank/payments/{quote(waiting)}",
                )
            ]
            for step in ("confirm", "authorise", "recall")
        },
        ("GET", "/bank/payees/{payee_id}/delete"): [
            PageAttempt(
                f"/bank/payees/{owned.saved_payee_id}/delete", None, 303, then="/bank/payees"
            )
        ],
        ("GET", "/bank/devices/{device_id}/revoke"): [
            PageAttempt(f"/bank/devices/{owned.device_id}/revoke", None, 303, then="/bank/security")
        ],
        ("GET", "/bank/tools/{tool_id}/report-lost"): [
            PageAttempt(f"/bank/tools/{tool_id}/report-lost", None, 303, then="/bank/security")
            for tool_id in owned.tools.values()
        ],
    }
    app = client.app
    assert isinstance(app, FastAPI)
    named = {(m, p) for m, p in [*customer_page_routes(app), *page_fallbacks(app)] if "{" in p}
    assert len(named) >= 14
    assert named - attempts.keys() == set(), "new pages: add them to the table"

    before = _as_seen_by_the_owner(rt, client, owned)
    theirs = _owner_secrets(client, owned)
    headers = {"Accept-Language": "en"}
    for (method, _page), tries in attempts.items():
        for attempt in tries:
            response = client.request(
                method, attempt.path, data=attempt.form, headers=headers, follow_redirects=False
            )
            where = (method, attempt.path)
            assert response.status_code == attempt.status, (where, response.text[:300])
            if attempt.status == 303:
                assert response.headers["location"] == attempt.then, where
                landed = client.get(response.headers["location"], headers=headers)
                if landed.status_code == 200:  # the intruder's own list: nothing of the owner's
                    assert not [s for s in theirs if s in landed.text], where
                else:
                    assert landed.status_code == 404, where
                    assert 'data-code="payment_not_found"' in landed.text, where
            else:
                assert response.headers["content-type"].startswith("text/html"), where
                assert f'data-code="{attempt.code}"' in response.text, where
                assert not [s for s in theirs if s in response.text], where
            assert _as_seen_by_the_owner(rt, client, owned) == before, where
    own = authorise_with_sms(rt, client, owner, owned.awaiting, owned.awaiting_code)
    assert own.json()["status"] == "executed", own.text


def _owner_secrets(client: TestClient, owned: Owned) -> list[str]:
    """What the owner's security page shows of their things, unique to them (the serials of
    their e-token, USB key and passkey), that no one else's page may show."""
    serials = [tool["serial"] for tool in _get(client, owned.owner, "/me/tools")]
    assert len(serials) == 3
    assert all(len(serial) > 10 for serial in serials)
    return serials


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
    from tests.channels.banking import last_code

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
    assert wrong_name.json()["field"] == "name"  # the field of this request
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

    from ebank.auth.models import AuthTool

    customer = online_customer(rt, client, staff, 69)
    clock.advance(timedelta(seconds=61))  # one login code a minute
    session = sms_login(rt, client, customer).json()
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
