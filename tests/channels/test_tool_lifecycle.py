"""Authentication tools through their life, driven over the API: disabled and enabled at the
counter, revoked for good, locked by their own failure counter and reset, a USB key replaced, an
e-token resynchronised; HOTP and USB-key logins and payments; voucher print numbers; and the
absolute lifetime of a customer's session."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    TRANSACTION_PASSWORD,
    OnlineCustomer,
    login_with_sms,
    online_customer,
    open_online_customer,
)
from tests.conftest import StaffLogins

from ebank.auth.models import CustomerCredential
from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account
from ebank.runtime import Runtime
from ebank.sim.passkey import SoftPasskey
from ebank.sim.usbkey import SoftToken, SoftUsbKey
from ebank.staff.permissions import Role

pytestmark = pytest.mark.usefixtures("permissive_risk")  # these tests are about the tools

Response = Any  # what the TestClient answers
STEP = timedelta(seconds=30)  # the policy's TOTP step: a TOTP code is good once per step


def _device_headers(customer: OnlineCustomer) -> dict[str, str]:
    return {"X-Device-Id": customer.device, "Accept-Language": "en"}


def _code_login(
    client: TestClient,
    customer: OnlineCustomer,
    method: str,
    code: str,
    password: str = LOGIN_PASSWORD,
) -> Response:
    """Password + an e-token's code."""
    return client.post(
        f"{API}/customer/login",
        json={
            "login_name": customer.login_name,
            "password": password,
            "method": method,
            "code": code,
        },
        headers=_device_headers(customer),
    )


def _wrong_code(*right: str) -> str:
    """A well-formed code that is none of ``right``."""
    n = 0
    while f"{n:06d}" in right:
        n += 1
    return f"{n:06d}"


def _sign(key: SoftUsbKey, challenge: dict[str, Any]) -> str:
    return base64.b64encode(key.sign(challenge["sign_payload"].encode())).decode()


@dataclass
class Tool:
    """A physical tool in the customer's hand. Each use shows a fresh proof: the next HOTP code,
    a signature, or the TOTP code of the next step (the clock moves on one step first)."""

    kind: str
    id: int
    token: SoftToken | None = None
    key: SoftUsbKey | None = None

    def code(self, clock: ManualClock) -> str:
        assert self.token is not None
        if self.kind == "hotp":
            return self.token.next_code()
        clock.advance(STEP)
        return self.token.code(clock.now())

    def login(self, client: TestClient, clock: ManualClock, customer: OnlineCustomer) -> Response:
        """Password + this tool; the refusal of whichever step refused."""
        if self.kind != "usbkey":
            return _code_login(client, customer, self.kind, self.code(clock))
        assert self.key is not None
        challenge = client.post(
            f"{API}/customer/login/challenge",
            json={"login_name": customer.login_name, "method": "usbkey"},
            headers=_device_headers(customer),
        )
        if challenge.status_code != 200:
            return challenge
        return client.post(
            f"{API}/customer/login",
            json={
                "login_name": customer.login_name,
                "password": LOGIN_PASSWORD,
                "method": "usbkey",
                "challenge_id": challenge.json()["id"],
                "signature": _sign(self.key, challenge.json()),
            },
            headers=_device_headers(customer),
        )

    def authorise(
        self,
        client: TestClient,
        clock: ManualClock,
        customer: OnlineCustomer,
        payment: dict[str, Any],
    ) -> Response:
        """Answer the payment's challenge with this tool and the transaction password."""
        body: dict[str, Any] = {
            "challenge_id": payment["challenge"]["id"],
            "transaction_password": TRANSACTION_PASSWORD,
        }
        if self.kind == "usbkey":
            assert self.key is not None
            body["signature"] = _sign(self.key, payment["challenge"])
        else:
            body["code"] = self.code(clock)
        return client.post(
            f"{API}/me/payments/{payment['id']}/authorize", json=body, headers=customer.headers()
        )


def _assign(client: TestClient, staff: StaffLogins, customer: OnlineCustomer, kind: str) -> Tool:
    """The counter hands the customer a tool of ``kind``."""
    teller = staff.headers(Role.TELLER)
    if kind == "usbkey":
        key = SoftUsbKey()
        response = client.post(
            f"{API}/customers/{customer.customer_id}/usbkeys",
            json={"public_key_pem": key.public_key_pem().decode()},
            headers=teller,
        )
        assert response.status_code == 201, response.text
        key.certificate_pem = response.json()["certificate_pem"].encode()
        return Tool(kind, int(response.json()["tool"]["id"]), key=key)
    token = SoftToken()
    response = client.post(
        f"{API}/customers/{customer.customer_id}/tokens",
        json={"kind": kind, "secret_base32": base64.b32encode(token.secret).decode()},
        headers=teller,
    )
    assert response.status_code == 201, response.text
    return Tool(kind, int(response.json()["tool"]["id"]), token=token)


def _change(
    client: TestClient, staff: StaffLogins, customer: OnlineCustomer, tool_id: int, change: str
) -> Response:
    return client.post(
        f"{API}/customers/{customer.customer_id}/tools/{tool_id}/{change}",
        headers=staff.headers(Role.TELLER),
    )


def _staff_tool(
    client: TestClient, staff: StaffLogins, customer: OnlineCustomer, tool_id: int
) -> dict[str, Any]:
    tools = client.get(
        f"{API}/customers/{customer.customer_id}/tools", headers=staff.headers(Role.TELLER)
    ).json()
    return dict(next(tool for tool in tools if tool["id"] == tool_id))


def _draft(
    client: TestClient, payer: OnlineCustomer, payee: OnlineCustomer, amount: int, method: str
) -> Response:
    return client.post(
        f"{API}/me/payments",
        json={
            "request_id": f"req-{uuid.uuid4().hex}",
            "from_account_id": payer.account_id,
            "amount": amount,
            "payee_account": payee.card_number,
            "payee_name": payee.name,
            "method": method,
        },
        headers=payer.headers(),
    )


def _challenged(
    client: TestClient, payer: OnlineCustomer, payee: OnlineCustomer, amount: int, method: str
) -> dict[str, Any]:
    """A drafted payment waiting for its ``method`` challenge."""
    response = _draft(client, payer, payee, amount, method)
    assert response.status_code == 201, response.text
    payment = dict(response.json())
    assert payment["challenge"] is not None, payment
    return payment


def _unlock(client: TestClient, staff: StaffLogins, customer: OnlineCustomer) -> None:
    response = client.post(
        f"{API}/customers/{customer.customer_id}/unlock", headers=staff.headers(Role.TELLER)
    )
    assert response.status_code == 204, response.text


def _failed_attempts(rt: Runtime, customer: OnlineCustomer) -> int:
    with rt.db.read() as session:
        credential = session.execute(
            select(CustomerCredential).where(CustomerCredential.customer_id == customer.customer_id)
        ).scalar_one()
        return credential.failed_attempts


def _refused(response: Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


# --- disabled, enabled, revoked ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["totp", "usbkey"])
def test_a_tool_disabled_at_the_counter_is_refused_until_it_is_enabled(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock, kind: str
) -> None:
    payer = online_customer(rt, client, staff, 101)
    payee = open_online_customer(rt, client, staff, 102, balance=0)
    tool = _assign(client, staff, payer, kind)
    pending = _challenged(client, payer, payee, 40_000, kind)  # opened before it was disabled

    disabled = _change(client, staff, payer, tool.id, "disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    _refused(tool.authorise(client, clock, payer, pending), 422, "tool_unavailable")
    _refused(_draft(client, payer, payee, 41_000, kind), 422, "tool_unavailable")
    login = tool.login(client, clock, payer)
    assert login.status_code in (401, 422), login.text
    assert "token" not in login.json()
    assert get_account(rt, payee.account_id).balance == 0

    enabled = _change(client, staff, payer, tool.id, "enable")
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "active"
    assert tool.login(client, clock, payer).status_code == 200
    payment = _challenged(client, payer, payee, 42_000, kind)
    done = tool.authorise(client, clock, payer, payment)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == 42_000


@pytest.mark.parametrize("kind", ["totp", "usbkey"])
def test_a_revoked_tool_is_refused_for_good(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock, kind: str
) -> None:
    """Revocation is final: nothing brings the tool back, and a challenge opened with it before
    (for a USB key: a signature made with its now revoked certificate) is refused."""
    payer = online_customer(rt, client, staff, 103)
    payee = open_online_customer(rt, client, staff, 104, balance=0)
    tool = _assign(client, staff, payer, kind)
    pending = _challenged(client, payer, payee, 40_000, kind)

    revoked = _change(client, staff, payer, tool.id, "revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    _refused(tool.authorise(client, clock, payer, pending), 422, "tool_unavailable")
    _refused(_draft(client, payer, payee, 41_000, kind), 422, "tool_unavailable")
    login = tool.login(client, clock, payer)
    assert login.status_code in (401, 422), login.text
    assert "token" not in login.json()

    for change in ("enable", "lift-loss", "disable", "revoke"):
        _refused(_change(client, staff, payer, tool.id, change), 409, "tool_state")
    lost = client.post(f"{API}/me/tools/{tool.id}/report-lost", headers=payer.headers())
    _refused(lost, 409, "tool_state")
    mine = client.get(f"{API}/me/tools", headers=payer.headers()).json()
    assert [(t["id"], t["status"]) for t in mine] == [(tool.id, "revoked")]
    _refused(_draft(client, payer, payee, 43_000, kind), 422, "tool_unavailable")
    assert get_account(rt, payee.account_id).balance == 0


def test_a_login_with_a_kind_of_tool_not_held_says_so_only_after_the_right_password(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    """Asking for a TOTP code of a customer who holds no such token must not tell, before the
    password is checked, that the login name exists: a wrong password is the usual counted
    failure, as for an unknown name; with the right one the customer learns why."""
    customer = online_customer(rt, client, staff, 107)
    unknown = _code_login(client, OnlineCustomer(0, 0, "", "", "nobody-107", ""), "totp", "123456")
    _refused(unknown, 401, "invalid_credentials")
    before = _failed_attempts(rt, customer)
    wrong_password = _code_login(client, customer, "totp", "123456", LOGIN_PASSWORD + "x")
    _refused(wrong_password, 401, "invalid_credentials")
    assert _failed_attempts(rt, customer) == before + 1
    _refused(_code_login(client, customer, "totp", "123456"), 422, "tool_unavailable")
    assert _failed_attempts(rt, customer) == before + 1


# --- the tool's own failure counter --------------------------------------------------------------


def test_the_tools_failure_counter_locks_it_until_the_counter_resets_it(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """A token that has met the policy's number of wrong codes is refused even with the right
    code, until a teller resets its counter. (The customer's own failure counter locks at five
    across all factors, so the teller unlocks the customer on the way: the tool's limit is
    higher.)"""
    payer = online_customer(rt, client, staff, 105)
    payee = open_online_customer(rt, client, staff, 106, balance=0)
    tool = _assign(client, staff, payer, "totp")
    assert tool.token is not None
    policy = rt.policy.customer_auth
    customer_tries = policy.max_failed_attempts - 1  # before the customer is locked
    for attempt in range(policy.token_max_failures):
        if attempt and attempt % customer_tries == 0:
            _unlock(client, staff, payer)
        now = clock.now()
        wrong = _wrong_code(*(tool.token.code(now + k * STEP) for k in (-1, 0, 1)))
        refused = _code_login(client, payer, "totp", wrong)
        _refused(refused, 401, "invalid_credentials")
    assert _staff_tool(client, staff, payer, tool.id)["fail_count"] == policy.token_max_failures

    payment = _challenged(client, payer, payee, 40_000, "totp")
    _refused(tool.authorise(client, clock, payer, payment), 422, "tool_locked")
    before = _failed_attempts(rt, payer)
    # With the right password the customer is told why (no code was checked, nothing counts);
    # a wrong password is still a failure like any other, whatever the tool.
    _refused(tool.login(client, clock, payer), 422, "tool_locked")
    assert _failed_attempts(rt, payer) == before
    right_code = tool.token.code(clock.now())
    wrong_password = _code_login(client, payer, "totp", right_code, LOGIN_PASSWORD + "x")
    _refused(wrong_password, 401, "invalid_credentials")
    assert _failed_attempts(rt, payer) == before + 1
    assert get_account(rt, payee.account_id).balance == 0
    now = clock.now()
    resync = client.post(  # nor can the customer clear it by resynchronising
        f"{API}/me/tools/{tool.id}/resync",
        json={"first": tool.token.code(now), "second": tool.token.code(now + STEP)},
        headers=payer.headers(),
    )
    _refused(resync, 409, "tool_locked")

    reset = _change(client, staff, payer, tool.id, "reset-counter")
    assert reset.status_code == 200, reset.text
    assert reset.json()["fail_count"] == 0
    assert reset.json()["status"] == "active"
    assert tool.login(client, clock, payer).status_code == 200
    payment = _challenged(client, payer, payee, 41_000, "totp")
    done = tool.authorise(client, clock, payer, payment)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == 41_000


# --- a USB key replaced --------------------------------------------------------------------------


def test_a_replaced_usb_key_is_refused_and_its_replacement_works(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 107)
    payee = open_online_customer(rt, client, staff, 108, balance=0)
    old = _assign(client, staff, payer, "usbkey")
    pending = _challenged(client, payer, payee, 40_000, "usbkey")  # with the old key

    new_key = SoftUsbKey()
    replaced = client.post(
        f"{API}/customers/{payer.customer_id}/tools/{old.id}/replace",
        json={"public_key_pem": new_key.public_key_pem().decode()},
        headers=staff.headers(Role.TELLER),
    )
    assert replaced.status_code == 200, replaced.text
    new_key.certificate_pem = replaced.json()["certificate_pem"].encode()
    assert old.key is not None
    assert new_key.certificate_pem != old.key.certificate_pem
    new = Tool("usbkey", int(replaced.json()["tool"]["id"]), key=new_key)
    assert replaced.json()["tool"]["replaces_id"] == old.id
    assert replaced.json()["tool"]["status"] == "active"
    assert _staff_tool(client, staff, payer, old.id)["status"] == "revoked"

    # The old key: its open challenge, a new login and a new payment are all refused.
    _refused(old.authorise(client, clock, payer, pending), 422, "tool_unavailable")
    _refused(old.login(client, clock, payer), 401, "invalid_credentials")
    signed_by_old = _challenged(client, payer, payee, 41_000, "usbkey")
    refused = old.authorise(client, clock, payer, signed_by_old)
    _refused(refused, 401, "invalid_credentials")
    assert get_account(rt, payee.account_id).balance == 0

    assert new.login(client, clock, payer).status_code == 200
    payment = _challenged(client, payer, payee, 42_000, "usbkey")
    done = new.authorise(client, clock, payer, payment)
    assert done.status_code == 200, done.text
    assert done.json()["strength"] == "certificate_plus"
    assert get_account(rt, payee.account_id).balance == 42_000
    again = client.post(
        f"{API}/customers/{payer.customer_id}/tools/{old.id}/replace",
        json={"public_key_pem": SoftUsbKey().public_key_pem().decode()},
        headers=staff.headers(Role.TELLER),
    )
    _refused(again, 409, "tool_state")


# --- resynchronisation ---------------------------------------------------------------------------


def test_a_drifted_totp_token_works_again_after_the_customer_resynchronises_it(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 109)
    tool = _assign(client, staff, customer, "totp")
    assert tool.token is not None
    drifted = Tool("totp", tool.id, token=SoftToken(tool.token.secret, drift_steps=5))
    _refused(drifted.login(client, clock, customer), 401, "invalid_credentials")

    assert drifted.token is not None
    clock.advance(STEP)
    now = clock.now()
    first, second = drifted.token.code(now - STEP), drifted.token.code(now)
    not_in_sequence = client.post(
        f"{API}/me/tools/{tool.id}/resync",
        json={"first": second, "second": first},
        headers=customer.headers(),
    )
    _refused(not_in_sequence, 422, "resync_failed")
    resynced = client.post(
        f"{API}/me/tools/{tool.id}/resync",
        json={"first": first, "second": second},
        headers=customer.headers(),
    )
    assert resynced.status_code == 200, resynced.text
    assert resynced.json()["status"] == "active"

    replayed = _code_login(client, customer, "totp", second)  # the resync pair is spent
    _refused(replayed, 401, "invalid_credentials")
    login = drifted.login(client, clock, customer)
    assert login.status_code == 200, login.text


def test_an_hotp_token_pressed_too_often_works_again_after_resynchronising(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 110)
    tool = _assign(client, staff, customer, "hotp")
    assert tool.token is not None
    for _ in range(rt.policy.customer_auth.hotp_window + 5):  # pressed in a pocket
        tool.token.next_code()
    _refused(tool.login(client, clock, customer), 401, "invalid_credentials")

    resynced = client.post(
        f"{API}/me/tools/{tool.id}/resync",
        json={"first": tool.token.next_code(), "second": tool.token.next_code()},
        headers=customer.headers(),
    )
    assert resynced.status_code == 200, resynced.text
    login = tool.login(client, clock, customer)
    assert login.status_code == 200, login.text


# --- HOTP and USB-key logins and payments --------------------------------------------------------


def test_login_and_pay_with_an_hotp_token_whose_codes_each_work_once(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = open_online_customer(rt, client, staff, 111)
    payee = open_online_customer(rt, client, staff, 112, balance=0)
    tool = _assign(client, staff, customer, "hotp")
    assert tool.token is not None

    login_code = tool.token.next_code()
    login = _code_login(client, customer, "hotp", login_code)
    assert login.status_code == 200, login.text
    assert login.json()["factors"] == ["hotp", "login_password"]
    customer.token = login.json()["token"]
    replayed_login = _code_login(client, customer, "hotp", login_code)
    _refused(replayed_login, 401, "invalid_credentials")

    payment = _challenged(client, customer, payee, 40_000, "hotp")
    replayed = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={
            "challenge_id": payment["challenge"]["id"],
            "code": login_code,
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=customer.headers(),
    )
    _refused(replayed, 401, "invalid_credentials")
    assert get_account(rt, payee.account_id).balance == 0

    confirmed = client.post(
        f"{API}/me/payments/{payment['id']}/confirm",
        json={"method": "hotp"},
        headers=customer.headers(),
    )
    assert confirmed.status_code == 200, confirmed.text
    skipped = tool.token.next_code()  # pressed twice: the counter moves past the first code
    done = tool.authorise(client, clock, customer, confirmed.json())
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"
    assert done.json()["strength"] == "two_factor"
    assert get_account(rt, payee.account_id).balance == 40_000

    later = _challenged(client, customer, payee, 41_000, "hotp")
    behind = client.post(
        f"{API}/me/payments/{later['id']}/authorize",
        json={
            "challenge_id": later["challenge"]["id"],
            "code": skipped,
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=customer.headers(),
    )
    _refused(behind, 401, "invalid_credentials")
    assert get_account(rt, payee.account_id).balance == 40_000


def test_login_with_a_usb_key_signature(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = open_online_customer(rt, client, staff, 113)
    tool = _assign(client, staff, customer, "usbkey")
    assert tool.key is not None
    headers = _device_headers(customer)

    def challenge() -> dict[str, Any]:
        response = client.post(
            f"{API}/customer/login/challenge",
            json={"login_name": customer.login_name, "method": "usbkey"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert customer.login_name in response.json()["sign_payload"]
        return dict(response.json())

    def login(challenge_id: str, signature: str, password: str = LOGIN_PASSWORD) -> Any:
        return client.post(
            f"{API}/customer/login",
            json={
                "login_name": customer.login_name,
                "password": password,
                "method": "usbkey",
                "challenge_id": challenge_id,
                "signature": signature,
            },
            headers=headers,
        )

    first = challenge()
    _refused(
        login(first["id"], _sign(tool.key, first), "not-the-password-9"), 401, "invalid_credentials"
    )
    second = challenge()
    _refused(login(second["id"], _sign(tool.key, first)), 401, "invalid_credentials")  # old payload
    _refused(login(second["id"], _sign(SoftUsbKey(), second)), 401, "invalid_credentials")

    third = challenge()
    signature = _sign(tool.key, third)
    done = login(third["id"], signature)
    assert done.status_code == 200, done.text
    assert done.json()["factors"] == ["login_password", "usbkey"]
    customer.token = done.json()["token"]
    accounts = client.get(f"{API}/me/accounts", headers=customer.headers())
    assert [a["id"] for a in accounts.json()] == [customer.account_id]
    _refused(login(third["id"], signature), 401, "invalid_credentials")  # used once


def test_a_usb_key_login_challenge_does_not_tell_which_login_names_exist(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    """Before any password is checked, the challenge for an unknown login name is shaped like a
    real one (the service's promise), so nobody can probe which names are customers, nor which
    customers hold a usable USB key."""
    with_key = open_online_customer(rt, client, staff, 114)
    _assign(client, staff, with_key, "usbkey")
    without_key = open_online_customer(rt, client, staff, 115)

    answers = {
        name: client.post(
            f"{API}/customer/login/challenge",
            json={"login_name": name, "method": "usbkey"},
            headers={"Accept-Language": "en"},
        )
        for name in (with_key.login_name, without_key.login_name, "nobody4242")
    }
    shapes = {
        name: (
            response.status_code,
            tuple(sorted(k for k, v in response.json().items() if v is not None)),
        )
        for name, response in answers.items()
    }
    assert len(set(shapes.values())) == 1, shapes


# --- voucher print numbers -----------------------------------------------------------------------


def test_physical_tools_carry_a_voucher_print_number_and_passkeys_none(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = online_customer(rt, client, staff, 116)
    for kind in ("totp", "hotp", "usbkey"):
        _assign(client, staff, customer, kind)
    device = SoftPasskey()
    options = client.post(f"{API}/me/passkeys/options", headers=customer.headers()).json()
    registered = client.post(
        f"{API}/me/passkeys",
        json={
            "challenge_id": options["challenge_id"],
            "credential": device.register(options["options"], origin=rt.settings.rp_origin),
        },
        headers=customer.headers(),
    )
    assert registered.status_code == 201, registered.text

    tools = client.get(f"{API}/me/tools", headers=customer.headers()).json()
    vouchers = {tool["kind"]: tool["voucher_no"] for tool in tools}
    assert set(vouchers) == {"totp", "hotp", "usbkey", "passkey"}
    assert vouchers.pop("passkey") is None
    today = rt.clock.now().astimezone(rt.policy.zone).strftime("%Y%m%d")
    for kind, voucher in vouchers.items():
        assert re.fullmatch(rf"V{today}\d{{8}}", voucher or ""), (kind, voucher)
    assert len(set(vouchers.values())) == 3
    assert (
        client.get(
            f"{API}/customers/{customer.customer_id}/tools", headers=staff.headers(Role.TELLER)
        ).json()
        == tools
    )


# --- the session's absolute lifetime -------------------------------------------------------------


def test_a_busy_customer_session_ends_at_the_policys_absolute_lifetime(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 117)
    policy = rt.policy.customer_auth
    lifetime = timedelta(hours=policy.session_max_hours)
    step = timedelta(minutes=policy.session_idle_minutes) - timedelta(minutes=1)
    elapsed = timedelta(0)
    while elapsed + step < lifetime:
        elapsed += step
        clock.advance(step)
        response = client.get(f"{API}/me/accounts", headers=customer.headers())
        assert response.status_code == 200, elapsed
    clock.advance(step)  # past the lifetime, though never idle for long
    ended = client.get(f"{API}/me/accounts", headers=customer.headers())
    assert ended.status_code == 401
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 401
    login_with_sms(rt, client, customer)  # the session ended; the customer logs in again
    assert client.get(f"{API}/me/accounts", headers=customer.headers()).status_code == 200
