"""The low-value exemption from the second factor (PSD2 RTS Art. 16): a small payment goes through
without a code while it stays within the policy's single amount and, since the last strong
authentication, its cumulative amount and count; past any of them a code is asked for, and a
payment the risk analysis finds anything in is never exempt."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.channels.banking import (
    API,
    CODE,
    OnlineCustomer,
    RecordingAssessor,
    authorise_with_sms,
    online_customer,
    open_online_customer,
    pay,
    sms_messages,
)
from tests.conftest import StaffLogins

from ebank.ledger.service import get_account
from ebank.risk.assessment import Outcome
from ebank.runtime import Runtime


def _caps(rt: Runtime) -> tuple[int, int, int]:
    """The low-value exemption's single amount, cumulative amount (minor units) and count."""
    low = rt.policy.channels.exemptions.low_value
    assert low is not None, "the policy has a low-value exemption"
    single = rt.policy.to_minor(low.single)
    cumulative = rt.policy.to_minor(low.cumulative)
    assert single is not None
    assert cumulative is not None
    return single, cumulative, low.count


def _authorise_without_factor(client: TestClient, payer: OnlineCustomer, payment_id: str) -> Any:
    return client.post(
        f"{API}/me/payments/{payment_id}/authorize", json={}, headers=payer.headers()
    )


def _exempt_payment(
    rt: Runtime,
    client: TestClient,
    payer: OnlineCustomer,
    payee: OnlineCustomer,
    amount: int,
) -> dict[str, Any]:
    """A payment drafted without a challenge and executed without any factor."""
    drafted = pay(rt, client, payer, payee, amount)
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["exemption"] == "low_value", drafted.text
    assert drafted.json()["challenge"] is None
    executed = _authorise_without_factor(client, payer, drafted.json()["id"])
    assert executed.status_code == 200, executed.text
    assert executed.json()["status"] == "executed"
    return dict(executed.json())


def _asks_for_a_code(
    rt: Runtime,
    client: TestClient,
    payer: OnlineCustomer,
    payee: OnlineCustomer,
    amount: int,
) -> dict[str, Any]:
    """A payment that gets a challenge and cannot be authorised without it; nothing moves."""
    before = get_account(rt, payer.account_id).balance
    drafted = pay(rt, client, payer, payee, amount)
    assert drafted.status_code == 201, drafted.text
    payment = dict(drafted.json())
    assert payment["exemption"] is None
    assert payment["challenge"] is not None
    assert payment["challenge"]["method"] == "sms"
    refused = _authorise_without_factor(client, payer, payment["id"])
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "challenge_required"
    assert get_account(rt, payer.account_id).balance == before
    return payment


@pytest.mark.usefixtures("permissive_risk")
def test_a_small_payment_within_the_caps_goes_through_without_a_second_factor(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    single, _cumulative, _count = _caps(rt)
    payer = online_customer(rt, client, staff, 1)
    payee = open_online_customer(rt, client, staff, 2, balance=0)
    sent = len(sms_messages(rt, payer.mobile))

    executed = _exempt_payment(rt, client, payer, payee, single)  # the single cap itself
    assert executed["factors"] == []
    assert executed["strength"] == "none"
    assert get_account(rt, payee.account_id).balance == single
    assert get_account(rt, payer.account_id).balance == 1_000_000 - single
    assert not any(CODE.search(m["text"]) for m in sms_messages(rt, payer.mobile)[sent:])


@pytest.mark.usefixtures("permissive_risk")
def test_a_payment_above_the_single_cap_asks_for_the_second_factor(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    single, _cumulative, _count = _caps(rt)
    payer = online_customer(rt, client, staff, 3)
    payee = open_online_customer(rt, client, staff, 4, balance=0)

    payment = _asks_for_a_code(rt, client, payer, payee, single + 1)
    paid = authorise_with_sms(rt, client, payer, payment)
    assert paid.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == single + 1


@pytest.mark.usefixtures("permissive_risk")
def test_the_payment_that_would_pass_the_cumulative_amount_asks_for_the_second_factor(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    """Exempt payments up to the cumulative amount exactly; one more minor unit asks for a code.
    Once the customer authenticates strongly, the count starts again."""
    single, cumulative, count = _caps(rt)
    amounts: list[int] = []  # distinct amounts (the same amount again would be a warning)
    while sum(amounts) < cumulative:
        amounts.append(min(single - len(amounts), cumulative - sum(amounts)))
    assert len(amounts) < count  # the amount, not the count, is what is reached
    payer = online_customer(rt, client, staff, 5)
    payee = open_online_customer(rt, client, staff, 6, balance=0)

    for amount in amounts:
        _exempt_payment(rt, client, payer, payee, amount)
    assert get_account(rt, payee.account_id).balance == cumulative

    payment = _asks_for_a_code(rt, client, payer, payee, 1)
    paid = authorise_with_sms(rt, client, payer, payment)
    assert paid.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == cumulative + 1

    _exempt_payment(rt, client, payer, payee, 2)  # after the strong authentication


@pytest.mark.usefixtures("permissive_risk")
def test_the_payment_that_would_pass_the_cumulative_count_asks_for_the_second_factor(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    single, cumulative, count = _caps(rt)
    amounts = [100 + n for n in range(count + 1)]  # 1.00, 1.01, ...: far within the amounts
    assert max(amounts) <= single
    assert sum(amounts) <= cumulative
    payer = online_customer(rt, client, staff, 7)
    payee = open_online_customer(rt, client, staff, 8, balance=0)

    for amount in amounts[:count]:
        _exempt_payment(rt, client, payer, payee, amount)
    _asks_for_a_code(rt, client, payer, payee, amounts[count])
    assert get_account(rt, payee.account_id).balance == sum(amounts[:count])


@pytest.mark.usefixtures("permissive_risk")
def test_small_payments_drafted_together_cannot_pass_the_cumulative_amount_without_a_factor(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    """The caps hold however the payments are ordered: drafting several small payments before
    authorising any of them must not carry more than the cumulative amount past the second
    factor."""
    single, cumulative, _count = _caps(rt)
    amounts: list[int] = []
    while sum(amounts) <= cumulative:
        amounts.append(single - len(amounts))
    payer = online_customer(rt, client, staff, 9)
    payee = open_online_customer(rt, client, staff, 10, balance=0)

    drafted = [pay(rt, client, payer, payee, amount).json() for amount in amounts]
    answers = [_authorise_without_factor(client, payer, p["id"]) for p in drafted]
    moved = sum(
        amount
        for amount, answer in zip(amounts, answers, strict=True)
        if answer.status_code == 200 and answer.json()["status"] == "executed"
    )
    assert moved <= cumulative
    assert get_account(rt, payee.account_id).balance <= cumulative
    refused = [p for p, a in zip(drafted, answers, strict=True) if a.status_code != 200]
    assert refused
    assert answers[-1].status_code == 409
    assert answers[-1].json()["code"] == "verification_required"

    verified = client.post(  # confirmed again, it now asks for the code, and pays with it
        f"{API}/me/payments/{refused[-1]['id']}/confirm",
        json={"method": "sms"},
        headers=payer.headers(),
    ).json()
    assert verified["challenge"]["method"] == "sms"
    assert authorise_with_sms(rt, client, payer, verified).json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == moved + amounts[-1]


def test_a_small_payment_the_risk_analysis_questions_is_never_exempt(
    rt: Runtime, client: TestClient, staff: StaffLogins
) -> None:
    single, _cumulative, _count = _caps(rt)
    payer = online_customer(rt, client, staff, 11)
    payee = open_online_customer(rt, client, staff, 12, balance=0)
    rt.risk = RecordingAssessor(Outcome.CHALLENGE)

    payment = _asks_for_a_code(rt, client, payer, payee, single)
    assert payment["risk_outcome"] == "challenge"
    paid = authorise_with_sms(rt, client, payer, payment)
    assert paid.json()["status"] == "executed"
    assert get_account(rt, payee.account_id).balance == single
