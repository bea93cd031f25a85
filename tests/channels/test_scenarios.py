"""Scenarios S2, S4, S6 and S7 of the source stories, driven end to end through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    PIN,
    TRANSACTION_PASSWORD,
    RecordingAssessor,
    authorise_with_sms,
    last_code,
    login_with_sms,
    online_customer,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins
from tests.factories import funded_account, individual, mobile, resident_id

from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account, reveal_account_number
from ebank.runtime import Runtime
from ebank.staff.permissions import Role


def test_s2_new_investment_service_then_whole_balance_moved_reaches_the_hook_in_order(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    """S2: the fraudster opens precious-metal trading online and moves the whole balance into its
    margin sub-account. The risk hook sees the new service, then the payment of the whole balance
    into it; the reserved phone is told of the new service."""
    hook = RecordingAssessor()
    rt.risk = hook
    victim = online_customer(rt, client, staff, 21, balance=3_000_000)

    opened = client.post(
        f"{API}/me/services/precious-metal",
        json={"parent_account_id": victim.account_id},
        headers=victim.headers(),
    )
    assert opened.status_code == 201, opened.text
    margin = opened.json()
    assert margin["product"] == "precious_metal_margin"
    service_sms = sms_messages(rt, victim.mobile)[-1]["text"]
    assert "precious-metal" in service_sms

    moved = client.post(
        f"{API}/me/payments",
        json={
            "request_id": "s2-whole-balance",
            "from_account_id": victim.account_id,
            "amount": 3_000_000,
            "payee_account": reveal_account_number(rt, margin["id"]),
            "payee_name": victim.name,
            "method": "sms",
        },
        headers=victim.headers(),
    )
    assert moved.status_code == 201, moved.text
    payment = moved.json()
    # Between own accounts the policy exempts the second factor; only the risk hook can stop it.
    assert payment["exemption"] == "own_accounts"
    assert payment["challenge"] is None
    payment = client.post(
        f"{API}/me/payments/{payment['id']}/authorize", json={}, headers=victim.headers()
    ).json()
    assert payment["status"] == "executed"
    assert get_account(rt, margin["id"]).balance == 3_000_000

    kinds = hook.kinds(victim.customer_id)
    assert kinds.index("new_service") < kinds.index("payment")
    sequence = [e for e in hook.events if e.customer_id == victim.customer_id]
    opened_event = next(e for e in sequence if e.kind.value == "new_service")
    paid = next(e for e in sequence if e.kind.value == "payment")
    assert opened_event.account_id == margin["id"]
    assert paid.amount == paid.balance_before == 3_000_000  # the whole balance
    assert paid.payee_account_id == margin["id"]
    assert paid.at >= opened_event.at


def test_s4_the_same_payment_again_to_a_new_payee_must_be_confirmed_again(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """S4: a phishing page says the 600 payment failed; the student pays again. The second
    identical payment to the new payee within minutes is stopped for confirmation and gets no
    exemption."""
    student = online_customer(rt, client, staff, 22)
    seller = open_online_customer(rt, client, staff, 23, balance=0)
    first = pay(rt, client, student, seller, 60_000).json()
    assert authorise_with_sms(rt, client, student, first).json()["status"] == "executed"

    clock.advance(timedelta(minutes=3))
    second = pay(rt, client, student, seller, 60_000).json()
    assert second["warnings"][0]["code"] == "repeat_to_new_payee"
    assert second["needs_confirmation"] is True
    assert second["challenge"] is None
    refused = client.post(
        f"{API}/me/payments/{second['id']}/authorize", json={}, headers=student.headers()
    )
    assert refused.status_code == 409
    unacknowledged = client.post(
        f"{API}/me/payments/{second['id']}/confirm",
        json={"method": "sms"},
        headers=student.headers(),
    )
    assert unacknowledged.status_code == 409
    assert unacknowledged.json()["code"] == "confirmation_required"
    assert get_account(rt, seller.account_id).balance == 60_000  # still only the first payment

    statement = client.get(
        f"{API}/me/accounts/{student.account_id}/statement", headers=student.headers()
    ).json()
    assert [e["amount"] for e in statement["entries"] if e["amount"] == 60_000]  # what was paid


def test_s6_an_amount_far_above_habit_asks_again_then_a_recall_holds_it_at_the_payee(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """S6: 5,000 instead of 500. The confirmation shows 伍仟元整; being ten times the usual, it
    asks again; the recall puts a hold on the payee's account and the customer sees each step."""
    payer = online_customer(rt, client, staff, 24, balance=2_000_000)
    landlord = open_online_customer(rt, client, staff, 25, balance=0)
    for _ in range(2):
        clock.advance(timedelta(days=10))
        login_with_sms(rt, client, payer)  # a new session each month
        usual = pay(rt, client, payer, landlord, 50_000).json()
        assert authorise_with_sms(rt, client, payer, usual).json()["status"] == "executed"

    clock.advance(timedelta(days=10))
    login_with_sms(rt, client, payer)
    mistake = pay(rt, client, payer, landlord, 500_000).json()
    assert mistake["confirmation"]["amount_in_words"] == "伍仟元整"
    assert [w["code"] for w in mistake["warnings"]] == ["above_habit"]
    assert mistake["challenge"] is None
    confirmed = client.post(
        f"{API}/me/payments/{mistake['id']}/confirm",
        json={"acknowledge_warnings": True, "method": "sms"},
        headers=payer.headers(),
    )
    assert confirmed.status_code == 200, confirmed.text
    executed = authorise_with_sms(rt, client, payer, confirmed.json()).json()
    assert executed["status"] == "executed"
    assert get_account(rt, landlord.account_id).available == 600_000

    recall = client.post(
        f"{API}/me/payments/{mistake['id']}/recall",
        json={"reason": "typed 5000 instead of 500"},
        headers=payer.headers(),
    )
    assert recall.status_code == 200, recall.text
    assert recall.json()["recall_status"] == "held"
    landlord_account = get_account(rt, landlord.account_id)
    assert landlord_account.available == 100_000  # 5,000.00 held pending consent or decision
    assert landlord_account.balance == 600_000
    inbox = client.get(f"{API}/me/notifications", headers=payer.headers()).json()
    assert inbox[0]["kind"] == "recall_requested"
    assert "on hold" in inbox[0]["text"]
    assert any("hold" in m["text"] for m in sms_messages(rt, landlord.mobile))


@pytest.mark.usefixtures("permissive_risk")
def test_s6_a_recall_to_another_bank_goes_out_through_clearing(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    from ebank.ledger.clearing import SimulatedCounterparty, list_outbound, run_clearing

    payer = online_customer(rt, client, staff, 26)
    drafted = client.post(
        f"{API}/me/payments",
        json={
            "request_id": "s6-other-bank",
            "from_account_id": payer.account_id,
            "amount": 300_000,
            "payee_account": "6222020000000000000",
            "payee_name": "王五",
            "payee_bank": "ICBC",
            "method": "sms",
        },
        headers=payer.headers(),
    ).json()
    assert drafted["confirmation"]["payee_verified"] is False
    assert authorise_with_sms(rt, client, payer, drafted).json()["status"] == "executed"
    recall = client.post(
        f"{API}/me/payments/{drafted['id']}/recall",
        json={"reason": "wrong payee"},
        headers=payer.headers(),
    )
    assert recall.json()["recall_status"] == "sent"
    assert list_outbound(rt)[0].recall_status == "requested"
    run_clearing(rt, SimulatedCounterparty())  # still queued: it comes back instead of leaving
    assert list_outbound(rt)[0].status == "returned"
    assert get_account(rt, payer.account_id).balance == 1_000_000


def test_s7_self_registration_needs_the_card_its_pin_and_the_citizen_id(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    """S7: a fake ID card in the victim's name is not enough: registering needs the card with
    its PIN and a matching citizen-ID check; the reserved phone hears of the registration; the
    first transfers of a fresh registration reach the risk hook right after it."""
    hook = RecordingAssessor()
    rt.risk = hook
    customer_id = individual(rt, 27)
    account_id = funded_account(rt, customer_id, 10_300_000)
    client.put(
        f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=staff.headers(Role.TELLER)
    )
    card = reveal_account_number(rt, account_id)
    body = {
        "card_number": card,
        "pin": PIN,
        "name": "测试客户27",
        "id_number": resident_id(27),
        "login_name": "victim27",
        "login_password": LOGIN_PASSWORD,
        "transaction_password": TRANSACTION_PASSWORD,
    }
    fraud_attempts = [
        {**body, "pin": "000000"},  # the fraudster has the ID data, not the PIN
        {**body, "card_number": "6219990000000000000"},  # no such card
        {**body, "name": "冒名者"},  # the citizen-ID check fails
        {**body, "id_number": resident_id(28)},  # someone else's ID
    ]
    for attempt in fraud_attempts:
        refused = client.post(f"{API}/channels/registrations", json=attempt)
        assert refused.status_code in (403, 423), refused.text
    assert (
        client.get(
            f"{API}/customers/{customer_id}/channels", headers=staff.headers(Role.TELLER)
        ).json()
        == []
    )

    # Three wrong PINs lock the card for self-service; the teller resets it.
    client.put(
        f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=staff.headers(Role.TELLER)
    )
    registered = client.post(f"{API}/channels/registrations", json=body)
    assert registered.status_code == 201, registered.text
    assert registered.json()["registered_via"] == "self_service"
    assert "开通网上银行" in sms_messages(rt, mobile(27))[-1]["text"]  # in the default language

    from tests.channels.banking import OnlineCustomer

    victim = login_with_sms(
        rt,
        client,
        OnlineCustomer(customer_id, account_id, card, mobile(27), "victim27", "测试客户27"),
    )
    mule = open_online_customer(rt, client, staff, 29, balance=0)
    payment = pay(rt, client, victim, mule, 450_000).json()
    authorise_with_sms(rt, client, victim, payment)
    kinds = hook.kinds(customer_id)
    assert kinds[0] == "registration"
    assert kinds.index("registration") < kinds.index("payment")
    registration = next(e for e in hook.events if e.kind.value == "registration")
    assert registration.details["via"] == "self_service"


def test_a_wrong_pin_three_times_locks_self_registration(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    customer_id = individual(rt, 30)
    account_id = funded_account(rt, customer_id, 0)
    client.put(
        f"{API}/accounts/{account_id}/pin", json={"pin": PIN}, headers=staff.headers(Role.TELLER)
    )
    body = {
        "card_number": reveal_account_number(rt, account_id),
        "pin": "000001",
        "name": "测试客户30",
        "id_number": resident_id(30),
        "login_name": "owner30",
        "login_password": LOGIN_PASSWORD,
        "transaction_password": TRANSACTION_PASSWORD,
    }
    codes = [
        client.post(f"{API}/channels/registrations", json=body).json()["code"] for _ in range(3)
    ]
    assert codes == ["registration_refused", "registration_refused", "pin_locked"]
    right = client.post(f"{API}/channels/registrations", json={**body, "pin": PIN})
    assert right.json()["code"] == "pin_locked"
    assert last_code  # the helper module is shared with the other scenario tests


@pytest.mark.usefixtures("permissive_risk")
def test_s6_a_recall_of_a_settled_payment_goes_to_the_counterparty(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    from ebank.ledger.clearing import (
        SimulatedCounterparty,
        list_outbound,
        run_clearing,
        send_recalls,
    )

    payer = online_customer(rt, client, staff, 31)
    drafted = client.post(
        f"{API}/me/payments",
        json={
            "request_id": "s6-settled",
            "from_account_id": payer.account_id,
            "amount": 300_000,
            "payee_account": "6222020000000000000",
            "payee_name": "王五",
            "payee_bank": "ICBC",
            "method": "sms",
        },
        headers=payer.headers(),
    ).json()
    authorise_with_sms(rt, client, payer, drafted)
    counterparty = SimulatedCounterparty()
    run_clearing(rt, counterparty)
    assert list_outbound(rt)[0].status == "settled"
    client.post(
        f"{API}/me/payments/{drafted['id']}/recall",
        json={"reason": "wrong payee"},
        headers=payer.headers(),
    )
    assert send_recalls(rt, counterparty) == 1
    assert counterparty.recalls == [list_outbound(rt)[0].id]
    assert list_outbound(rt)[0].recall_status == "sent"
    assert get_account(rt, payer.account_id).balance == 700_000  # until the payee agrees
