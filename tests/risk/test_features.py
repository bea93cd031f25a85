"""Online features: what the engine knows of an event when it happens, and nothing later."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ebank.risk.features import (
    DAY,
    HOUR,
    NEVER,
    Label,
    Observation,
    features_of,
    fraud_run,
    local_hour_and_weekday,
)
from ebank.risk.store import MemoryStore, observe

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()  # a Monday, 18:00 in Beijing


def pay(
    customer: str, payee: str, amount: float, at: float, *, device: str | None = None
) -> Observation:
    return Observation(
        id=f"{customer}-{payee}-{at}",
        kind="payment",
        customer=customer,
        at=at,
        amount=amount,
        payee=payee,
        device=device,
        channel="online",
    )


def security(customer: str, kind: str, at: float, device: str | None = None) -> Observation:
    return Observation(id=f"{kind}-{at}", kind=kind, customer=customer, at=at, device=device)


def test_windows_count_and_sum_what_came_before_and_forget_what_is_too_old() -> None:
    store = MemoryStore()
    observe(store, pay("c1", "p1", 40, START - 40 * DAY))  # beyond the longest window
    observe(store, pay("c1", "p1", 10, START - 3 * DAY))
    observe(store, pay("c1", "p2", 20, START - 2 * HOUR))
    observe(store, pay("c1", "p2", 30, START - 10 * 60))

    features = observe(store, pay("c1", "p2", 500, START))

    assert features["customer_count_1h"] == 1
    assert features["customer_sum_1d"] == 50
    assert features["customer_count_7d"] == 3
    assert features["customer_count_30d"] == 3
    assert features["customer_sum_30d"] == 60
    assert features["payee_count_1d"] == 2  # payments to p2 by anyone
    assert features["pair_count_30d"] == 2


def test_the_event_itself_is_not_part_of_its_own_features() -> None:
    store = MemoryStore()
    first = observe(store, pay("c1", "p1", 100, START))
    second = observe(store, pay("c1", "p1", 100, START + 1))

    assert first["customer_count_1h"] == 0
    assert first["first_payee"] == 1
    assert second["customer_count_1h"] == 1
    assert second["first_payee"] == 0


def test_an_amount_far_above_the_customers_own_habit_stands_out() -> None:
    store = MemoryStore()
    for day in range(1, 11):
        observe(store, pay("c1", f"shop{day}", 50 + day, START - day * DAY))

    usual = observe(store, pay("c1", "shop1", 55, START))
    unusual = observe(store, pay("c1", "shop2", 275, START + 60))

    assert usual["amount_to_median"] == pytest.approx(1.0, abs=0.05)
    assert unusual["amount_to_median"] == pytest.approx(5.0, abs=0.2)
    assert unusual["amount_z"] > 5


def test_a_new_customer_has_no_habit_to_compare_with() -> None:
    features = observe(MemoryStore(), pay("new", "p1", 100, START))

    assert features["amount_to_median"] == NEVER
    assert features["customer_mean_30d"] == 0


def test_security_changes_and_new_devices_are_remembered_for_the_payments_after_them() -> None:
    store = MemoryStore()
    observe(store, pay("c1", "p1", 10, START - 5 * DAY, device="phone-1"))
    observe(store, security("c1", "password_change", START - 2 * HOUR))
    observe(store, security("c1", "new_service", START - HOUR))

    features = observe(store, pay("c1", "p9", 9_000, START, device="phone-2"))

    assert features["since_security_change"] == pytest.approx(2 * HOUR)
    assert features["since_new_service"] == pytest.approx(HOUR)
    assert features["first_device"] == 1
    assert features["first_payee"] == 1
    assert observe(MemoryStore(), pay("c2", "p1", 1, START))["since_security_change"] == NEVER


def test_fraud_on_a_payee_counts_only_once_its_label_has_arrived() -> None:
    store = MemoryStore()
    observe(store, pay("victim", "shop", 80, START - 8 * DAY))
    before = observe(store, pay("other", "shop", 80, START - DAY))
    store.label("victim", "shop", START - 8 * DAY, fraud=True)  # confirmed a week later
    after = observe(store, pay("third", "shop", 80, START))

    assert before["payee_known_frauds"] == 0
    assert after["payee_known_frauds"] == 1
    assert after["payee_fraud_run_length"] == 1
    assert after["since_payee_fraud"] == pytest.approx(8 * DAY)


def test_a_payee_whose_latest_known_payments_were_all_fraud_is_a_run_a_genuine_one_ends_it() -> (
    None
):
    labels = [Label(1.0, 0, 50.0, 1.0), Label(2.0, 1, 60.0, 1.2), Label(3.0, 1, 45.0, 0.9)]
    run = fraud_run(labels)
    assert (run.start, run.length, run.top_amount) == (2.0, 2, 60.0)
    assert fraud_run([*labels, Label(5.0, 0, 50.0, 1.0)]).length == 0
    assert fraud_run([]).start is None


def test_frauds_a_stolen_card_explains_do_not_make_the_payee_compromised() -> None:
    big_spend = Label(2.0, 1, 300.0, ratio=5.0)  # far above the card's usual
    card_defrauded_elsewhere = Label(3.0, 1, 40.0, ratio=1.0, card_frauds=2)
    usual = Label(4.0, 1, 40.0, ratio=1.1)

    assert fraud_run([big_spend, card_defrauded_elsewhere]).length == 0
    run = fraud_run([big_spend, card_defrauded_elsewhere, usual])
    assert (run.start, run.length) == (4.0, 1)


def test_a_label_knows_how_unusual_its_amount_was_for_its_card() -> None:
    store = MemoryStore()
    for day in range(1, 6):
        observe(store, pay("victim", f"shop{day}", 40, START - day * DAY))
    observe(store, pay("victim", "far-away", 200, START))
    store.label("victim", "far-away", START, fraud=True, amount=200)

    features = observe(store, pay("someone", "far-away", 30, START + 60))

    assert features["payee_known_frauds"] == 1
    assert features["payee_fraud_run_length"] == 0  # five times the card's usual: a stolen card


def test_a_card_defrauded_at_its_usual_amounts_elsewhere_does_not_clear_the_payee() -> None:
    """A thief's card (a big spend elsewhere) explains its fraud here; a card that was merely
    unlucky enough to pay at another compromised payee does not."""
    store = MemoryStore()
    for card in ("stolen", "unlucky"):
        for day in range(2, 7):
            observe(store, pay(card, f"{card}-shop{day}", 40, START - day * DAY))
    observe(store, pay("stolen", "electronics", 200, START - DAY))
    store.label("stolen", "electronics", START - DAY, fraud=True, amount=200)
    observe(store, pay("unlucky", "skimmed-pump", 40, START - DAY))
    store.label("unlucky", "skimmed-pump", START - DAY, fraud=True, amount=40)
    for card, shop in (("stolen", "bakery"), ("unlucky", "kiosk")):
        observe(store, pay(card, shop, 45, START))
        store.label(card, shop, START, fraud=True, amount=45)

    bakery = observe(store, pay("someone", "bakery", 30, START + 60))
    kiosk = observe(store, pay("someone", "kiosk", 30, START + 60))

    assert bakery["payee_known_frauds"] == kiosk["payee_known_frauds"] == 1
    assert bakery["payee_fraud_run_length"] == 0
    assert kiosk["payee_fraud_run_length"] == 1


def test_night_and_weekend_are_in_the_customers_time_zone() -> None:
    saturday_night = datetime(2026, 3, 6, 18, 30, tzinfo=UTC).timestamp()  # Sat 02:30 Beijing

    features = features_of(
        pay("c1", "p1", 1, saturday_night),
        MemoryStore().snapshot(pay("c1", "p1", 1, saturday_night)),
    )

    assert features["hour"] == 2
    assert features["night"] == 1
    assert features["weekend"] == 1


def test_local_hour_and_weekday_agree_with_the_calendar_in_beijing() -> None:
    beijing = ZoneInfo("Asia/Shanghai")
    chance = random.Random(8)
    for _ in range(500):
        moment = chance.uniform(700_000_000, 2_000_000_000)  # no summer time since 1991
        local = datetime.fromtimestamp(moment, beijing)
        assert local_hour_and_weekday(moment) == (local.hour, local.weekday())
