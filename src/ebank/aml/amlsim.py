"""Measuring the typologies on an IBM AMLSim sample (``ebank aml evaluate-amlsim``).

The sample's ``nodes.csv`` (``nodeid,isFraud,init_balance,fraudStep``) and ``transactions.csv``
(``sourceNodeId,targetNodeId,value,time``; ``time`` a day step) become the scan's tables: each
account is a person of its own, each transaction a transfer on day ``BASE_DAY + time``, amounts
with two decimals in minor units. The same detectors run over it, with the profile's
``aml.evaluation.amlsim`` parameters (AMLSim's amounts have no currency, so the bank's amount
thresholds mean nothing there). An account is flagged when it takes part in any detected pattern;
precision, recall and F1 are counted per account against ``isFraud``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from ebank.aml.dataset import scan_database
from ebank.aml.typologies import Context, Days, Hit, detectors, with_flows
from ebank.policy import LargeValuePolicy, TypologyParams

BASE_DAY = date(2017, 1, 1)  # AMLSim's default base date; only differences between days matter
SCALE = 100  # AMLSim's values carry two decimals


@dataclass(frozen=True)
class Evaluation:
    accounts: int
    laundering: int
    flagged: int
    true_positives: int
    hits_by_typology: dict[str, int]

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.laundering if self.laundering else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def sample_files(directory: Path) -> tuple[Path, Path]:
    """``nodes.csv`` and ``transactions.csv`` in ``directory`` or the one folder inside it (the
    sample's archive unpacks into a folder of its own name)."""
    for folder in (directory, *sorted(p for p in directory.iterdir() if p.is_dir())):
        nodes, transactions = folder / "nodes.csv", folder / "transactions.csv"
        if nodes.is_file() and transactions.is_file():
            return nodes, transactions
    raise FileNotFoundError(f"no nodes.csv and transactions.csv in {directory}")


def load_sample(con: duckdb.DuckDBPyConnection, nodes: Path, transactions: Path) -> Days:
    con.execute(
        """
        INSERT INTO flows
        SELECT 'amlsim-' || row_number() OVER (), ?::TIMESTAMP + to_days(time::INTEGER),
               ?::DATE + time::INTEGER, sourceNodeId, targetNodeId,
               round(value * ?)::BIGINT, '', 'transfer', false, false
        FROM read_csv(?, header = true)
        """,
        [BASE_DAY, BASE_DAY, SCALE, str(transactions)],
    )
    con.execute(
        """
        INSERT INTO parties
        SELECT nodeid, nodeid, 'individual', NULL, NULL, NULL, ?::DATE
        FROM read_csv(?, header = true)
        """,
        [BASE_DAY, str(nodes)],
    )
    first, last = con.execute("SELECT min(day), max(day) FROM flows").fetchone() or (None, None)
    if first is None or last is None:
        raise ValueError(f"{transactions} holds no transactions")
    return Days(first, last)


def evaluate(
    directory: Path,
    params: TypologyParams,
    thresholds: LargeValuePolicy,
    *,
    alerts_csv: Path,
    progress: Callable[[str], None] = lambda _name: None,
) -> Evaluation:
    """Run the typologies over the sample, write ``account_id,flagged,score,typologies`` for every
    account to ``alerts_csv`` and count the flagged accounts against the labels."""
    nodes, transactions = sample_files(directory)
    con = scan_database()
    ctx = Context(con, load_sample(con, nodes, transactions), SCALE, thresholds)
    hits: list[Hit] = []
    for name, detect in detectors(params).items():
        progress(name)
        hits += detect(ctx)
    hits = with_flows(ctx, hits)
    labels = dict(
        con.execute(
            "SELECT nodeid, isFraud FROM read_csv(?, header = true)", [str(nodes)]
        ).fetchall()
    )
    flagged = _flagged_accounts(hits)
    _write_alerts(alerts_csv, labels, flagged)
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.typology] = counts.get(hit.typology, 0) + 1
    return Evaluation(
        accounts=len(labels),
        laundering=sum(1 for v in labels.values() if v),
        flagged=len(flagged),
        true_positives=sum(1 for a in flagged if labels.get(a)),
        hits_by_typology=counts,
    )


def _flagged_accounts(hits: list[Hit]) -> dict[int, tuple[float, set[str]]]:
    flagged: dict[int, tuple[float, set[str]]] = {}
    for hit in hits:
        for account in hit.members:
            score, names = flagged.get(account, (0.0, set()))
            flagged[account] = (max(score, hit.score), names | {hit.typology})
    return flagged


def _write_alerts(
    path: Path, labels: dict[int, int], flagged: dict[int, tuple[float, set[str]]]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("account_id", "flagged", "score", "typologies"))
        for account in sorted(labels):
            score, names = flagged.get(account, (0.0, set()))
            writer.writerow(
                (account, int(account in flagged), f"{score:.4f}", ";".join(sorted(names)))
            )
