"""Bad input to the customer's write routes: a problem+json 4xx with a stable code, the field it
concerns and a message in the customer's language, never a 500, and nothing changes in the bank
(every row of every table as it was, no text message sent).

The routes come from the application itself (``write_routes``, ``id_routes``), so a new customer
route is thrown the garbage the moment it exists and fails here until it has a good request."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    PIN,
    TRANSACTION_PASSWORD,
    OnlineCustomer,
    authorise_with_sms,
    last_code,
    online_customer,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins
from tests.factories import funded_account, individual, resident_id

from ebank.app import API_PREFIX, api_routers
from ebank.auth.models import CardPin
from ebank.common.clock import ManualClock
from ebank.ledger.service import reveal_account_number
from ebank.runtime import Runtime
from ebank.schema import metadata
from ebank.sim.passkey import SoftPasskey
from ebank.sim.usbkey import SoftToken
from ebank.staff.permissions import Role

OTHER_BANK_ACCOUNT = "6222020200112233440"
OTHER_BANK = "ICBKCNBJ"
HAN = re.compile(r"[\u4e00-\u9fff]")
APPLICANT = 13  # the card holder who registers online
VALID_ID = resident_id(APPLICANT)
WRONG_CHECKSUM = VALID_ID[:-1] + ("1" if VALID_ID[-1] != "1" else "2")
ANY = "<any>"  # a refusal whose status, code or field this test does not prescribe


@dataclass
class Bank:
    """A logged-in customer with something of each kind to act on."""

    rt: Runtime
    client: TestClient
    clock: ManualClock
    customer: OnlineCustomer
    payee: OnlineCustomer
    executed: dict[str, Any]  # a payment made (one may ask for it back)
    awaiting: dict[str, Any]  # a payment waiting for its SMS code
    awaiting_code: str
    token: SoftToken  # the customer's e-token
    tool_id: int
    device_id: int
    notification_id: int
    saved_payee_id: int
    applicant: dict[str, Any]  # a valid self-registration of a card holder not yet registered
    applicant_card: int  # the card's account id

    def path(self, template: str) -> str:
        return API + template.format(
            awaiting=self.awaiting["id"],
            executed=self.executed["id"],
            tool=self.tool_id,
            device=self.device_id,
            notification=self.notification_id,
            payee=self.saved_payee_id,
        )

    def headers(self, locale: str = "en") -> dict[str, str]:
        return self.customer.headers(locale)


@pytest.fixture
def bank(
    rt: Runtime,
    client: TestClient,
    staff: StaffLogins,
    clock: ManualClock,
    permissive_risk: None,
) -> Bank:
    customer = online_customer(rt, client, staff, 11)
    payee = open_online_customer(rt, client, staff, 12, balance=0)
    first = pay(rt, client, customer, payee, 30_000).json()
    executed = authorise_with_sms(rt, client, customer, first).json()
    assert executed["status"] == "executed", executed
    clock.advance(timedelta(seconds=61))  # one code a minute
    awaiting = pay(rt, client, customer, payee, 40_000).json()
    assert awaiting["status"] == "awaiting_auth", awaiting
    awaiting_code = last_code(rt, customer.mobile)
    token = SoftToken()
    assigned = client.post(
        f"{API}/customers/{customer.customer_id}/tokens",
        json={"kind": "totp", "secret_base32": base64.b32encode(token.secret).decode()},
        headers=staff.headers(Role.TELLER),
    )
    assert assigned.status_code == 201, assigned.text
    saved = client.post(
        f"{API}/me/payees",
        json={"account_number": payee.card_number, "name": payee.name},
        headers=customer.headers(),
    )
    assert saved.status_code == 201, saved.text
    devices = client.get(f"{API}/me/devices", headers=customer.headers()).json()
    inbox = client.get(f"{API}/me/notifications", headers=customer.headers()).json()
    applicant, applicant_card = _applicant(rt, client, staff, APPLICANT)
    return Bank(
        rt=rt,
        client=client,
        clock=clock,
        customer=customer,
        payee=payee,
        executed=executed,
        awaiting=awaiting,
        awaiting_code=awaiting_code,
        token=token,
        tool_id=assigned.json()["tool"]["id"],
        device_id=devices[0]["id"],
        notification_id=inbox[0]["id"],
        saved_payee_id=saved.json()["id"],
        applicant=applicant,
        applicant_card=applicant_card,
    )


def _applicant(
    rt: Runtime, client: TestClient, staff: StaffLogins, n: int
) -> tuple[dict[str, Any], int]:
    """A card with its PIN set at the counter, whose holder has no e-banking yet."""
    customer_id = individual(rt, n)
    account_id = funded_account(rt, customer_id, 0)
    response = client.put(
        f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=staff.headers(Role.TELLER)
    )
    assert response.status_code == 204, response.text
    registration = {
        "card_number": reveal_account_number(rt, account_id),
        "pin": PIN,
        "name": f"测试客户{n}",
        "id_number": resident_id(n),
        "login_name": f"self{n}",
        "login_password": "self-login-2026",
        "transaction_password": "self-pay-2026x",
    }
    return registration, account_id


# --- "nothing changed" ---------------------------------------------------------------------------

State = tuple[dict[str, list[tuple[Any, ...]]], int]


def _state(rt: Runtime) -> State:
    """Every row of every table, and the number of text messages sent (after delivering what was
    pending, so that the courier's own progress is not mistaken for a change)."""
    sent = len(sms_messages(rt))  # flushes the courier first
    with rt.db.read() as session:
        rows = {
            table.name: sorted(
                (tuple(row) for row in session.execute(select(table)).all()), key=repr
            )
            for table in metadata.sorted_tables
        }
    return rows, sent


def _changes(before: State, after: State) -> dict[str, Any]:
    """What differs, table by table: the rows gone and the rows new (or changed)."""
    changed: dict[str, Any] = {
        name: {
            "gone": [row for row in rows if row not in after[0][name]],
            "new": [row for row in after[0][name] if row not in rows],
        }
        for name, rows in before[0].items()
        if rows != after[0][name]
    }
    if before[1] != after[1]:
        changed["sms sent"] = after[1] - before[1]
    return changed


def _assert_problem(
    response: Any,
    status: int | str,
    code: str,
    field: str | None,
    *,
    chinese: bool = False,
) -> None:
    if status == ANY:
        assert 400 <= response.status_code < 500, response.text
    else:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert re.fullmatch(r"[a-z][a-z0-9_]*", problem["code"]), problem
    if code != ANY:
        assert problem["code"] == code, problem
    if field != ANY:
        assert problem.get("field") == field, problem
    assert problem["status"] == response.status_code
    assert problem["detail"]
    assert bool(HAN.search(problem["detail"])) is chinese, problem


# --- one route, one mistake ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    method: str
    path: str  # a template for Bank.path
    body: Any = None  # the JSON body (None: no body at all)
    code: str = ANY
    field: str | None = None
    status: int | str = 422
    raw: bytes | None = None  # sent as the body, with a JSON content type, instead of ``body``


def _send(bank: Bank, case: Bad, locale: str = "en") -> Any:
    headers = bank.headers(locale)
    path = bank.path(case.path)
    if case.raw is not None:
        headers["Content-Type"] = "application/json"
        return bank.client.request(case.method, path, content=case.raw, headers=headers)
    if case.body is None:
        return bank.client.request(case.method, path, headers=headers)
    return bank.client.request(case.method, path, json=case.body, headers=headers)


PAYMENT = "/me/payments/{awaiting}"
CONFIRM = "/me/payments/{awaiting}/confirm"
AUTHORIZE = "/me/payments/{awaiting}/authorize"
RECALL = "/me/payments/{executed}/recall"
RESYNC = "/me/tools/{tool}/resync"
FORGED_PASSKEY = {
    "id": "AAAA",
    "rawId": "AAAA",
    "type": "public-key",
    "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
}


def _param(case: Bad, label: Any) -> Any:
    route = {PAYMENT: "payment"}.get(case.path, case.path.rsplit("/", 1)[-1])
    return pytest.param(case, id=f"{case.method} {route} {label}"[:70])


def _cases() -> Iterator[Any]:
    body: Any
    code: str
    field: str | None
    status: int
    for body, code, field in [
        ({"amount": -100}, "amount_not_positive", "amount"),
        ({"amount": 0}, "amount_not_positive", "amount"),
        ({"amount": "100"}, "invalid_amount", "amount"),
        ({"amount": 1.5}, "invalid_amount", "amount"),
        ({"amount": True}, "invalid_amount", "amount"),
        ({"amount": 10**30}, "amount_too_large", "amount"),
        ({"payee_account": "12ab"}, "invalid_payee_account", "payee_account"),
        ({"payee_account": "6" * 41}, "too_long", "payee_account"),
        ({"payee_account": OTHER_BANK_ACCOUNT, "payee_name": "x" * 65}, "too_long", "payee_name"),
        ({"purpose": "x" * 141}, "too_long", "purpose"),
        ({"payee_id": 0}, "too_small", "payee_id"),
        ({"payee_id": "one"}, "not_an_integer", "payee_id"),
        ({"status": "executed"}, "unknown_field", "status"),
    ]:
        yield _param(Bad("PATCH", PAYMENT, body, code, field), body)
    # A change that changes nothing must not void the code already sent: an empty change, or a
    # payee name or bank without the payee's account (which the route would ignore).
    for body in [{}, {"payee_name": "别人"}, {"payee_bank": OTHER_BANK}]:
        yield _param(Bad("PATCH", PAYMENT, body, field=ANY, status=ANY), body)
    yield _param(Bad("PATCH", PAYMENT, None, "field_required"), "no body")
    yield _param(Bad("PATCH", PAYMENT, raw=b"{amount: 1}", code="malformed_json"), "not JSON")

    for body, code, field in [
        ({"method": "carrier-pigeon"}, "invalid_choice", "method"),
        ({"method": 1}, "invalid_choice", "method"),
        ({"acknowledge_warnings": "maybe"}, "not_a_boolean", "acknowledge_warnings"),
        ({"acknowledge_warnings": True, "amount": 1}, "unknown_field", "amount"),
        ([], "invalid_body", None),
    ]:
        yield _param(Bad("POST", CONFIRM, body, code, field), body)
    yield _param(Bad("POST", CONFIRM, None, "field_required"), "no body")

    for body, status, code, field in [
        ({"challenge_id": "no-such-challenge"}, 409, "challenge_unusable", "challenge_id"),
        ({"challenge_id": "x" * 65}, 422, "too_long", "challenge_id"),
        ({"challenge_id": 12345}, 422, "not_a_string", "challenge_id"),
        ({"challenge_id": ["a"]}, 422, "not_a_string", "challenge_id"),
        ({"code": 123456}, 422, "not_a_string", "code"),
        ({"code": "1" * 17}, 422, "too_long", "code"),
        ({"credential": "garbage"}, 422, "invalid_body", "credential"),
        ({"transaction_password": ["x"]}, 422, "not_a_string", "transaction_password"),
        ({}, 422, "challenge_required", "challenge_id"),
    ]:
        yield _param(Bad("POST", AUTHORIZE, body, code, field, status), body)
    yield _param(Bad("POST", AUTHORIZE, None, "field_required"), "no body")

    for body, code, field in [
        ({"reason": ""}, "field_required", "reason"),
        ({"reason": "   "}, "field_required", "reason"),
        ({"reason": "x" * 201}, "too_long", "reason"),
        ({"reason": 5}, "not_a_string", "reason"),
        ({"reason": "sent twice", "amount": 100}, "unknown_field", "amount"),
        ({"reason": "sent twice", "amount": -100}, "unknown_field", "amount"),
        ({}, "field_required", "reason"),
        # Not text: refused before anything is held at the payee.
        ({"reason": "sent\u0000twice"}, ANY, "reason"),
    ]:
        yield _param(Bad("POST", RECALL, body, code, field), body)

    for body, code, field in [
        ({"account_number": OTHER_BANK_ACCOUNT, "bank_code": OTHER_BANK}, "field_required", "name"),
        ({"name": "王五", "bank_code": OTHER_BANK}, "field_required", "account_number"),
        (
            {"account_number": OTHER_BANK_ACCOUNT, "name": "x" * 65, "bank_code": OTHER_BANK},
            "too_long",
            "name",
        ),
        ({"account_number": OTHER_BANK_ACCOUNT, "name": 5}, "not_a_string", "name"),
        ({"account_number": "6" * 41, "name": "王五"}, "too_long", "account_number"),
        # The request's field is "account_number": that is what the error must name.
        (
            {"account_number": "12ab", "name": "王五", "bank_code": OTHER_BANK},
            "invalid_payee_account",
            "account_number",
        ),
        (
            {
                "account_number": "６２２２０２０２００１１２２３３４４０",
                "name": "王五",
                "bank_code": OTHER_BANK,
            },
            "invalid_payee_account",
            "account_number",
        ),
    ]:
        yield _param(Bad("POST", "/me/payees", body, code, field), body)

    for body, code, field in [
        ({"daily": -1}, "amount_not_positive", "daily"),
        ({"per_transaction": 0}, "amount_not_positive", "per_transaction"),
        ({"daily": 20_000_001}, "limit_out_of_range", "daily"),  # above the contract
        ({"yearly": 10**12}, "limit_out_of_range", "yearly"),
        ({"daily": 10**30}, "amount_too_large", "daily"),
        ({"daily": "100"}, "invalid_amount", "daily"),
        ({"daily": 100.5}, "invalid_amount", "daily"),
        ({"daily": [100]}, "invalid_amount", "daily"),
        ({"weekly": 100}, "unknown_field", "weekly"),
    ]:
        yield _param(Bad("PUT", "/me/limits", body, code, field), body)
    # Nothing asked: no "your limits were changed" notice to the phone, no audit record.
    yield _param(Bad("PUT", "/me/limits", {}, field=ANY, status=ANY), {})

    for body, code, field in [
        ({"first": "abcdef", "second": "ghijkl"}, "resync_failed", "first"),
        ({"first": "１２３４５６", "second": "６５４３２１"}, "resync_failed", "first"),
        ({"first": "12345", "second": "1234567"}, "resync_failed", "first"),
        ({"first": 123456, "second": "654321"}, "not_a_string", "first"),
        ({"first": "123456"}, "field_required", "second"),
        ({"first": "1" * 17, "second": "123456"}, "too_long", "first"),
    ]:
        yield _param(Bad("POST", RESYNC, body, code, field), body)

    for body, status, code, field in [
        (
            {"challenge_id": "no-such-challenge", "credential": FORGED_PASSKEY},
            409,
            "challenge_unusable",
            "challenge_id",
        ),
        ({"challenge_id": "x", "credential": "garbage"}, 422, "invalid_body", "credential"),
        ({"challenge_id": "x", "credential": [1, 2]}, 422, "invalid_body", "credential"),
        ({"credential": FORGED_PASSKEY}, 422, "field_required", "challenge_id"),
        (
            {"challenge_id": "x", "credential": FORGED_PASSKEY, "label": "x" * 65},
            422,
            "too_long",
            "label",
        ),
    ]:
        yield _param(Bad("POST", "/me/passkeys", body, code, field, status), body)


@pytest.mark.parametrize("case", list(_cases()))
def test_bad_input_is_refused_with_a_problem_and_changes_nothing(bank: Bank, case: Bad) -> None:
    before = _state(bank.rt)
    response = _send(bank, case)
    _assert_problem(response, case.status, case.code, case.field)
    assert _changes(before, _state(bank.rt)) == {}


def test_a_forged_answer_to_a_real_passkey_ceremony_adds_no_passkey(bank: Bank) -> None:
    options = bank.client.post(f"{API}/me/passkeys/options", headers=bank.headers())
    assert options.status_code == 200, options.text
    before = _state(bank.rt)
    for credential in (FORGED_PASSKEY, {}, {"response": "x" * 10_000}):
        response = bank.client.post(
            f"{API}/me/passkeys",
            json={"challenge_id": options.json()["challenge_id"], "credential": credential},
            headers=bank.headers(),
        )
        _assert_problem(response, 422, "malformed_credential", "credential")
    assert _changes(before, _state(bank.rt)) == {}
    kinds = [t["kind"] for t in bank.client.get(f"{API}/me/tools", headers=bank.headers()).json()]
    assert "passkey" not in kinds


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        # Whatever detail is wrong, the refusal never says which (S7).
        ({"card_number": "12ab"}, 403, "registration_refused", None),
        ({"card_number": "6219990000000000001"}, 403, "registration_refused", None),
        ({"card_number": "6" * 33}, 422, "too_long", "card_number"),
        ({"card_number": 6219990000000000001}, 422, "not_a_string", "card_number"),
        ({"pin": 739146}, 422, "not_a_string", "pin"),
        ({"pin": "1" * 17}, 422, "too_long", "pin"),
        ({"id_number": "123"}, 403, "registration_refused", None),
        ({"id_number": WRONG_CHECKSUM}, 403, "registration_refused", None),
        ({"id_number": "x" * 33}, 422, "too_long", "id_number"),
        ({"name": ""}, 403, "registration_refused", None),
        ({"name": "x" * 65}, 422, "too_long", "name"),
        ({"login_name": "1abc"}, 422, "invalid_login_name", "login_name"),
        ({"login_password": "short1"}, 422, "weak_password", "login_password"),
        ({"channel": "tv"}, 422, "invalid_choice", "channel"),
    ],
    ids=repr,
)
def test_a_bad_self_registration_is_refused_and_registers_nothing(
    bank: Bank, change: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    before = _state(bank.rt)
    response = bank.client.post(
        f"{API}/channels/registrations", json={**bank.applicant, **change}, headers=bank.headers()
    )
    _assert_problem(response, status, code, field)
    assert _changes(before, _state(bank.rt)) == {}


@pytest.mark.parametrize("pin", ["12ab", "7391460", "73914", "７３９１４６"])
def test_a_malformed_pin_is_bad_input_and_not_one_of_the_three_tries(bank: Bank, pin: str) -> None:
    """Something that cannot be a PIN (the format is no secret) is refused as bad input: it says
    nothing of the card, and the card's three tries stay for its PIN."""
    before = _state(bank.rt)
    response = bank.client.post(
        f"{API}/channels/registrations", json={**bank.applicant, "pin": pin}, headers=bank.headers()
    )
    _assert_problem(response, 422, "invalid_pin", "pin")
    assert _changes(before, _state(bank.rt)) == {}
    with bank.rt.db.read() as session:
        card = session.get(CardPin, bank.applicant_card)
        assert card is not None
        assert (card.failed_attempts, card.locked_at) == (0, None)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            Bad(
                "POST",
                "/me/payees",
                {"account_number": OTHER_BANK_ACCOUNT},
                "field_required",
                "name",
            ),
            "此项为必填项",
        ),
        (Bad("PUT", "/me/limits", {"daily": 20_000_001}, "limit_out_of_range", "daily"), "限额"),
    ],
    ids=["pydantic", "domain"],
)
def test_the_problem_speaks_the_customers_language(bank: Bank, case: Bad, message: str) -> None:
    before = _state(bank.rt)
    response = _send(bank, case, locale="zh-CN")
    _assert_problem(response, case.status, case.code, case.field, chinese=True)
    assert message in response.json()["detail"]
    assert response.headers["content-language"] == "zh-CN"
    assert _changes(before, _state(bank.rt)) == {}


# --- every customer route, as the application declares them --------------------------------------

PUBLIC_CUSTOMER_ROUTES = {
    ("POST", "/api/v1/channels/registrations"),
    ("POST", "/api/v1/customer/login/challenge"),
    ("POST", "/api/v1/customer/login"),
}


def _customer_route(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if getattr(dependency.call, "customer_route", False):
            return True
        pending.extend(dependency.dependencies)
    return False


def _customer_routes() -> Iterator[tuple[str, str, APIRoute]]:
    for router in api_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                path = API_PREFIX + route.path
                if _customer_route(route) or (method, path) in PUBLIC_CUSTOMER_ROUTES:
                    yield method, path, route


def _body_model(route: APIRoute) -> type[BaseModel]:
    [param] = route.dependant.body_params
    model = param.field_info.annotation
    assert isinstance(model, type)
    assert issubclass(model, BaseModel)
    return model


WRITE_ROUTES = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path, route in _customer_routes()
    if route.dependant.body_params
]
ID_ROUTES = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path, route in _customer_routes()
    if route.dependant.path_params
]


def _route(method: str, path: str) -> APIRoute:
    [found] = [r for m, p, r in _customer_routes() if (m, p) == (method, path)]
    return found


def _good_request(bank: Bank, method: str, path: str) -> tuple[str, Any]:
    """A request the route accepts: the path filled in with the customer's own things."""
    customer, now = bank.customer, bank.clock.now()
    payment = bank.executed if path.endswith("/recall") else bank.awaiting
    concrete = path.format(
        payment_id=payment["id"],
        tool_id=bank.tool_id,
        device_id=bank.device_id,
        notification_id=bank.notification_id,
        payee_id=bank.saved_payee_id,
        account_id=customer.account_id,
    )
    bodies: dict[tuple[str, str], Callable[[], Any]] = {
        ("POST", "/me/payments"): lambda: {
            "request_id": f"req-{uuid.uuid4().hex}",
            "from_account_id": customer.account_id,
            "amount": 12_300,
            "payee_account": bank.payee.card_number,
            "payee_name": bank.payee.name,
            "method": "sms",
        },
        ("GET", "/me/payments/{payment_id}"): lambda: None,
        ("PATCH", "/me/payments/{payment_id}"): lambda: {"amount": 45_000, "purpose": "rent"},
        ("POST", "/me/payments/{payment_id}/confirm"): lambda: {"method": "totp"},
        ("POST", "/me/payments/{payment_id}/authorize"): lambda: {
            "challenge_id": bank.awaiting["challenge"]["id"],
            "code": bank.awaiting_code,
            "transaction_password": TRANSACTION_PASSWORD,
        },
        ("POST", "/me/payments/{payment_id}/recall"): lambda: {"reason": "sent by mistake"},
        ("POST", "/channels/registrations"): lambda: dict(bank.applicant),
        ("PUT", "/me/limits"): lambda: {"daily": 10_000_000},
        ("GET", "/me/accounts/{account_id}/statement"): lambda: None,
        ("POST", "/me/services/precious-metal"): lambda: {"parent_account_id": customer.account_id},
        ("POST", "/me/payees"): lambda: {
            "account_number": OTHER_BANK_ACCOUNT,
            "name": "王五",
            "bank_code": OTHER_BANK,
        },
        ("DELETE", "/me/payees/{payee_id}"): lambda: None,
        ("POST", "/customer/login/challenge"): lambda: {
            "login_name": customer.login_name,
            "method": "sms",
        },
        ("POST", "/customer/login"): lambda: {
            "login_name": customer.login_name,
            "password": LOGIN_PASSWORD,
            "method": "totp",
            "code": bank.token.code(now),
        },
        ("DELETE", "/me/devices/{device_id}"): lambda: None,
        ("POST", "/me/tools/{tool_id}/report-lost"): lambda: None,
        ("POST", "/me/tools/{tool_id}/resync"): lambda: {
            "first": bank.token.code(now - timedelta(seconds=30)),
            "second": bank.token.code(now),
        },
        ("POST", "/me/passkeys"): lambda: _passkey_answer(bank),
        ("POST", "/me/notifications/{notification_id}/read"): lambda: None,
    }
    key = (method, path.removeprefix(API_PREFIX))
    assert key in bodies, f"{method} {path} is new: give it a good request here"
    return concrete, bodies[key]()


def _passkey_answer(bank: Bank) -> dict[str, Any]:
    options = bank.client.post(f"{API}/me/passkeys/options", headers=bank.headers())
    assert options.status_code == 200, options.text
    answer = SoftPasskey().register(options.json()["options"], origin=bank.rt.settings.rp_origin)
    return {"challenge_id": options.json()["challenge_id"], "credential": answer, "label": "phone"}


@pytest.mark.parametrize(
    ("method", "path"), list({p.id: p for p in WRITE_ROUTES + ID_ROUTES}.values())
)
def test_the_good_requests_the_bad_ones_are_made_from_are_accepted(
    bank: Bank, method: str, path: str
) -> None:
    """Each bad request below is a good one with one thing wrong: the good one passes."""
    concrete, body = _good_request(bank, method, path)
    response = bank.client.request(method, concrete, json=body, headers=bank.headers())
    assert 200 <= response.status_code < 300, (method, path, response.text)


RAW = "\u0000raw\u0000"  # replaced by a raw JSON token once the body is serialised
GARBAGE_BODIES: list[tuple[str, bytes, str]] = [
    ("not JSON", b"this is not JSON", "application/json"),
    ("truncated JSON", b'{"amount": ', "application/json"),
    ("an array", b'[{"amount": 100}]', "application/json"),
    ("a string", b'"hello"', "application/json"),
    ("a number", b"42", "application/json"),
    ("null", b"null", "application/json"),
    ("invalid UTF-8", b'{"name": "\xff\xfe\xfd"}', "application/json"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("a form", b"amount=1&name=x", "application/x-www-form-urlencoded"),
    ("over a mebibyte", b'{"name": "' + b"a" * 1_100_000 + b'"}', "application/json"),
]
GARBAGE_VALUES: list[tuple[str, Any]] = [
    ("huge text", "字" * 100_000),
    ("a NUL character", "a\u0000b"),
    ("a lone surrogate", "a\ud800b"),
    ("a 5000-digit number", "9" * 5000),  # raw
    ("an infinite number", "1e999"),  # raw
]


def _garbage(good: Any, model: type[BaseModel]) -> Iterator[tuple[str, bytes, str]]:
    yield from GARBAGE_BODIES
    yield "an unknown field", json.dumps({**good, "is_admin": True}).encode(), "application/json"
    for name in model.model_fields:
        for label, value in GARBAGE_VALUES:
            raw = label.endswith("number")
            text = json.dumps({**good, name: RAW if raw else value})  # ASCII: \ud800 stays escaped
            if raw:
                text = text.replace(json.dumps(RAW), value)
            yield f"{label} as {name}", text.encode(), "application/json"


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_garbage_bodies_get_a_4xx_problem_never_a_500_and_change_nothing(
    bank: Bank, method: str, path: str
) -> None:
    concrete, good = _good_request(bank, method, path)
    refused = TestClient(bank.client.app, raise_server_exceptions=False)  # a 500 is an answer
    wrong = []
    for label, content, content_type in _garbage(good, _body_model(_route(method, path))):
        before = _state(bank.rt)
        response = refused.request(
            method,
            concrete,
            content=content,
            headers={**bank.headers(), "Content-Type": content_type},
        )
        changes = _changes(before, _state(bank.rt))
        problem_json = response.headers.get("content-type", "").startswith(
            "application/problem+json"
        )
        if not (400 <= response.status_code < 500 and problem_json) or changes:
            code = response.json().get("code") if problem_json else response.text[:60]
            wrong.append(f"{label}: {response.status_code} {code}, changed {sorted(changes)}")
        else:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", response.json()["code"]), response.text
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("method", "path"), ID_ROUTES)
def test_a_bad_id_in_the_path_is_refused_and_changes_nothing(
    bank: Bank, method: str, path: str
) -> None:
    """Malformed ids name the path parameter; an id of nothing is the route's "not found"."""
    route = _route(method, path)
    [param] = route.dependant.path_params
    concrete, body = _good_request(bank, method, path)
    own = re.search(r"/me/[^/]+/([^/]+)", concrete)
    assert own is not None
    numeric = param.field_info.annotation is int
    malformed: list[tuple[str, str]] = (
        [
            ("abc", "not_an_integer"),
            ("1.5", "not_an_integer"),
            ("１", "not_an_integer"),
            ("0", "too_small"),
            ("-1", "too_small"),
            (str(2**63), "too_large"),
        ]
        if numeric
        else [("p" * 33, "too_long")]
    )
    missing = {
        "payment_id": (404, "payment_not_found"),
        "account_id": (403, "account_not_signed"),
        "payee_id": (404, "payee_not_found"),
        "device_id": (404, "device_not_found"),
        "tool_id": (404, "tool_not_found"),
        "notification_id": (404, "notification_not_found"),
    }
    for value, code in malformed:
        before = _state(bank.rt)
        bad = concrete[: own.start(1)] + value + concrete[own.end(1) :]
        response = bank.client.request(method, bad, json=body, headers=bank.headers())
        _assert_problem(response, 422, code, param.name)
        assert _changes(before, _state(bank.rt)) == {}, value
    before = _state(bank.rt)
    nothing = (
        concrete[: own.start(1)] + ("9" * 12 if numeric else "p" * 24) + concrete[own.end(1) :]
    )
    response = bank.client.request(method, nothing, json=body, headers=bank.headers())
    status, code = missing[param.name]
    _assert_problem(response, status, code, param.name)
    assert _changes(before, _state(bank.rt)) == {}
