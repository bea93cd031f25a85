"""Scenarios S2, S3, S4, S5 and S7 against the live engine, through the payment API, and what
the analysts then do with the alerts (release, void, label, block the payee)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    OnlineCustomer,
    authorise_with_sms,
    login_with_sms,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins

from ebank.channels.api import customer_risk_outcome
from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account, reveal_account_number
from ebank.runtime import Runtime
from ebank.staff.permissions import Role

SETTLED_IN = timedelta(days=10)  # past the fresh-registration rule's week


def seasoned_customer(
    rt: Runtime,
    client: TestClient,
    staff: StaffLogins,
    clock: ManualClock,
    n: int,
    *,
    balance: int = 1_000_000,
) -> OnlineCustomer:
    """A customer registered and first logged in from their device well before today."""
    customer = login_with_sms(
        rt, client, open_online_customer(rt, client, staff, n, balance=balance)
    )
    clock.advance(SETTLED_IN)
    staff.log_in_again()
    return login_with_sms(rt, client, customer)  # the same device: nothing new


def paid(
    rt: Runtime, client: TestClient, payer: OnlineCustomer, payee: OnlineCustomer, amount: int
) -> dict[str, Any]:
    drafted = pay(rt, client, payer, payee, amount).json()
    assert "challenge" in drafted, drafted
    if drafted["challenge"] is None:  # exempt from the second factor
        response = client.post(
            f"{API}/me/payments/{drafted['id']}/authorize", json={}, headers=payer.headers()
        )
    else:
        response = authorise_with_sms(rt, client, payer, drafted)
    assert response.status_code == 200, response.text
    return dict(response.json())


def open_alerts(client: TestClient, staff: StaffLogins, **query: Any) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/risk/alerts", params=query, headers=staff.headers(Role.RISK_ANALYST)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def analyst(client: TestClient, staff: StaffLogins, alert_id: int, action: str, **body: Any) -> Any:
    return client.post(
        f"{API}/risk/alerts/{alert_id}/{action}",
        json=body,
        headers=staff.headers(Role.RISK_ANALYST),
    )


def test_s7_the_first_transfer_of_a_fresh_registration_is_held_then_released(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """S7: a registration opened minutes ago moves 4,500.00 out: held, the customer told, an
    alert with the reason for the analyst; released after a call, the payee is paid."""
    victim = login_with_sms(rt, client, open_online_customer(rt, client, staff, 41))
    mule = open_online_customer(rt, client, staff, 42, balance=0)

    payment = paid(rt, client, victim, mule, 450_000)

    assert payment["status"] == "held"
    assert get_account(rt, mule.account_id).balance == 0
    assert get_account(rt, victim.account_id).available == 1_000_000 - 450_000
    assert "security check" in sms_messages(rt, victim.mobile)[-1]["text"]
    [alert] = open_alerts(client, staff, customer_id=victim.customer_id)
    assert alert["kind"] == "hold"
    assert alert["payment_id"] == payment["id"]
    detail = client.get(
        f"{API}/risk/alerts/{alert['id']}", headers=staff.headers(Role.RISK_ANALYST, "zh-CN")
    ).json()
    codes = [reason["code"] for reason in detail["reasons"]]
    assert "fresh_registration_first_transfers" in codes
    assert "新注册网上银行后的首批转账。" in [reason["text"] for reason in detail["reasons"]]
    assert detail["features"]["amount"] == 450_000
    assert detail["history"][0]["kind"] == "payment"
    assert "测试客户42" not in str(detail)  # the payee's name is masked

    released = analyst(client, staff, alert["id"], "release", note="customer confirmed by phone")
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert get_account(rt, mule.account_id).balance == 450_000
    assert "passed the security check" in sms_messages(rt, victim.mobile)[-1]["text"]
    again = analyst(client, staff, alert["id"], "release", note="twice")
    assert again.status_code == 409
    assert get_account(rt, mule.account_id).balance == 450_000


def test_s7_near_miss_a_seasoned_customer_pays_the_same_without_a_hold(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = seasoned_customer(rt, client, staff, clock, 43)
    landlord = open_online_customer(rt, client, staff, 44, balance=0)
    assert paid(rt, client, customer, landlord, 450_000)["status"] == "executed"
    assert open_alerts(client, staff, customer_id=customer.customer_id) == []


def test_s2_a_new_investment_service_then_the_whole_balance_is_held_and_voided(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """S2: a stolen password opens precious-metal trading and moves the whole balance into its
    margin account. Between own accounts no code is asked, so only the engine stops it."""
    victim = seasoned_customer(rt, client, staff, clock, 45, balance=400_000)
    margin = client.post(
        f"{API}/me/services/precious-metal",
        json={"parent_account_id": victim.account_id},
        headers=victim.headers(),
    ).json()
    moved = client.post(
        f"{API}/me/payments",
        json={
            "request_id": "s2-whole-balance",
            "from_account_id": victim.account_id,
            "amount": 400_000,
            "payee_account": reveal_account_number(rt, margin["id"]),
            "payee_name": victim.name,
            "method": "sms",
        },
        headers=victim.headers(),
    ).json()
    assert moved["risk_outcome"] == "challenge"  # all the customer's app learns before the end
    assert moved["exemption"] is None  # a risky payment is never exempt
    response = authorise_with_sms(rt, client, victim, moved)
    held = response.json()
    assert held["status"] == "held", response.text
    assert held["risk_outcome"] == "hold"
    assert get_account(rt, margin["id"]).balance == 0
    assert "security check" in sms_messages(rt, victim.mobile)[-1]["text"]

    [alert] = open_alerts(client, staff, customer_id=victim.customer_id)
    assert "new_service_then_whole_balance" in alert["rules"]
    voided = analyst(client, staff, alert["id"], "void", note="customer did not open it")
    assert voided.json()["status"] == "voided"
    assert get_account(rt, victim.account_id).available == 400_000
    assert get_account(rt, margin["id"]).balance == 0
    mine = client.get(f"{API}/me/payments/{held['id']}", headers=victim.headers()).json()
    assert mine["status"] == "voided"


def test_s3_a_tool_changed_a_new_device_then_a_large_transfer_is_held_a_smaller_one_challenged(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """S3: a trojan read the customer's password and codes; an e-token is put on his name and the
    fraudster logs in from his own phone. A transfer from a new device alone is only stepped up;
    after a change to the security settings the same day, a large one is held."""
    victim = seasoned_customer(rt, client, staff, clock, 46, balance=5_000_000)
    payee = open_online_customer(rt, client, staff, 47, balance=0)
    assert paid(rt, client, victim, payee, 300_000)["status"] == "executed"  # from the own device
    clock.advance(timedelta(days=1))
    staff.log_in_again()

    intruder = OnlineCustomer(**{**victim.__dict__, "device": "trojan-phone", "token": None})
    login_with_sms(rt, client, intruder)
    small = pay(rt, client, intruder, payee, 150_000).json()
    assert small["risk_outcome"] == "challenge"
    assert small["challenge"] is not None
    assert small["exemption"] is None
    token = client.post(
        f"{API}/customers/{victim.customer_id}/tokens",
        json={"kind": "totp"},
        headers=staff.headers(Role.TELLER),
    )
    assert token.status_code == 201, token.text
    assert "authentication tool" in sms_messages(rt, victim.mobile)[-1]["text"]
    clock.advance(timedelta(minutes=1))
    large = paid(rt, client, intruder, payee, 500_000)  # all a one-time code allows in a day
    assert large["status"] == "held"
    [alert] = open_alerts(client, staff, customer_id=victim.customer_id)
    assert "security_change_new_device_large_transfer" in alert["rules"]


def test_s4_the_same_payment_again_to_a_new_payee_is_challenged_by_the_engine(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    student = seasoned_customer(rt, client, staff, clock, 48)
    seller = open_online_customer(rt, client, staff, 49, balance=0)
    first = paid(rt, client, student, seller, 60_000)
    assert first["status"] == "executed"
    assert first["risk_outcome"] == "allow"
    clock.advance(timedelta(minutes=3))
    second = pay(rt, client, student, seller, 60_000).json()
    confirmed = client.post(
        f"{API}/me/payments/{second['id']}/confirm",
        json={"method": "sms", "acknowledge_warnings": True},
        headers=student.headers(),
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["risk_outcome"] == "challenge"
    assert confirmed.json()["exemption"] is None


def test_s5_a_refund_scam_is_held_labelled_fraud_and_its_payee_blocked_for_everyone(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """S5: a teller opened the e-payment service two days ago; a caller promising a refund talks
    the customer into paying 2,100.00. The hold gives the bank time to call her; the analyst
    voids it, labels it fraud and blocks the payee: the next customer's payment there is refused,
    and the label raises that payee's risk at once."""
    clock.advance(timedelta(days=-2))
    victim = login_with_sms(rt, client, open_online_customer(rt, client, staff, 50))
    clock.advance(timedelta(days=2))
    staff.log_in_again()
    victim = login_with_sms(rt, client, victim)
    scammer = open_online_customer(rt, client, staff, 51, balance=0)

    held = paid(rt, client, victim, scammer, 210_000)
    assert held["status"] == "held"
    [alert] = open_alerts(client, staff, customer_id=victim.customer_id)
    assert analyst(client, staff, alert["id"], "void", note="refund scam").status_code == 200
    labelled = analyst(client, staff, alert["id"], "label", label="fraud")
    assert labelled.json()["label"] == "fraud"
    blocked = analyst(client, staff, alert["id"], "block-payee", reason="refund scam mule")
    assert blocked.status_code == 200, blocked.text
    assert get_account(rt, scammer.account_id).balance == 0

    other = seasoned_customer(rt, client, staff, clock, 52)
    refused = paid(rt, client, other, scammer, 30_000)
    assert refused["status"] == "blocked"
    assert get_account(rt, scammer.account_id).balance == 0
    [block] = open_alerts(client, staff, customer_id=other.customer_id)
    assert block["kind"] == "block"
    assert {"blocked_payee", "payee_with_confirmed_fraud"} <= set(block["rules"])
    closed = analyst(client, staff, block["id"], "close", note="payee blocked")
    assert closed.json()["status"] == "closed"


@pytest.mark.parametrize(
    ("status", "decided", "shown"),
    [
        ("awaiting_auth", "hold", "challenge"),
        ("awaiting_auth", "block", "challenge"),
        ("awaiting_auth", "challenge", "challenge"),
        ("awaiting_auth", "allow", "allow"),
        ("held", "hold", "hold"),
        ("blocked", "block", "block"),
    ],
)
def test_the_app_learns_of_a_hold_or_block_only_once_the_payment_is_final(
    status: str, decided: str, shown: str
) -> None:
    assert customer_risk_outcome(status, decided) == shown
