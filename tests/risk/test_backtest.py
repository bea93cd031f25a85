"""The backtest: replay labelled history through the live feature path, train, score, measure."""

from __future__ import annotations

import csv
import gzip
import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ebank.cli import app
from ebank.risk import backtest, metrics

HEADER = ["transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "fraud"]


def synthetic_history(path: Path, days: int = 30, seed: int = 3) -> None:
    """Customers paying terminals; a stolen card now and then pays five times its usual amount
    (fraud), and one terminal is compromised throughout (all its payments fraud, known a week later)."""
    chance = random.Random(seed)
    start = datetime(2026, 1, 1)
    usual = {customer: chance.uniform(10, 80) for customer in range(200)}
    rows = []
    for day in range(days):
        for customer, mean in usual.items():
            for _ in range(chance.randint(1, 3)):
                at = start + timedelta(days=day, seconds=chance.randint(0, 86_399))
                terminal = chance.randrange(40)
                amount = max(1.0, chance.gauss(mean, mean / 4))
                fraud = 0
                if chance.random() < 0.03:
                    amount, fraud = amount * 5, 1
                if terminal == 7:
                    fraud = 1
                rows.append((at, customer, terminal, round(amount, 2), fraud))
    rows.sort()
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, (at, customer, terminal, amount, fraud) in enumerate(rows):
            writer.writerow([index, at.isoformat(), customer, terminal, amount, fraud])


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv.gz"
    synthetic_history(path)
    return path


WINDOWS = backtest.Windows(
    train_from=date(2026, 1, 10),
    train_to=date(2026, 1, 16),
    test_from=date(2026, 1, 24),
    test_to=date(2026, 1, 30),
    delay_days=7,
)


def test_the_backtest_learns_the_planted_fraud_and_scores_every_test_transaction(
    history: Path,
) -> None:
    result = backtest.run(backtest.read_transactions(history), WINDOWS)

    assert result.train_frauds > 0
    assert len(result.test_ids) == len(result.test_scores) > 0
    assert result.auc_roc > 0.9  # five times the usual amount, a compromised terminal: clear
    assert result.average_precision > 0.7
    assert result.model.trained_from == "2026-01-10"


def test_the_command_writes_a_score_per_test_transaction_and_prints_the_figures(
    history: Path, tmp_path: Path
) -> None:
    scores = tmp_path / "scores.csv"
    outcome = CliRunner().invoke(
        app,
        [
            "risk", "backtest", "--transactions", str(history),
            "--train-from", "2026-01-10", "--train-to", "2026-01-16",
            "--test-from", "2026-01-24", "--test-to", "2026-01-30",
            "--label-delay-days", "7", "--scores", str(scores),
        ],
    )  # fmt: skip

    assert outcome.exit_code == 0, outcome.output
    figures = json.loads(outcome.output.strip().splitlines()[-1])
    assert set(figures) >= {"auc_roc", "average_precision", "card_precision_at_100"}
    with scores.open() as handle:
        written = list(csv.DictReader(handle))
    assert figures["test_events"] == len(written)
    assert all(0.0 <= float(row["score"]) <= 1.0 for row in written)


def test_a_test_window_before_the_training_labels_are_known_is_refused() -> None:
    with pytest.raises(ValueError, match="labels are known"):
        backtest.Windows(
            date(2026, 1, 10), date(2026, 1, 16), date(2026, 1, 20), date(2026, 1, 26), 7
        )


def test_a_file_without_the_columns_is_refused_with_their_names(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("id,when,amount\n1,2026-01-01T00:00:00,3\n")

    with pytest.raises(ValueError, match="customer_id"):
        list(backtest.read_transactions(path))


def test_the_command_refuses_a_bad_date_without_a_traceback(history: Path, tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        app,
        [
            "risk", "backtest", "--transactions", str(history),
            "--train-from", "2026-13-01", "--train-to", "2026-01-16",
            "--test-from", "2026-01-24", "--test-to", "2026-01-30",
            "--scores", str(tmp_path / "s.csv"),
        ],
    )  # fmt: skip

    assert outcome.exit_code == 2
    assert "not a date" in outcome.output
    assert not (tmp_path / "s.csv").exists()


def test_card_precision_counts_the_top_cards_of_each_day_and_leaves_out_cards_caught_before() -> (
    None
):
    # day 0: card a (fraud) ranks first; day 1: a is left out, b (fraud) ranks first
    days = [0, 0, 0, 1, 1, 1]
    cards = ["a", "b", "c", "a", "b", "c"]
    labels = [1, 0, 0, 1, 1, 0]
    scores = [0.9, 0.1, 0.5, 0.99, 0.8, 0.7]

    assert metrics.card_precision_at_k(days, cards, labels, scores, k=1) == 1.0
    assert metrics.card_precision_at_k(days, cards, labels, scores, k=2) == pytest.approx(0.5)


def test_auc_and_average_precision_of_a_perfect_and_a_reversed_ranking() -> None:
    labels = np.array([0, 0, 1, 1])
    assert metrics.auc_roc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert metrics.auc_roc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert metrics.average_precision(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
