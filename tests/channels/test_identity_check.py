"""The citizen-identity check behind self-service registration is the bank's to choose
(``EBANK_IDENTITY_CHECK``): the simulation by default, the national service's client in
production. Registration asks the configured check, and its "no" refuses the registration."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.channels.banking import LOGIN_PASSWORD, PIN, TRANSACTION_PASSWORD
from tests.conftest import StaffLogins
from tests.factories import funded_account, individual, resident_id

from ebank.channels.identity import SimulatedIdentityCheck, identity_check_for
from ebank.config import Settings
from ebank.ledger.service import reveal_account_number
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

API = "/api/v1"


@dataclass
class RegisterAnswering:
    """A stand-in for the national register: answers ``answer`` and remembers who was asked."""

    answer: bool = False
    asked: list[tuple[str, str]] = field(default_factory=list)

    def matches(self, rt: Runtime, *, name: str, id_number: str) -> bool:
        self.asked.append((name, id_number))
        return self.answer


def _registration(rt: Runtime, client: TestClient, staff: StaffLogins, n: int) -> dict[str, str]:
    customer_id = individual(rt, n)
    account_id = funded_account(rt, customer_id, 100_000)
    client.put(
        f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=staff.headers(Role.TELLER)
    )
    return {
        "card_number": reveal_account_number(rt, account_id),
        "pin": PIN,
        "name": f"测试客户{n}",
        "id_number": resident_id(n),
        "login_name": f"self{n}",
        "login_password": LOGIN_PASSWORD,
        "transaction_password": TRANSACTION_PASSWORD,
    }


def test_registration_asks_the_configured_check_and_its_no_refuses(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    body = _registration(rt, client, staff, 31)
    register = RegisterAnswering(answer=False)
    rt.identity = register

    refused = client.post(f"{API}/channels/registrations", json=body)
    assert refused.status_code == 403, refused.text  # the simulation would have said yes
    assert register.asked == [(body["name"], body["id_number"])]

    register.answer = True
    registered = client.post(f"{API}/channels/registrations", json=body)
    assert registered.status_code == 201, registered.text


def test_the_setting_names_the_check() -> None:
    assert isinstance(identity_check_for("simulated"), SimulatedIdentityCheck)
    named = identity_check_for("tests.channels.test_identity_check:RegisterAnswering")
    assert type(named).__name__ == "RegisterAnswering"
    assert named.matches(Runtime.__new__(Runtime), name="x", id_number="y") is False
    with pytest.raises(ValidationError):
        Settings(identity_check="os.system('rm')")
