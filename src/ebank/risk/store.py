"""Feature stores: where the engine keeps what it has seen, per customer, payee, device and IP.

:class:`FeatureStore` is the interface the engine uses — a :class:`~ebank.risk.features.Snapshot`
before an event, then the event recorded, and confirmed labels as they arrive (late). The
in-process :class:`MemoryStore` is the default; the Redis store shares the state between
processes. Both keep only what the longest window needs.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ebank.risk.features import (
    CUSTOMER_FRAUD_WINDOW,
    EXPLAINED_RATIO,
    LABEL_RETENTION,
    NEVER,
    RETENTION,
    Activity,
    Label,
    Observation,
    Snapshot,
    Spend,
    features_of,
    median_amount,
    spend_after,
)

SECURITY_CHANGES = frozenset(
    {
        "registration",
        "password_change",
        "phone_change",
        "tool_change",
        "limit_change",
        "new_device",
        "password_reset",
    }
)
# The security changes made to the customer's own settings (not a new device or registration).
SETTINGS_CHANGES = SECURITY_CHANGES - {"new_device", "registration"}
SPENDING = frozenset({"payment"})
K = TypeVar("K")


class FeatureStore(Protocol):
    def snapshot(self, event: Observation) -> Snapshot: ...

    def record(self, event: Observation) -> None: ...

    def label(
        self, customer: str, payee: str | None, at: float, fraud: bool, amount: float | None = None
    ) -> None: ...

    def block_payee(self, payee: str, blocked: bool = True) -> None: ...


@dataclass
class _Customer:
    activity: list[Spend] = field(default_factory=list)
    payees: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    marks: dict[str, float] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)


def _append(activity: list[Spend], event: Observation) -> None:
    if activity and activity[0].at < event.at - RETENTION:
        _forget_before(activity, event.at - RETENTION)
    activity.append(spend_after(activity, event.at, event.amount))


def _recent(labels: list[Label], horizon: float) -> list[Label]:
    """The labels from ``horizon`` on (older ones dropped: no feature looks further back)."""
    _forget_before(labels, horizon)
    return labels


def _forget_before(entries: list[Any], horizon: float) -> None:
    """Drop the entries older than ``horizon`` (entries are in time order)."""
    cut = bisect_left(entries, (horizon, -math.inf))
    if cut:
        del entries[:cut]


class MemoryStore:
    """The state of one process, in dictionaries."""

    def __init__(self) -> None:
        self._customers: defaultdict[str, _Customer] = defaultdict(_Customer)
        self._payees: defaultdict[str, list[Spend]] = defaultdict(list)
        self._devices: defaultdict[str, list[Spend]] = defaultdict(list)
        self._ips: defaultdict[str, list[Spend]] = defaultdict(list)
        self._pairs: defaultdict[tuple[str, str], list[Spend]] = defaultdict(list)
        self._payee_labels: defaultdict[str, list[Label]] = defaultdict(list)
        self._blocked: set[str] = set()

    def snapshot(self, event: Observation) -> Snapshot:
        customer = self._customers[event.customer]
        now = event.at
        _forget_before(customer.activity, now - RETENTION)
        snapshot = Snapshot(
            customer=customer.activity,
            seen_payee=event.payee in customer.payees,
            seen_device=event.device in customer.devices,
            seen_ip=event.ip in customer.ips,
            seen_channel=event.channel in customer.channels,
            last_security_change=customer.marks.get("security_change"),
            last_settings_change=customer.marks.get("settings_change"),
            last_new_service=customer.marks.get("new_service"),
            last_new_device=customer.marks.get("new_device"),
            registered=customer.marks.get("registration"),
            customer_labels=_recent(customer.labels, now - LABEL_RETENTION),
        )
        if event.payee is not None:
            snapshot.payee = self._kept(self._payees, event.payee, now)
            snapshot.customer_payee = self._kept(self._pairs, (event.customer, event.payee), now)
            snapshot.payee_labels = _recent(
                self._payee_labels.get(event.payee, []), now - LABEL_RETENTION
            )
            snapshot.payee_blocked = event.payee in self._blocked
        if event.device is not None:
            snapshot.device = self._kept(self._devices, event.device, now)
        if event.ip is not None:
            snapshot.ip = self._kept(self._ips, event.ip, now)
        return snapshot

    @staticmethod
    def _kept(table: defaultdict[K, list[Spend]], key: K, now: float) -> list[Spend]:
        activity = table.get(key)
        if activity is None:
            return []
        _forget_before(activity, now - RETENTION)
        return activity

    def record(self, event: Observation) -> None:
        customer = self._customers[event.customer]
        if event.kind in SECURITY_CHANGES:
            customer.marks["security_change"] = event.at
        if event.kind in SETTINGS_CHANGES:
            customer.marks["settings_change"] = event.at
        if event.kind == "new_service":
            customer.marks["new_service"] = event.at
        if event.kind in ("new_device", "registration"):
            customer.marks[event.kind] = event.at
        if event.device is not None:
            customer.devices.add(event.device)
        if event.ip is not None:
            customer.ips.add(event.ip)
        if event.channel is not None:
            customer.channels.add(event.channel)
        if event.kind not in SPENDING:
            return
        _append(customer.activity, event)
        if event.payee is not None:
            customer.payees.add(event.payee)
            _append(self._payees[event.payee], event)
            _append(self._pairs[(event.customer, event.payee)], event)
        if event.device is not None:
            _append(self._devices[event.device], event)
        if event.ip is not None:
            _append(self._ips[event.ip], event)

    def label(
        self, customer: str, payee: str | None, at: float, fraud: bool, amount: float | None = None
    ) -> None:
        """A confirmed outcome of the customer's payment at ``at`` (of ``amount``, when known)."""
        payer = self._customers[customer]
        mark = label_of(payer.activity, payer.labels, at, fraud, amount)
        owner = payer.labels
        insort(owner, mark)
        _forget_before(owner, at - LABEL_RETENTION)
        if payee is not None:
            labels = self._payee_labels[payee]
            insort(labels, mark)
            _forget_before(labels, at - LABEL_RETENTION)

    def block_payee(self, payee: str, blocked: bool = True) -> None:
        """Payments to ``payee`` show ``payee_blocked`` (or no longer do)."""
        if blocked:
            self._blocked.add(payee)
        else:
            self._blocked.discard(payee)


def label_of(
    activity: Activity, labels: Sequence[Label], at: float, fraud: bool, amount: float | None
) -> Label:
    """A label as the store keeps it: with how unusual its amount was for the card, and how
    many other stolen-card frauds the card had around then (what explains a fraud by its card)."""
    median = median_amount(activity, at)
    return Label(
        at,
        int(fraud),
        NEVER if amount is None else amount,
        amount / median if amount is not None and median > 0 else NEVER,
        card_frauds=_frauds_near(labels, at),
    )


def _frauds_near(labels: Sequence[Label], at: float) -> int:
    """Known frauds of a card within two weeks either side of ``at`` at amounts far above its
    usual: a stolen card's. A card that merely paid at several compromised payees, at its usual
    amounts, is a victim of each of them; its frauds elsewhere must not clear this payee."""
    start = bisect_left(labels, Label(at - CUSTOMER_FRAUD_WINDOW, -1))
    return sum(
        1
        for label in labels[start:]
        if label.fraud and label.ratio >= EXPLAINED_RATIO and label.at <= at + CUSTOMER_FRAUD_WINDOW
    )


def observe(store: FeatureStore, event: Observation) -> dict[str, float]:
    """The event's features from what the store knew before it; then the event is recorded.
    The one path from an event to its features — live, in replay and for training."""
    features = features_of(event, store.snapshot(event))
    store.record(event)
    return features
