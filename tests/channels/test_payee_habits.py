"""A customer's habit with a payee — what the "far above what you usually pay" and "the same
amount to a new payee again" warnings compare against — is the last ``checks.habit_payments``
payments made to that payee (policy), and the date of the very first one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.channels.keyed_payments import KeyHolder, draft, key_holder, pay
from tests.conftest import StaffLogins

from ebank.channels.checks import ABOVE_HABIT, REPEAT_TO_NEW_PAYEE
from ebank.channels.payments import payee_habits
from ebank.common.clock import ManualClock
from ebank.ledger.clearing import PAYEE_ACCOUNT_PURPOSE
from ebank.runtime import Runtime

APART = timedelta(minutes=20)  # past the duplicate window: no "same amount again" warning


def count_habit_payments(rt: Runtime, last: int) -> None:
    """The bank's policy, with the habit made of the last ``last`` payments to a payee."""
    checks = rt.policy.channels.checks.model_copy(update={"habit_payments": last})
    channels = rt.policy.channels.model_copy(update={"checks": checks})
    rt.policy = rt.policy.model_copy(update={"channels": channels})


def payee_hash(rt: Runtime, payee: KeyHolder) -> str:
    return rt.cipher.lookup_hash(payee.customer.card_number, purpose=PAYEE_ACCOUNT_PURPOSE)


@pytest.mark.usefixtures("permissive_risk")
def test_only_the_last_payments_to_a_payee_make_the_habit(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    payer = key_holder(rt, client, staff, 301)
    landlord = key_holder(rt, client, staff, 302, balance=0)
    for amount in (400_000, 410_000, 420_000):  # long ago: large payments
        pay(rt, payer, landlord, amount)
        clock.advance(APART)
    for amount in (30_000, 30_100, 30_200):  # lately: small ones (usual amount 301.00)
        pay(rt, payer, landlord, amount)
        clock.advance(APART)

    count_habit_payments(rt, 3)
    # 2,000.00 is over five times the last three payments' usual amount: confirm it again.
    asked = draft(rt, payer, landlord, 200_000)
    assert asked.warnings == [ABOVE_HABIT]
    assert asked.needs_confirmation
    assert asked.challenge is None

    count_habit_payments(rt, 6)
    # Counting all six, the usual amount is 2,151.00: the same payment needs no confirmation.
    plain = draft(rt, payer, landlord, 200_000)
    assert plain.warnings == []
    assert plain.status == "awaiting_auth"
    assert plain.challenge is not None


def test_the_payee_stays_known_from_the_first_payment_beyond_the_last_ones(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    count_habit_payments(rt, 3)
    payer = key_holder(rt, client, staff, 311)
    landlord = key_holder(rt, client, staff, 312, balance=0)
    stranger = key_holder(rt, client, staff, 313, balance=0)
    pay(rt, payer, landlord, 50_000)
    clock.advance(timedelta(days=rt.policy.channels.checks.new_payee_days + 1))
    for amount in (30_000, 31_000, 32_000):  # the first payment drops out of the last three
        clock.advance(APART)
        pay(rt, payer, landlord, amount)
    pay(rt, payer, stranger, 32_000)
    clock.advance(timedelta(minutes=1))

    # The same amount again, within minutes: harmless to a payee first paid over a month ago...
    again = draft(rt, payer, landlord, 32_000)
    assert again.warnings == []
    # ...but to a payee first paid today it is what a fake "payment failed" page asks for.
    repeated = draft(rt, payer, stranger, 32_000)
    assert repeated.warnings == [REPEAT_TO_NEW_PAYEE]


def test_the_habit_counts_only_this_customers_payments_made_to_this_payee(
    rt: Runtime, client: TestClient, staff: StaffLogins, clock: ManualClock
) -> None:
    count_habit_payments(rt, 2)
    payer = key_holder(rt, client, staff, 321)
    other_payer = key_holder(rt, client, staff, 322)
    landlord = key_holder(rt, client, staff, 323, balance=0)
    grocer = key_holder(rt, client, staff, 324, balance=0)
    first = pay(rt, payer, landlord, 40_000)
    clock.advance(APART)
    to_landlord = [pay(rt, payer, landlord, amount) for amount in (41_000, 42_000)]
    clock.advance(APART)
    to_grocer = pay(rt, payer, grocer, 25_000)
    by_other_payer = pay(rt, other_payer, landlord, 90_000)
    clock.advance(APART)
    draft(rt, payer, landlord, 99_000)  # newest, but never authorised: not a payment made

    with rt.db.read() as session:
        habits = payee_habits(
            session,
            rt,
            [
                (payer.customer_id, payee_hash(rt, landlord)),
                (payer.customer_id, payee_hash(rt, grocer)),
                (other_payer.customer_id, payee_hash(rt, landlord)),
                (other_payer.customer_id, payee_hash(rt, grocer)),
            ],
        )
        only_asked = payee_habits(session, rt, [(payer.customer_id, payee_hash(rt, grocer))])

    with_landlord = habits[payer.customer_id, payee_hash(rt, landlord)]
    assert sorted((p.at, p.amount) for p in with_landlord.recent) == [
        (view.created_at, view.amount) for view in to_landlord
    ]
    assert with_landlord.first_paid == first.created_at
    with_grocer = habits[payer.customer_id, payee_hash(rt, grocer)]
    assert [p.amount for p in with_grocer.recent] == [to_grocer.amount]
    other_with_landlord = habits[other_payer.customer_id, payee_hash(rt, landlord)]
    assert [p.amount for p in other_with_landlord.recent] == [by_other_payer.amount]
    assert other_with_landlord.first_paid == by_other_payer.created_at
    assert (other_payer.customer_id, payee_hash(rt, grocer)) not in habits
    # Only the pairs asked about, though the payer paid the landlord too.
    assert list(only_asked) == [(payer.customer_id, payee_hash(rt, grocer))]
