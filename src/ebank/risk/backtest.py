"""Replaying labelled history through the engine's own feature path, to measure it.

``ebank risk backtest`` reads transactions in the card-fraud handbook's columns
(``transaction_id, timestamp, customer_id, terminal_id, amount, fraud``: the customer is the payer,
the terminal the payee), in time order from the first row to the end of the test window. Each
event goes through :func:`ebank.risk.store.observe` — the live path: features from what the store
knew before, then the event recorded — and each label reaches the store only ``delay`` after its
transaction, as confirmed fraud reaches a bank. Once every label of the training window is known
the model is trained on the training window's features; the test window's events are scored with
it. Metrics follow the handbook's protocol (:mod:`ebank.risk.metrics`): cards already known to be
compromised as of a test day minus the delay are left out of that day.
"""

from __future__ import annotations

import csv
import gzip
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import numpy as np

from ebank.risk import metrics
from ebank.risk.features import DAY, Observation
from ebank.risk.model import RiskModel, train
from ebank.risk.store import MemoryStore, observe

COLUMNS = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "fraud")
TOP_CARDS = 100


@dataclass(frozen=True)
class Transaction:
    id: str
    at: float
    customer: str
    payee: str
    amount: float
    fraud: int


@dataclass(frozen=True)
class Windows:
    train_from: date
    train_to: date  # inclusive, as the handbook states its windows
    test_from: date
    test_to: date
    delay_days: int

    def __post_init__(self) -> None:
        if self.train_from > self.train_to or self.test_from > self.test_to:
            raise ValueError("a window ends before it starts")
        if self.test_from < self.train_to + timedelta(days=self.delay_days + 1):
            raise ValueError(
                "the test window starts before the training window's labels are known "
                "(test-from must be at least train-to + delay + 1 day)"
            )

    def start(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()

    def day_index(self, at: float) -> int:
        """Days since the start of the test window."""
        return int((at - self.start(self.test_from)) // DAY)


@dataclass
class Result:
    transactions: int
    train_events: int
    train_frauds: int
    test_ids: list[str]
    test_scores: np.ndarray
    auc_roc: float
    average_precision: float
    card_precision_at_100: float
    evaluated: int
    model: RiskModel

    def figures(self) -> dict[str, float | int]:
        return {
            "auc_roc": round(self.auc_roc, 4),
            "average_precision": round(self.average_precision, 4),
            "card_precision_at_100": round(self.card_precision_at_100, 4),
            "transactions": self.transactions,
            "train_events": self.train_events,
            "train_frauds": self.train_frauds,
            "test_events": len(self.test_ids),
            "evaluated_events": self.evaluated,
        }


def read_transactions(path: Path) -> Iterator[Transaction]:
    opener: Callable[..., IO[str]] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in COLUMNS if name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name}: missing columns {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                yield Transaction(
                    id=row["transaction_id"],
                    at=_epoch(row["timestamp"]),
                    customer=row["customer_id"],
                    payee=row["terminal_id"],
                    amount=float(row["amount"]),
                    fraud=int(row["fraud"]),
                )
            except ValueError as exc:
                raise ValueError(f"{path.name} line {line}: {exc}") from exc


def _epoch(stamp: str) -> float:
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass
class _Window:
    ids: list[str]
    at: list[float]
    cards: list[str]
    labels: list[int]
    rows: list[dict[str, float]]

    @classmethod
    def empty(cls) -> _Window:
        return cls([], [], [], [], [])

    def add(self, transaction: Transaction, features: dict[str, float]) -> None:
        self.ids.append(transaction.id)
        self.at.append(transaction.at)
        self.cards.append(transaction.customer)
        self.labels.append(transaction.fraud)
        self.rows.append(features)


def run(
    transactions: Iterator[Transaction],
    windows: Windows,
    *,
    on_progress: Callable[[int], None] = lambda _count: None,
) -> Result:
    store = MemoryStore()
    delay = windows.delay_days * DAY
    train_start, train_end = (
        windows.start(windows.train_from),
        windows.start(windows.train_to + timedelta(days=1)),
    )
    test_start, test_end = (
        windows.start(windows.test_from),
        windows.start(windows.test_to + timedelta(days=1)),
    )
    pending: deque[Transaction] = deque()  # labels not yet revealed, oldest first
    training, testing = _Window.empty(), _Window.empty()
    frauds_by_day: dict[int, set[str]] = {}
    count = 0
    last = -np.inf
    for transaction in transactions:
        if transaction.at < last:
            raise ValueError(f"transaction {transaction.id} is out of time order")
        last = transaction.at
        if transaction.at >= test_end:
            break
        while pending and pending[0].at + delay <= transaction.at:
            revealed = pending.popleft()
            store.label(
                revealed.customer,
                revealed.payee,
                revealed.at,
                bool(revealed.fraud),
                revealed.amount,
            )
        if train_start <= transaction.at < train_end:
            training.add(transaction, observe(store, _observation(transaction)))
        elif test_start <= transaction.at:
            testing.add(transaction, observe(store, _observation(transaction)))
        else:  # features nobody will read: the store learns the event all the same
            store.record(_observation(transaction))
        if transaction.at >= train_start and transaction.fraud:
            frauds_by_day.setdefault(windows.day_index(transaction.at), set()).add(
                transaction.customer
            )
        pending.append(transaction)
        count += 1
        if count % 10_000 == 0:
            on_progress(count)
    on_progress(count)
    if not training.ids or not testing.ids:
        raise ValueError("the file has no transactions in the training or the test window")
    names = list(training.rows[0])
    model = train(names, _matrix(names, training.rows), np.array(training.labels))
    model.trained_from, model.trained_to = str(windows.train_from), str(windows.train_to)
    scores = model.score_matrix(_matrix(names, testing.rows))
    return _evaluate(
        count,
        windows,
        training=training,
        testing=testing,
        scores=scores,
        frauds_by_day=frauds_by_day,
        model=model,
    )


def _observation(transaction: Transaction) -> Observation:
    return Observation(
        id=transaction.id,
        kind="payment",
        customer=transaction.customer,
        at=transaction.at,
        amount=transaction.amount,
        payee=transaction.payee,
    )


def _matrix(names: list[str], rows: list[dict[str, float]]) -> np.ndarray:
    return np.array([[row[name] for name in names] for row in rows], dtype=float)


def _evaluate(
    count: int,
    windows: Windows,
    *,
    training: _Window,
    testing: _Window,
    scores: np.ndarray,
    frauds_by_day: dict[int, set[str]],
    model: RiskModel,
) -> Result:
    """The handbook's protocol: a test day leaves out the cards known compromised by then (a
    fraud dated before that day minus the delay, from the training window on)."""
    days = [windows.day_index(at) for at in testing.at]
    keep = []
    for index, (day, card) in enumerate(zip(days, testing.cards, strict=True)):
        known = any(
            card in cards
            for fraud_day, cards in frauds_by_day.items()
            if fraud_day < day - windows.delay_days
        )
        if not known:
            keep.append(index)
    labels = np.array([testing.labels[i] for i in keep])
    kept_scores = scores[keep]
    return Result(
        transactions=count,
        train_events=len(training.ids),
        train_frauds=int(sum(training.labels)),
        test_ids=testing.ids,
        test_scores=scores,
        auc_roc=metrics.auc_roc(labels, kept_scores),
        average_precision=metrics.average_precision(labels, kept_scores),
        card_precision_at_100=metrics.card_precision_at_k(
            [days[i] for i in keep],
            [testing.cards[i] for i in keep],
            labels.tolist(),
            kept_scores.tolist(),
            TOP_CARDS,
        ),
        evaluated=len(keep),
        model=model,
    )


def write_scores(path: Path, result: Result) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transaction_id", "score"])
        for transaction_id, score in zip(result.test_ids, result.test_scores, strict=True):
            writer.writerow([transaction_id, f"{score:.6f}"])
