"""A customer pays a new payee: confirmation with the amount in words, a dynamically linked SMS
challenge, execution through the ledger, and the notification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    TRANSACTION_PASSWORD,
    OnlineCustomer,
    authorise_with_sms,
    last_code,
    last_code_message,
    login_with_sms,
    online_customer,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins

from ebank.channels.payments import expire_stale_payments
from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account
from ebank.runtime import Runtime


@pytest.mark.usefixtures("permissive_risk")
def test_paying_a_new_payee_confirms_challenges_executes_and_notifies(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 1, balance=2_000_000)
    payee = open_online_customer(rt, client, staff, 2, balance=0)

    drafted = pay(rt, client, payer, payee, 500_000)
    assert drafted.status_code == 201, drafted.text
    payment = drafted.json()
    confirmation = payment["confirmation"]
    assert confirmation["amount_in_words"] == "伍仟元整"
    assert confirmation["payee_name"] == payee.name
    assert confirmation["payee_bank"] == rt.policy.ledger.bank_code
    assert confirmation["payee_verified"] is True
    assert payment["status"] == "awaiting_auth"
    assert payment["challenge"]["method"] == "sms"
    sms = last_code_message(rt, payer.mobile)
    assert "5,000.00" in sms  # the code names what it authorises
    assert payee.name in sms
    assert "never asks for your verification code" in sms

    code = last_code(rt, payer.mobile)
    executed = authorise_with_sms(rt, client, payer, payment, code)
    assert executed.status_code == 200, executed.text
    assert executed.json()["status"] == "executed"
    assert set(executed.json()["factors"]) == {"sms", "transaction_password"}
    assert executed.json()["strength"] == "two_factor"
    assert get_account(rt, payer.account_id).balance == 1_500_000
    assert get_account(rt, payee.account_id).balance == 500_000

    inbox = client.get(f"{API}/me/notifications", headers=payer.headers()).json()
    assert inbox[0]["kind"] == "payment_executed"
    assert "5,000.00" in inbox[0]["text"]
    assert all(item["kind"] != "otp_payment" for item in inbox)  # codes stay out of the inbox
    # The outcome's SMS is in the language the customer paid in (it is written on the ledger's
    # own thread, which must not fall back to the bank's default language).
    assert sms_messages(rt, payer.mobile)[-1]["text"].startswith("You paid CN¥5,000.00")

    again = authorise_with_sms(rt, client, payer, payment, code)  # a retry returns the outcome
    assert again.json()["status"] == "executed"
    assert get_account(rt, payer.account_id).balance == 1_500_000


def _confirm_again(client: TestClient, payer: OnlineCustomer, payment_id: str) -> Any:
    """Confirm a changed payment again, asking for a new SMS code."""
    return client.post(
        f"{API}/me/payments/{payment_id}/confirm", json={"method": "sms"}, headers=payer.headers()
    )


@pytest.mark.usefixtures("permissive_risk")
def test_a_changed_amount_invalidates_the_code_dynamic_linking(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """The code names 300.00; the amount becomes 4,000.00. The old code, even given against the
    old challenge once the payment is confirmed again, authorises nothing; the new one, which names
    the new amount, moves exactly that amount."""
    payer = online_customer(rt, client, staff, 3, balance=2_000_000)
    payee = open_online_customer(rt, client, staff, 4, balance=0)
    payment = pay(rt, client, payer, payee, 30_000).json()  # above the low-value exemption
    assert payment["challenge"] is not None
    old_code = last_code(rt, payer.mobile)

    changed = client.patch(
        f"{API}/me/payments/{payment['id']}", json={"amount": 400_000}, headers=payer.headers()
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.json()["needs_confirmation"] is True

    unconfirmed = authorise_with_sms(rt, client, payer, payment, old_code)
    assert unconfirmed.status_code == 409, unconfirmed.text
    assert unconfirmed.json()["code"] == "payment_state"  # the change must be confirmed first

    clock.advance(timedelta(seconds=rt.policy.customer_auth.sms_resend_seconds))
    confirmed = _confirm_again(client, payer, payment["id"])
    assert confirmed.status_code == 200, confirmed.text
    renewed = confirmed.json()
    assert renewed["status"] == "awaiting_auth"
    assert renewed["confirmation"]["amount_in_words"] == "肆仟元整"
    assert renewed["challenge"]["id"] != payment["challenge"]["id"]
    assert "4,000.00" in last_code_message(rt, payer.mobile)  # the new code names the new amount
    new_code = last_code(rt, payer.mobile)

    stale = authorise_with_sms(rt, client, payer, payment, old_code)  # old challenge, its code
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "challenge_invalidated"
    assert get_account(rt, payer.account_id).balance == 2_000_000
    assert get_account(rt, payee.account_id).balance == 0

    done = authorise_with_sms(rt, client, payer, renewed, new_code)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"
    assert done.json()["amount"] == 400_000
    assert get_account(rt, payer.account_id).balance == 1_600_000
    assert get_account(rt, payee.account_id).balance == 400_000


@pytest.mark.usefixtures("permissive_risk")
def test_a_changed_payee_invalidates_the_code(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """The code names one payee; the payment now goes to another. The old code authorises
    nothing; the new one, which names the new payee, pays the new payee only."""
    payer = online_customer(rt, client, staff, 5)
    payee = open_online_customer(rt, client, staff, 6, balance=0)
    other = open_online_customer(rt, client, staff, 7, balance=0)
    payment = pay(rt, client, payer, payee, 30_000).json()
    assert payment["challenge"] is not None
    old_code = last_code(rt, payer.mobile)

    changed = client.patch(
        f"{API}/me/payments/{payment['id']}",
        json={"payee_account": other.card_number, "payee_name": other.name},
        headers=payer.headers(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["needs_confirmation"] is True

    unconfirmed = authorise_with_sms(rt, client, payer, payment, old_code)
    assert unconfirmed.status_code == 409, unconfirmed.text
    assert unconfirmed.json()["code"] == "payment_state"

    clock.advance(timedelta(seconds=rt.policy.customer_auth.sms_resend_seconds))
    confirmed = _confirm_again(client, payer, payment["id"])
    assert confirmed.status_code == 200, confirmed.text
    renewed = confirmed.json()
    assert renewed["confirmation"]["payee_name"] == other.name
    assert renewed["challenge"]["id"] != payment["challenge"]["id"]
    assert other.name in last_code_message(rt, payer.mobile)  # the new code names the new payee
    new_code = last_code(rt, payer.mobile)

    stale = authorise_with_sms(rt, client, payer, payment, old_code)
    assert stale.status_code == 409, stale.text
    assert stale.json()["code"] == "challenge_invalidated"
    assert get_account(rt, payer.account_id).balance == 1_000_000
    assert get_account(rt, payee.account_id).balance == 0
    assert get_account(rt, other.account_id).balance == 0

    done = authorise_with_sms(rt, client, payer, renewed, new_code)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"
    assert get_account(rt, payer.account_id).balance == 970_000
    assert get_account(rt, other.account_id).balance == 30_000
    assert get_account(rt, payee.account_id).balance == 0


def test_five_wrong_codes_lock_the_customer_with_a_warning_before(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 8)
    payee = open_online_customer(rt, client, staff, 9, balance=0)
    answers = []
    for attempt in range(5):
        clock.advance(timedelta(seconds=61))
        payment = pay(rt, client, payer, payee, 30_000 + attempt).json()
        wrong = "000000" if last_code(rt, payer.mobile) != "000000" else "111111"
        answers.append(
            client.post(
                f"{API}/me/payments/{payment['id']}/authorize",
                json={
                    "challenge_id": payment["challenge"]["id"],
                    "code": wrong,
                    "transaction_password": TRANSACTION_PASSWORD,
                },
                headers=payer.headers(),
            )
        )
    codes = [(a.status_code, a.json()["code"]) for a in answers]
    assert codes[:4] == [(401, "invalid_credentials")] * 4
    assert "params" not in answers[2].json()
    assert answers[3].json()["params"]["remaining_attempts"] == 1  # the warning before the lock
    assert codes[4] == (423, "customer_locked")
    assert "code" not in answers[0].json()["detail"].lower()  # never says which factor failed
    assert get_account(rt, payer.account_id).balance == 1_000_000


@pytest.mark.usefixtures("permissive_risk")
def test_a_payment_left_unfinished_past_the_drafts_time_expires_and_moves_nothing(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """What the customer confirmed, and what the risk engine judged, is too old to carry out
    once the policy's draft time has passed since its last step: a new payment is needed."""
    payer = online_customer(rt, client, staff, 1, balance=2_000_000)
    payee = open_online_customer(rt, client, staff, 2, balance=0)
    payment = pay(rt, client, payer, payee, 500_000).json()
    code = last_code(rt, payer.mobile)
    other = pay(rt, client, payer, payee, 100_000).json()
    ttl = timedelta(minutes=rt.policy.channels.draft_ttl_minutes)

    clock.advance(ttl - timedelta(seconds=61))
    login_with_sms(rt, client, payer)  # its session has long timed out
    clock.advance(timedelta(seconds=61))
    late = authorise_with_sms(rt, client, payer, payment, code)
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "expired"
    assert get_account(rt, payer.account_id).balance == 2_000_000
    assert get_account(rt, payee.account_id).balance == 0
    again = authorise_with_sms(rt, client, payer, payment, code)
    assert again.json()["status"] == "expired"

    new_code = client.post(  # a new code for the other payment: too late as well
        f"{API}/me/payments/{other['id']}/confirm",
        json={"acknowledge_warnings": True, "method": "sms"},
        headers=payer.headers(),
    )
    assert new_code.status_code == 409, new_code.text
    assert new_code.json()["code"] == "payment_state"
    shown = client.get(f"{API}/me/payments/{other['id']}", headers=payer.headers())
    assert shown.json()["status"] == "expired"


@pytest.mark.usefixtures("permissive_risk")
def test_the_worker_expires_unfinished_payments_once_their_time_has_passed(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 1, balance=2_000_000)
    payee = open_online_customer(rt, client, staff, 2, balance=0)
    old = pay(rt, client, payer, payee, 100_000).json()
    clock.advance(timedelta(minutes=rt.policy.channels.draft_ttl_minutes - 1))
    login_with_sms(rt, client, payer)
    fresh = pay(rt, client, payer, payee, 200_000).json()
    done = pay(rt, client, payer, payee, 300_000).json()
    assert authorise_with_sms(rt, client, payer, done).json()["status"] == "executed"
    clock.advance(timedelta(minutes=1))

    assert expire_stale_payments(rt) == 1
    assert expire_stale_payments(rt) == 0
    statuses = {
        p["id"]: p["status"]
        for p in (
            client.get(f"{API}/me/payments/{p['id']}", headers=payer.headers()).json()
            for p in (old, fresh, done)
        )
    }
    assert statuses == {old["id"]: "expired", fresh["id"]: "awaiting_auth", done["id"]: "executed"}
