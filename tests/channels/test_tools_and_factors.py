"""Each authentication tool through the API: e-token login and payments, the USB key's signed
payment (certificate + another factor), passkeys, and the loss report that stops a tool at once."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    TRANSACTION_PASSWORD,
    OnlineCustomer,
    online_customer,
    open_online_customer,
)
from tests.conftest import StaffLogins

from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account
from ebank.runtime import Runtime
from ebank.sim.passkey import SoftPasskey
from ebank.sim.usbkey import SoftToken, SoftUsbKey
from ebank.staff.permissions import Role


def _draft(
    client: TestClient, payer: OnlineCustomer, payee: OnlineCustomer, amount: int, method: str
) -> dict[str, Any]:
    response = client.post(
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
    assert response.status_code in (201, 422), response.text
    return dict(response.json())


def _assign_usbkey(client: TestClient, staff: StaffLogins, customer: OnlineCustomer) -> SoftUsbKey:
    key = SoftUsbKey()
    response = client.post(
        f"{API}/customers/{customer.customer_id}/usbkeys",
        json={"public_key_pem": key.public_key_pem().decode()},
        headers=staff.headers(Role.TELLER),
    )
    assert response.status_code == 201, response.text
    assert response.json()["tool"]["voucher_no"].startswith("V")
    key.certificate_pem = response.json()["certificate_pem"].encode()
    return key


def _sign(key: SoftUsbKey, payment: dict[str, Any]) -> str:
    payload = payment["challenge"]["sign_payload"].encode()
    return base64.b64encode(key.sign(payload)).decode()


@pytest.mark.usefixtures("permissive_risk")
def test_a_usb_key_signature_with_the_transaction_password_reaches_the_contract_limit(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 41, balance=5_000_000)
    payee = open_online_customer(rt, client, staff, 42, balance=0)
    key = _assign_usbkey(client, staff, payer)
    payment = _draft(client, payer, payee, 2_000_000, "usbkey")  # 20,000: above two-factor limits
    assert '"amount":2000000' in payment["challenge"]["sign_payload"]
    done = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={
            "challenge_id": payment["challenge"]["id"],
            "signature": _sign(key, payment),
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=payer.headers(),
    )
    assert done.status_code == 200, done.text
    assert done.json()["strength"] == "certificate_plus"
    assert get_account(rt, payee.account_id).balance == 2_000_000


def test_a_signature_over_another_amount_is_refused(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 43)
    payee = open_online_customer(rt, client, staff, 44, balance=0)
    key = _assign_usbkey(client, staff, payer)
    payment = _draft(client, payer, payee, 50_000, "usbkey")
    tampered = payment["challenge"]["sign_payload"].replace('"amount":50000', '"amount":5000')
    signature = base64.b64encode(key.sign(tampered.encode())).decode()
    refused = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={"challenge_id": payment["challenge"]["id"], "signature": signature},
        headers=payer.headers(),
    )
    assert refused.status_code == 401
    assert get_account(rt, payee.account_id).balance == 0


def test_two_factor_limits_refuse_a_large_payment_without_the_usb_key(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    from tests.channels.banking import authorise_with_sms

    payer = online_customer(rt, client, staff, 45, balance=5_000_000)
    payee = open_online_customer(rt, client, staff, 46, balance=0)
    payment = _draft(client, payer, payee, 600_000, "sms")  # 6,000 > 5,000 a day for two factors
    refused = authorise_with_sms(rt, client, payer, payment)
    assert refused.status_code == 422
    assert refused.json()["code"] == "limit_exceeded"
    assert get_account(rt, payee.account_id).balance == 0


def test_a_tool_reported_lost_is_refused_at_once_until_the_counter_lifts_it(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 47)
    payee = open_online_customer(rt, client, staff, 48, balance=0)
    key = _assign_usbkey(client, staff, payer)
    open_challenge = _draft(client, payer, payee, 50_000, "usbkey")
    tools = client.get(f"{API}/me/tools", headers=payer.headers()).json()
    lost = client.post(f"{API}/me/tools/{tools[0]['id']}/report-lost", headers=payer.headers())
    assert lost.json()["status"] == "lost"

    refused = client.post(
        f"{API}/me/payments/{open_challenge['id']}/authorize",
        json={
            "challenge_id": open_challenge["challenge"]["id"],
            "signature": _sign(key, open_challenge),
        },
        headers=payer.headers(),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "tool_unavailable"
    again = _draft(client, payer, payee, 50_000, "usbkey")
    assert again["code"] == "tool_unavailable"
    inbox = client.get(f"{API}/me/notifications", headers=payer.headers()).json()
    assert "reported lost" in next(n for n in inbox if n["kind"] == "security_change")["text"]
    assert "reported lost, disabled or revoked" in inbox[0]["text"]  # the refused payment

    lifted = client.post(
        f"{API}/customers/{payer.customer_id}/tools/{tools[0]['id']}/lift-loss",
        headers=staff.headers(Role.TELLER),
    )
    assert lifted.json()["status"] == "active"
    payment = _draft(client, payer, payee, 50_000, "usbkey")
    done = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={"challenge_id": payment["challenge"]["id"], "signature": _sign(key, payment)},
        headers=payer.headers(),
    )
    assert done.json()["status"] == "executed"
    assert done.json()["strength"] == "one_factor"


def test_login_and_pay_with_an_e_token(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = online_customer(rt, client, staff, 49)
    payee = open_online_customer(rt, client, staff, 50, balance=0)
    seed = SoftToken().secret
    assigned = client.post(
        f"{API}/customers/{customer.customer_id}/tokens",
        json={"kind": "totp", "secret_base32": base64.b32encode(seed).decode()},
        headers=staff.headers(Role.TELLER),
    )
    assert assigned.status_code == 201, assigned.text
    token = SoftToken(seed)
    fresh = OnlineCustomer(**{**customer.__dict__, "token": None, "device": "token-phone"})
    login = client.post(
        f"{API}/customer/login",
        json={
            "login_name": customer.login_name,
            "password": LOGIN_PASSWORD,
            "method": "totp",
            "code": token.code(clock.now()),
        },
        headers=fresh.headers(),
    )
    assert login.status_code == 200, login.text
    assert login.json()["new_device"] is True
    fresh.token = login.json()["token"]
    payment = _draft(client, fresh, payee, 40_000, "totp")
    from datetime import timedelta

    clock.advance(timedelta(seconds=30))  # the next step: the login's code cannot be replayed
    done = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={
            "challenge_id": payment["challenge"]["id"],
            "code": token.code(clock.now()),
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=fresh.headers(),
    )
    assert done.status_code == 200, done.text
    assert done.json()["strength"] == "two_factor"


def test_passkey_registration_login_and_payment(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer = online_customer(rt, client, staff, 51)
    payee = open_online_customer(rt, client, staff, 52, balance=0)
    origin = rt.settings.rp_origin
    device = SoftPasskey()
    options = client.post(f"{API}/me/passkeys/options", headers=customer.headers()).json()
    registered = client.post(
        f"{API}/me/passkeys",
        json={
            "challenge_id": options["challenge_id"],
            "credential": device.register(options["options"], origin=origin),
            "label": "my phone",
        },
        headers=customer.headers(),
    )
    assert registered.status_code == 201, registered.text

    challenge = client.post(
        f"{API}/customer/login/challenge",
        json={"login_name": customer.login_name, "method": "passkey"},
    ).json()
    login = client.post(
        f"{API}/customer/login",
        json={
            "login_name": customer.login_name,
            "method": "passkey",
            "challenge_id": challenge["id"],
            "credential": device.authenticate(challenge["webauthn"], origin=origin),
        },
        headers=customer.headers(),
    )
    assert login.status_code == 200, login.text
    assert login.json()["factors"] == ["passkey"]
    customer.token = login.json()["token"]

    payment = _draft(client, customer, payee, 40_000, "passkey")
    done = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={
            "challenge_id": payment["challenge"]["id"],
            "credential": device.authenticate(payment["challenge"]["webauthn"], origin=origin),
        },
        headers=customer.headers(),
    )
    assert done.status_code == 200, done.text
    assert done.json()["strength"] == "two_factor"  # possession + inherence

    unverified = SoftPasskey(user_verified=False)
    options = client.post(f"{API}/me/passkeys/options", headers=customer.headers()).json()
    refused = client.post(
        f"{API}/me/passkeys",
        json={
            "challenge_id": options["challenge_id"],
            "credential": unverified.register(options["options"], origin=origin),
        },
        headers=customer.headers(),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "user_not_verified"
