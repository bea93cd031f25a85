"""Online features: what the engine knows about an event at the moment it happens.

One definition serves live scoring, replay and training: :func:`features_of` is a pure function of
the event and a :class:`Snapshot` — the state a feature store (:mod:`ebank.risk.store`) holds for
the event's customer, payee, device and IP *before* the event. The store then records the event,
so the next one sees it. Confirmed fraud reaches the store late (:meth:`FeatureStore.label`), as it
reaches a bank days after the payment; features only ever see labels already revealed.

Times are seconds since the epoch (UTC): replaying a million events must not build a million
datetimes twice.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

HOUR = 3600.0
DAY = 86400.0
WINDOWS: dict[str, float] = {"1h": HOUR, "1d": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
RETENTION = 30 * DAY  # the longest window: older activity is forgotten
LABEL_RETENTION = 60 * DAY
# A compromised payee stays compromised for weeks; a leaked card is used for about two.
PAYEE_FRAUD_WINDOW = 28 * DAY
CUSTOMER_FRAUD_WINDOW = 14 * DAY
LOCAL_OFFSET = 8 * 3600.0  # night and weekend are the customer's, in China (UTC+8, no DST)
NEVER = -1.0  # "no such moment" for time-since features: trees split it off cleanly


class Spend(NamedTuple):
    """One payment in an activity, with the running totals that make window sums O(log n)."""

    at: float
    amount: float
    total: float = 0.0  # of the amounts up to and including this one
    squares: float = 0.0  # of their squares


Activity = Sequence[Spend]  # oldest first


def spend_after(activity: Activity, at: float, amount: float) -> Spend:
    """The entry that follows ``activity`` (its running totals continue the last one's)."""
    last = activity[-1] if activity else None
    if last is None:
        return Spend(at, amount, amount, amount * amount)
    return Spend(at, amount, last.total + amount, last.squares + amount * amount)


def _window(activity: Activity, now: float, span: float) -> int:
    return bisect_left(activity, (now - span, -math.inf))


def _totals(activity: Activity, start: int) -> tuple[int, float, float]:
    """Count, sum and sum of squares of the entries from ``start`` on."""
    if start >= len(activity):
        return 0, 0.0, 0.0
    first, last = activity[start], activity[-1]
    total = last.total - (first.total - first.amount)
    squares = last.squares - (first.squares - first.amount * first.amount)
    return len(activity) - start, total, squares


# A fraud is explained by its card — stolen, not the payee compromised — when its amount was far
# above the card's usual (a thief spends big) or the card was defrauded so elsewhere around then.
EXPLAINED_RATIO = 2.0


class Label(NamedTuple):
    """A confirmed outcome, ordered by the time of the event it labels."""

    at: float
    fraud: int  # 1 fraud, 0 genuine
    amount: float = NEVER
    ratio: float = NEVER  # the amount against the payer's median when the label arrived
    card_frauds: int = 0  # the payer's known frauds at unusual amounts within two weeks of it

    @property
    def explained_by_card(self) -> bool:
        return self.ratio >= EXPLAINED_RATIO or self.card_frauds > 0


Labels = Sequence[Label]


@dataclass(frozen=True)
class Observation:
    """The part of an event the features read (built from a :class:`RiskEvent` or a replayed row)."""

    id: str
    kind: str
    customer: str
    at: float
    amount: float = 0.0
    payee: str | None = None
    device: str | None = None
    ip: str | None = None
    channel: str | None = None
    balance_before: float | None = None


@dataclass
class Snapshot:
    """What the store knows before the event (every sequence oldest first, within retention)."""

    customer: Activity = ()
    payee: Activity = ()
    device: Activity = ()
    ip: Activity = ()
    customer_payee: Activity = ()
    seen_payee: bool = False
    seen_device: bool = False
    seen_ip: bool = False
    seen_channel: bool = False
    last_security_change: float | None = None
    last_settings_change: float | None = None
    last_new_service: float | None = None
    last_new_device: float | None = None
    registered: float | None = None
    payee_labels: Labels = ()
    customer_labels: Labels = ()
    payee_blocked: bool = False
    extra: dict[str, float] = field(default_factory=dict)


ENTITIES = ("customer", "payee", "device", "ip", "pair")
# (count feature, sum feature, span) of each window, per entity: names built once, not per event.
_WINDOW_KEYS = tuple(
    tuple(
        (f"{entity}_count_{name}", f"{entity}_sum_{name}", span) for name, span in WINDOWS.items()
    )
    for entity in ENTITIES
)


def _windows_into(
    values: dict[str, float],
    activity: Activity,
    now: float,
    keys: tuple[tuple[str, str, float], ...],
) -> None:
    """Count and sum of the activity in each window (the hottest loop of the engine)."""
    size = len(activity)
    last_total = activity[-1].total if size else 0.0
    for count_key, sum_key, span in keys:
        start = bisect_left(activity, (now - span, -math.inf))
        if start >= size:
            values[count_key] = 0
            values[sum_key] = 0.0
            continue
        first = activity[start]
        values[count_key] = size - start
        values[sum_key] = last_total - first.total + first.amount


def local_hour_and_weekday(moment: float) -> tuple[int, int]:
    """The hour and weekday (Monday 0) in the customer's time zone, by arithmetic: faster than
    building a datetime for every event (the epoch began on a Thursday)."""
    local = moment + LOCAL_OFFSET
    return int(local % DAY // HOUR), (int(local // DAY) + 3) % 7


def amount_profile(activity: Activity, now: float) -> tuple[float, float, float]:
    """Mean, standard deviation and maximum of the amounts within retention (0s when none)."""
    start = _window(activity, now, RETENTION)
    count, total, squares = _totals(activity, start)
    if not count:
        return 0.0, 0.0, 0.0
    mean = total / count
    variance = max(squares / count - mean * mean, 0.0)
    return mean, math.sqrt(variance), max(spend.amount for spend in activity[start:])


def median_amount(activity: Activity, now: float) -> float:
    amounts = sorted(spend.amount for spend in activity[_window(activity, now, RETENTION) :])
    if not amounts:
        return 0.0
    middle = len(amounts) // 2
    return amounts[middle] if len(amounts) % 2 else (amounts[middle - 1] + amounts[middle]) / 2


def peak_amount(activity: Activity, now: float, span: float) -> float:
    return max((spend.amount for spend in activity[_window(activity, now, span) :]), default=0.0)


def same_amount_count(activity: Activity, now: float, amount: float) -> int:
    """Payments of exactly ``amount`` within the last hour (the same payment again, S4)."""
    return sum(1 for spend in activity[_window(activity, now, HOUR) :] if spend.amount == amount)


def label_counts(labels: Labels, now: float, span: float) -> tuple[int, int]:
    """(frauds, labels) among revealed labels of events within ``span`` before ``now``."""
    start = bisect_left(labels, Label(now - span, -1))
    window = labels[start:]
    return sum(label.fraud for label in window), len(window)


def since(moment: float | None, now: float) -> float:
    return NEVER if moment is None else max(now - moment, 0.0)


def _ratio(value: float, base: float) -> float:
    return value / base if base > 0 else NEVER


def features_of(event: Observation, snapshot: Snapshot) -> dict[str, float]:
    """Every feature of ``event`` given what was known before it (the one definition)."""
    now = event.at
    values: dict[str, float] = {"amount": event.amount}
    hour, weekday = local_hour_and_weekday(now)
    values["hour"] = hour
    values["night"] = float(hour < 6)
    values["weekend"] = float(weekday >= 5)

    for keys, activity in zip(
        _WINDOW_KEYS,
        (
            snapshot.customer,
            snapshot.payee,
            snapshot.device,
            snapshot.ip,
            snapshot.customer_payee,
        ),
        strict=True,
    ):
        _windows_into(values, activity, now, keys)

    mean, deviation, largest = amount_profile(snapshot.customer, now)
    values["customer_mean_30d"] = mean
    median = median_amount(snapshot.customer, now)
    values["amount_to_median"] = _ratio(event.amount, median)
    # A stolen card's fraud comes in bursts of unusual amounts: the latest week's peak.
    values["week_peak_to_median"] = _ratio(peak_amount(snapshot.customer, now, 7 * DAY), median)
    values["amount_to_mean"] = _ratio(event.amount, mean)
    values["amount_to_max"] = _ratio(event.amount, largest)
    values["amount_z"] = (event.amount - mean) / deviation if deviation > 0 else NEVER
    values["amount_to_balance"] = (
        _ratio(event.amount, event.balance_before) if event.balance_before is not None else NEVER
    )
    pair_mean, _, _ = amount_profile(snapshot.customer_payee, now)
    values["amount_to_pair_mean"] = _ratio(event.amount, pair_mean)

    values["first_payee"] = float(event.payee is not None and not snapshot.seen_payee)
    values["first_device"] = float(event.device is not None and not snapshot.seen_device)
    values["first_ip"] = float(event.ip is not None and not snapshot.seen_ip)
    values["first_channel"] = float(event.channel is not None and not snapshot.seen_channel)
    values["since_security_change"] = since(snapshot.last_security_change, now)
    values["since_settings_change"] = since(snapshot.last_settings_change, now)
    values["since_new_service"] = since(snapshot.last_new_service, now)
    values["since_new_device"] = since(snapshot.last_new_device, now)
    values["since_registration"] = since(snapshot.registered, now)
    values["pair_same_amount_1h"] = same_amount_count(snapshot.customer_payee, now, event.amount)

    payee_frauds, payee_labelled = label_counts(snapshot.payee_labels, now, PAYEE_FRAUD_WINDOW)
    values["payee_known_frauds"] = payee_frauds
    values["payee_fraud_rate"] = _ratio(payee_frauds, payee_labelled)
    values["since_payee_fraud"] = since(_last_fraud(snapshot.payee_labels), now)
    run = fraud_run(snapshot.payee_labels)
    values["payee_fraud_run_age"] = since(run.start, now)
    values["payee_fraud_run_length"] = run.length
    values["payee_fraud_run_top_amount"] = run.top_amount
    customer_frauds, _ = label_counts(snapshot.customer_labels, now, CUSTOMER_FRAUD_WINDOW)
    values["customer_known_frauds"] = customer_frauds
    values["payee_blocked"] = float(snapshot.payee_blocked)
    values.update(snapshot.extra)
    return values


@dataclass(frozen=True)
class FraudRun:
    start: float | None = None
    length: int = 0
    top_amount: float = NEVER  # its largest fraud


def fraud_run(labels: Labels) -> FraudRun:
    """The unbroken run of frauds that ends the labels (empty when the latest label is genuine),
    counting only the frauds its cards do not explain: a payee whose latest known payments were
    all fraud, at their cards' usual amounts, is still compromised — even after a single one;
    a stolen card that happened to pay there says nothing about the payee."""
    start, length, top = None, 0, NEVER
    for label in reversed(labels):
        if not label.fraud:
            break
        if label.explained_by_card:
            continue
        start, length, top = label.at, length + 1, max(top, label.amount)
    return FraudRun(start, length, top)


def _last_fraud(labels: Labels) -> float | None:
    for label in reversed(labels):
        if label.fraud:
            return label.at
    return None
