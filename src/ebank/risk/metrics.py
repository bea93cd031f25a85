"""How well scores separate fraud: the card-fraud handbook's protocol (its Chapter 3).

AUC ROC and average precision over transactions; **card precision@k** per day: each card's highest
score that day (and whether it had any fraud), the top k cards, the share of them that were
compromised — leaving out cards already caught on earlier days — averaged over the days.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def auc_roc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(average_precision_score(labels, scores))


def card_precision_at_k(
    days: Sequence[int],
    cards: Sequence[str],
    labels: Sequence[int],
    scores: Sequence[float],
    k: int,
) -> float:
    by_day: dict[int, dict[str, tuple[float, int]]] = {}
    for day, card, label, score in zip(days, cards, labels, scores, strict=True):
        cards_of_day = by_day.setdefault(day, {})
        best, fraud = cards_of_day.get(card, (-np.inf, 0))
        cards_of_day[card] = (max(best, score), max(fraud, label))
    caught: set[str] = set()
    precisions = []
    for day in sorted(by_day):
        candidates = [(score, card, fraud) for card, (score, fraud) in by_day[day].items()]
        candidates = [entry for entry in candidates if entry[1] not in caught]
        top = sorted(candidates, key=lambda entry: -entry[0])[:k]
        hits = [card for _, card, fraud in top if fraud]
        precisions.append(len(hits) / k)
        caught.update(hits)
    return float(np.mean(precisions)) if precisions else 0.0
