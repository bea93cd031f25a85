"""Customers who bank online, built through the public API: a teller opens the account, sets the
card PIN and registers the channel; the customer logs in with password + SMS code; the codes are
read from the SMS gateway's outbox file, as the customer reads them from the phone."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import StaffLogins
from tests.factories import funded_account, individual, mobile

from ebank.ledger.service import reveal_account_number
from ebank.risk.assessment import Decision, Outcome, RiskEvent
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

API = "/api/v1"
LOGIN_PASSWORD = "online-pass-42"
TRANSACTION_PASSWORD = "pay-pass-2026"
PIN = "739146"
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@dataclass
class OnlineCustomer:
    customer_id: int
    account_id: int
    card_number: str
    mobile: str
    login_name: str
    name: str
    device: str = field(default_factory=lambda: f"device-{uuid.uuid4().hex}")
    token: str | None = None
    csrf: str | None = None  # what a cookie session's forms would carry

    def headers(self, locale: str = "en") -> dict[str, str]:
        headers = {"X-Device-Id": self.device, "Accept-Language": locale}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def sms_messages(rt: Runtime, to: str | None = None) -> list[dict[str, Any]]:
    rt.courier.flush()  # what the courier has not yet sent
    path = Path(rt.settings.var_dir) / "sms-outbox.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [line for line in lines if to is None or line["to"] == to]


def last_code(rt: Runtime, to: str) -> str:
    """The newest one-time code sent to ``to``."""
    found = CODE.search(last_code_message(rt, to))
    assert found is not None
    return found.group(1)


def last_code_message(rt: Runtime, to: str) -> str:
    """The newest SMS to ``to`` that carries a one-time code. (Codes go out at once, so they may
    overtake notices the courier is still gathering.)"""
    for message in reversed(sms_messages(rt, to)):
        if CODE.search(message["text"]):
            return str(message["text"])
    raise AssertionError(f"no code was sent to {to}")


def open_online_customer(
    rt: Runtime,
    client: TestClient,
    staff: StaffLogins,
    n: int,
    *,
    balance: int = 1_000_000,
    channel: str = "online",
) -> OnlineCustomer:
    """A customer with a funded class I card account, a PIN, and online banking opened at the
    counter with login name ``user<n>``."""
    customer_id = individual(rt, n)
    account_id = funded_account(rt, customer_id, balance)
    teller = staff.headers(Role.TELLER)
    response = client.put(f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=teller)
    assert response.status_code == 204, response.text
    response = client.post(
        f"{API}/customers/{customer_id}/channels",
        json={
            "channel": channel,
            "account_ids": [account_id],
            "login_name": f"user{n}",
            "login_password": LOGIN_PASSWORD,
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=teller,
    )
    assert response.status_code == 201, response.text
    return OnlineCustomer(
        customer_id=customer_id,
        account_id=account_id,
        card_number=reveal_account_number(rt, account_id),
        mobile=mobile(n),
        login_name=f"user{n}",
        name=f"测试客户{n}",
    )


def sms_login(
    rt: Runtime,
    client: TestClient,
    customer: OnlineCustomer,
    *,
    password: str = LOGIN_PASSWORD,
    channel: str = "online",
) -> Any:
    """A login with ``password`` and the SMS code the phone received, whatever its answer; on
    success the customer carries the new session."""
    challenge = client.post(
        f"{API}/customer/login/challenge",
        json={"login_name": customer.login_name, "method": "sms"},
        headers=customer.headers(),
    )
    assert challenge.status_code == 200, challenge.text
    response = client.post(
        f"{API}/customer/login",
        json={
            "login_name": customer.login_name,
            "password": password,
            "method": "sms",
            "challenge_id": challenge.json()["id"],
            "code": last_code(rt, customer.mobile),
            "channel": channel,
        },
        headers=customer.headers(),
    )
    if response.status_code == 200:
        customer.token = response.json()["token"]
        customer.csrf = response.json()["csrf_token"]
    return response


def login_with_sms(
    rt: Runtime, client: TestClient, customer: OnlineCustomer, *, channel: str = "online"
) -> OnlineCustomer:
    response = sms_login(rt, client, customer, channel=channel)
    assert response.status_code == 200, response.text
    return customer


def online_customer(
    rt: Runtime, client: TestClient, staff: StaffLogins, n: int, *, balance: int = 1_000_000
) -> OnlineCustomer:
    """Opened at the counter and logged in."""
    return login_with_sms(rt, client, open_online_customer(rt, client, staff, n, balance=balance))


def pay(
    rt: Runtime,
    client: TestClient,
    customer: OnlineCustomer,
    payee: OnlineCustomer,
    amount: int,
    /,
    **extra: Any,
) -> Any:
    """Draft a payment to an in-bank payee with an SMS challenge; returns the response."""
    body = {
        "request_id": f"req-{uuid.uuid4().hex}",
        "from_account_id": customer.account_id,
        "amount": amount,
        "payee_account": payee.card_number,
        "payee_name": payee.name,
        "method": "sms",
        **extra,
    }
    return client.post(f"{API}/me/payments", json=body, headers=customer.headers())


def authorise_with_sms(
    rt: Runtime,
    client: TestClient,
    customer: OnlineCustomer,
    payment: dict[str, Any],
    code: str | None = None,
) -> Any:
    return client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={
            "challenge_id": payment["challenge"]["id"],
            "code": code or last_code(rt, customer.mobile),
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=customer.headers(),
    )


class RecordingAssessor:
    """Gives one outcome (allow unless told otherwise) and remembers what it was shown."""

    def __init__(self, outcome: Outcome = Outcome.ALLOW) -> None:
        self.events: list[RiskEvent] = []
        self.outcome = outcome

    def assess(self, event: RiskEvent) -> Decision:
        self.events.append(event)
        return Decision(self.outcome)

    def kinds(self, customer_id: int) -> list[str]:
        return [e.kind.value for e in self.events if e.customer_id == customer_id]
