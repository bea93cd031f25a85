"""One-time SMS codes, as the customer meets them through the API: for a login and for a payment.
A code lives for the policy's validity, gives a few tries, cannot be asked for again at once, is
kept only as a keyed hash, and (for a payment) names what it authorises."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.channels.banking import (
    API,
    LOGIN_PASSWORD,
    OnlineCustomer,
    authorise_with_sms,
    last_code,
    last_code_message,
    online_customer,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins

from ebank.auth.models import AuthChallenge
from ebank.common.clock import ManualClock
from ebank.ledger.service import get_account
from ebank.runtime import Runtime

AMOUNT = 30_000  # 300.00: above the low-value exemption, so a code is asked for


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _login_challenge(client: TestClient, customer: OnlineCustomer) -> Any:
    return client.post(
        f"{API}/customer/login/challenge",
        json={"login_name": customer.login_name, "method": "sms"},
        headers=customer.headers(),
    )


def _log_in(client: TestClient, customer: OnlineCustomer, challenge_id: str, code: str) -> Any:
    return client.post(
        f"{API}/customer/login",
        json={
            "login_name": customer.login_name,
            "password": LOGIN_PASSWORD,
            "method": "sms",
            "challenge_id": challenge_id,
            "code": code,
            "channel": "online",
        },
        headers=customer.headers(),
    )


def _new_code(client: TestClient, payer: OnlineCustomer, payment_id: str) -> Any:
    """Ask for a new code for a payment awaiting authorisation."""
    return client.post(
        f"{API}/me/payments/{payment_id}/confirm", json={"method": "sms"}, headers=payer.headers()
    )


def _status(client: TestClient, payer: OnlineCustomer, payment_id: str) -> str:
    shown = client.get(f"{API}/me/payments/{payment_id}", headers=payer.headers())
    return str(shown.json()["status"])


# --- validity -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_risk")
def test_a_payment_code_works_until_its_validity_ends_and_is_refused_as_expired_from_then(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 1, balance=2_000_000)
    payee = open_online_customer(rt, client, staff, 2, balance=0)
    ttl = timedelta(seconds=rt.policy.customer_auth.sms_code_ttl_seconds)
    in_time = pay(rt, client, payer, payee, AMOUNT + 1).json()
    in_time_code = last_code(rt, payer.mobile)
    late = pay(rt, client, payer, payee, AMOUNT + 2).json()
    late_code = last_code(rt, payer.mobile)

    clock.advance(ttl - timedelta(seconds=1))
    done = authorise_with_sms(rt, client, payer, in_time, in_time_code)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed"

    clock.advance(timedelta(seconds=1))
    expired = authorise_with_sms(rt, client, payer, late, late_code)
    assert expired.status_code == 409, expired.text
    assert expired.json()["code"] == "challenge_expired"
    assert get_account(rt, payee.account_id).balance == AMOUNT + 1
    assert _status(client, payer, late["id"]) == "awaiting_auth"  # only the code has expired

    renewed = _new_code(client, payer, late["id"])
    assert renewed.status_code == 200, renewed.text
    paid = authorise_with_sms(rt, client, payer, renewed.json(), last_code(rt, payer.mobile))
    assert paid.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == 2 * AMOUNT + 3


def test_a_login_code_works_until_its_validity_ends_and_is_refused_from_then(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = open_online_customer(rt, client, staff, 3)
    ttl = timedelta(seconds=rt.policy.customer_auth.sms_code_ttl_seconds)
    first = _login_challenge(client, customer)
    assert first.status_code == 200, first.text
    assert datetime.fromisoformat(first.json()["expires_at"]) == clock.now() + ttl
    first_code = last_code(rt, customer.mobile)

    clock.advance(ttl - timedelta(seconds=1))
    in_time = _log_in(client, customer, first.json()["id"], first_code)
    assert in_time.status_code == 200, in_time.text

    second = _login_challenge(client, customer)
    assert second.status_code == 200, second.text
    second_code = last_code(rt, customer.mobile)
    clock.advance(ttl)
    late = _log_in(client, customer, second.json()["id"], second_code)
    assert late.status_code == 401, late.text
    assert late.json()["code"] == "invalid_credentials"  # never says which element failed


# --- tries --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_risk")
def test_after_the_allowed_wrong_tries_the_right_payment_code_is_refused_too(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    """The code is used up after the policy's tries; each wrong try counts toward the customer's
    lock, the refused right code does not: the customer can still pay with a new code."""
    auth = rt.policy.customer_auth
    tries, lock_after = auth.sms_code_max_tries, auth.max_failed_attempts
    left_before_warning = lock_after - tries - 1  # wrong tries then left before the last warning
    assert 1 <= left_before_warning < tries  # what this test relies on in the policy
    payer = online_customer(rt, client, staff, 4)
    payee = open_online_customer(rt, client, staff, 5, balance=0)
    payment = pay(rt, client, payer, payee, AMOUNT).json()
    code = last_code(rt, payer.mobile)

    wrong = [authorise_with_sms(rt, client, payer, payment, _wrong(code)) for _ in range(tries)]
    assert [(r.status_code, r.json()["code"]) for r in wrong] == [
        (401, "invalid_credentials")
    ] * tries
    right = authorise_with_sms(rt, client, payer, payment, code)
    assert right.status_code == 409, right.text
    assert right.json()["code"] == "challenge_unusable"
    assert get_account(rt, payer.account_id).balance == 1_000_000
    assert get_account(rt, payee.account_id).balance == 0

    clock.advance(timedelta(seconds=auth.sms_resend_seconds))
    renewed = _new_code(client, payer, payment["id"])
    assert renewed.status_code == 200, renewed.text
    new_code = last_code(rt, payer.mobile)
    more = [
        authorise_with_sms(rt, client, payer, renewed.json(), _wrong(new_code))
        for _ in range(left_before_warning)
    ]
    assert more[-1].status_code == 401, more[-1].text
    # Had the refused right code counted, this would already be the lock.
    assert more[-1].json()["params"]["remaining_attempts"] == 1
    paid = authorise_with_sms(rt, client, payer, renewed.json(), new_code)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == AMOUNT


def test_after_the_allowed_wrong_tries_the_right_login_code_is_refused_too(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    auth = rt.policy.customer_auth
    tries = auth.sms_code_max_tries
    assert tries + 1 < auth.max_failed_attempts  # what this test relies on in the policy
    customer = open_online_customer(rt, client, staff, 6)
    challenge = _login_challenge(client, customer).json()
    code = last_code(rt, customer.mobile)

    answers = [_log_in(client, customer, challenge["id"], _wrong(code)) for _ in range(tries)]
    answers.append(_log_in(client, customer, challenge["id"], code))
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (401, "invalid_credentials")
    ] * (tries + 1)
    assert "token" not in answers[-1].json()

    clock.advance(timedelta(seconds=auth.sms_resend_seconds))
    fresh = _login_challenge(client, customer).json()
    logged_in = _log_in(client, customer, fresh["id"], last_code(rt, customer.mobile))
    assert logged_in.status_code == 200, logged_in.text  # not locked: a new code works


# --- resend -------------------------------------------------------------------------------------


def test_a_new_login_code_is_refused_within_the_resend_interval(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    customer = open_online_customer(rt, client, staff, 7)
    resend = timedelta(seconds=rt.policy.customer_auth.sms_resend_seconds)
    first = _login_challenge(client, customer)
    assert first.status_code == 200, first.text
    sent = len(sms_messages(rt, customer.mobile))

    clock.advance(resend - timedelta(seconds=1))
    too_soon = _login_challenge(client, customer)
    assert too_soon.status_code == 429, too_soon.text
    assert too_soon.json()["code"] == "sms_rate_limited"
    assert len(sms_messages(rt, customer.mobile)) == sent  # no SMS went out

    clock.advance(timedelta(seconds=1))
    again = _login_challenge(client, customer)
    assert again.status_code == 200, again.text
    assert len(sms_messages(rt, customer.mobile)) == sent + 1
    logged_in = _log_in(client, customer, again.json()["id"], last_code(rt, customer.mobile))
    assert logged_in.status_code == 200, logged_in.text


@pytest.mark.usefixtures("permissive_risk")
def test_a_new_payment_code_is_refused_within_the_resend_interval(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = online_customer(rt, client, staff, 8)
    payee = open_online_customer(rt, client, staff, 9, balance=0)
    resend = timedelta(seconds=rt.policy.customer_auth.sms_resend_seconds)
    payment = pay(rt, client, payer, payee, AMOUNT).json()
    sent = len(sms_messages(rt, payer.mobile))

    clock.advance(resend - timedelta(seconds=1))
    too_soon = _new_code(client, payer, payment["id"])
    assert too_soon.status_code == 429, too_soon.text
    assert too_soon.json()["code"] == "sms_rate_limited"
    assert len(sms_messages(rt, payer.mobile)) == sent

    clock.advance(timedelta(seconds=1))
    again = _new_code(client, payer, payment["id"])
    assert again.status_code == 200, again.text
    assert again.json()["challenge"]["id"] != payment["challenge"]["id"]
    paid = authorise_with_sms(rt, client, payer, again.json(), last_code(rt, payer.mobile))
    assert paid.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == AMOUNT


# --- storage and wording ------------------------------------------------------------------------


@pytest.mark.usefixtures("permissive_risk")
def test_a_code_is_kept_only_as_a_keyed_hash(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 10)
    payee = open_online_customer(rt, client, staff, 11, balance=0)
    payment = pay(rt, client, payer, payee, AMOUNT).json()
    code = last_code(rt, payer.mobile)

    with rt.db.read() as session:
        row = session.execute(
            select(AuthChallenge).where(AuthChallenge.id == payment["challenge"]["id"])
        ).scalar_one()
        stored = {
            column.key: getattr(row, column.key) for column in AuthChallenge.__table__.columns
        }
    assert stored["code_hash"]
    for name, value in stored.items():
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert code not in text, name
    # Not a plain hash either, which anyone reading the table could reverse by trying every code.
    plain = [
        code,
        f"{row.id}|{row.linked_digest}|{code}",
        f"{row.id}|{code}",
    ]
    for text in plain:
        for algorithm in ("sha256", "sha1", "md5"):
            assert stored["code_hash"] != hashlib.new(algorithm, text.encode()).hexdigest()

    paid = authorise_with_sms(rt, client, payer, payment, code)  # the hash still verifies it
    assert paid.json()["status"] == "executed"


@pytest.mark.usefixtures("permissive_risk")
def test_a_payment_code_names_the_amount_the_payee_and_how_long_it_is_valid(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    payer = online_customer(rt, client, staff, 12)
    payee = open_online_customer(rt, client, staff, 13, balance=0)
    payment = pay(rt, client, payer, payee, 32_345).json()
    text = last_code_message(rt, payer.mobile)
    assert "323.45" in text
    assert payee.name in text
    assert payment["confirmation"]["payee_account"] in text  # masked, as confirmed
    assert rt.policy.ledger.bank_code in text
    minutes = rt.policy.customer_auth.sms_code_ttl_seconds // 60
    assert f"{minutes} minutes" in text
