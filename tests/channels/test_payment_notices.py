"""A payment that is not made is notified as well as one that is: a wrong or outdated
verification (perhaps somebody else trying), a limit, a payment left to expire. The customer
hears of it on the reserved phone and in the inbox, with the tip that fits."""

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

NEVER_ASK = "never asks for your verification code"


def _inbox(client: TestClient, customer: OnlineCustomer) -> list[dict[str, Any]]:
    answer = client.get(f"{API}/me/notifications", headers=customer.headers())
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def _not_made(client: TestClient, customer: OnlineCustomer) -> list[str]:
    return [n["text"] for n in _inbox(client, customer) if n["kind"] == "payment_not_made"]


@pytest.mark.usefixtures("permissive_risk")
def test_a_wrong_code_for_a_payment_is_notified_with_the_tip_never_to_tell_it(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 81)
    payee = open_online_customer(rt, client, staff, 82, balance=0)
    payment = pay(rt, client, payer, payee, 30_000).json()
    right = last_code(rt, payer.mobile)
    wrong = "000000" if right != "000000" else "111111"

    refused = authorise_with_sms(rt, client, payer, payment, wrong)
    assert refused.status_code == 401, refused.text
    [text] = _not_made(client, payer)
    assert text.startswith("Your payment of CN¥300.00 to ")
    assert "the verification entered was wrong" in text
    assert NEVER_ASK in text
    assert NEVER_ASK in sms_messages(rt, payer.mobile)[-1]["text"]
    assert get_account(rt, payer.account_id).balance == 1_000_000

    done = authorise_with_sms(rt, client, payer, payment, right)
    assert done.json()["status"] == "executed"
    assert len(_not_made(client, payer)) == 1  # the payment made is not "not made"


@pytest.mark.usefixtures("permissive_risk")
def test_a_payment_over_the_limit_of_the_verification_used_is_notified(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    daily = rt.policy.to_minor(rt.policy.channels.limits_by_strength["two_factor"].daily)
    assert daily is not None
    payer = online_customer(rt, client, staff, 83, balance=daily * 2)
    payee = open_online_customer(rt, client, staff, 84, balance=0)
    payment = pay(rt, client, payer, payee, daily + 100).json()

    refused = authorise_with_sms(rt, client, payer, payment)
    assert refused.json()["code"] == "limit_exceeded"
    [text] = _not_made(client, payer)
    assert "over your limit for the verification used" in text
    assert get_account(rt, payee.account_id).balance == 0


@pytest.mark.usefixtures("permissive_risk")
def test_an_old_code_after_the_payment_changed_is_notified(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """Somebody answering the code of what the customer first confirmed, after the payment
    changed: the customer is told, and nothing moves."""
    payer = online_customer(rt, client, staff, 85, balance=2_000_000)
    payee = open_online_customer(rt, client, staff, 86, balance=0)
    payment = pay(rt, client, payer, payee, 30_000).json()
    old_code = last_code(rt, payer.mobile)
    client.patch(
        f"{API}/me/payments/{payment['id']}", json={"amount": 90_000}, headers=payer.headers()
    )
    clock.advance(timedelta(seconds=61))  # past the SMS resend interval
    client.post(
        f"{API}/me/payments/{payment['id']}/confirm",
        json={"method": "sms"},
        headers=payer.headers(),
    )

    stale = authorise_with_sms(rt, client, payer, payment, old_code)
    assert stale.json()["code"] == "challenge_invalidated"
    [text] = _not_made(client, payer)
    assert "its details changed after the code was issued" in text
    assert get_account(rt, payee.account_id).balance == 0


@pytest.mark.usefixtures("permissive_risk")
def test_a_payment_left_to_expire_is_notified_once_in_chinese_for_a_chinese_customer(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 87)
    payee = open_online_customer(rt, client, staff, 88, balance=0)
    answer = client.post(
        f"{API}/me/payments",
        json={
            "request_id": "expiring-0001",
            "from_account_id": payer.account_id,
            "amount": 40_000,
            "payee_account": payee.card_number,
            "payee_name": payee.name,
            "method": "sms",
        },
        headers=payer.headers("zh-CN"),
    )
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    clock.advance(timedelta(minutes=rt.policy.channels.draft_ttl_minutes))
    login_with_sms(rt, client, payer)

    late = client.post(
        f"{API}/me/payments/{payment['id']}/authorize",
        json={
            "challenge_id": payment["challenge"]["id"],
            "code": last_code(rt, payer.mobile),
            "transaction_password": TRANSACTION_PASSWORD,
        },
        headers=payer.headers("zh-CN"),
    )
    assert late.json()["status"] == "expired"
    assert expire_stale_payments(rt) == 0  # already expired: not notified again
    assert len(_not_made(client, payer)) == 1
    [sms] = [m["text"] for m in sms_messages(rt, payer.mobile) if "未能完成" in m["text"]]
    assert "未在规定时间内完成" in sms  # in the language the customer paid in
    assert "400.00" in sms
    assert get_account(rt, payee.account_id).balance == 0


@pytest.mark.usefixtures("permissive_risk")
def test_the_worker_notifies_the_payments_it_expires(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 89)
    payee = open_online_customer(rt, client, staff, 90, balance=0)
    pay(rt, client, payer, payee, 20_000)
    clock.advance(timedelta(minutes=rt.policy.channels.draft_ttl_minutes))

    assert expire_stale_payments(rt) == 1
    login_with_sms(rt, client, payer)
    [text] = _not_made(client, payer)  # read in English
    assert "it was not completed in time" in text
    sent = [m["text"] for m in sms_messages(rt, payer.mobile) if "未能完成" in m["text"]]
    assert len(sent) == 1  # the worker writes in the bank's language: it has no request
