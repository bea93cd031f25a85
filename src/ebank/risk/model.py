"""The fraud model: gradient-boosted trees (LightGBM) over the online features.

Trained on the features as they were computed when each event happened (the same
:func:`~ebank.risk.features.features_of` live scoring uses), labelled by what was confirmed later.
A :class:`RiskModel` carries its feature names, its training window and its metrics, and turns a
feature dictionary into a probability of fraud; :meth:`RiskModel.explain` names the features that
pushed a score up, for the analyst.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

# Measured on the card-fraud test weeks (docs/risk.md): small trees, strong regularisation —
# a week of labels holds a few hundred frauds.
TRAINING_PARAMETERS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 4,
    "min_data_in_leaf": 20,
    "lambda_l2": 5.0,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "verbosity": -1,
    "seed": 7,
    "num_threads": 2,
}
ROUNDS = 500


@dataclass
class RiskModel:
    booster: lgb.Booster
    features: list[str]
    trained_from: str = ""
    trained_to: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([[row.get(name, 0.0) for name in self.features] for row in rows], float)

    def score_matrix(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix), dtype=float)

    def score(self, row: Mapping[str, float]) -> float:
        return float(self.score_matrix(self.matrix([row]))[0])

    def explain(self, row: Mapping[str, float], top: int = 5) -> list[tuple[str, float]]:
        """The features that contributed most to this score (SHAP values, largest first)."""
        contributions = self.booster.predict(self.matrix([row]), pred_contrib=True)[0][:-1]
        ranked = sorted(zip(self.features, contributions, strict=True), key=lambda kv: -kv[1])
        return [(name, float(value)) for name, value in ranked[:top] if value > 0]

    def dump(self) -> str:
        return json.dumps(
            {
                "features": self.features,
                "trained_from": self.trained_from,
                "trained_to": self.trained_to,
                "metrics": self.metrics,
                "booster": self.booster.model_to_string(),
            }
        )

    @classmethod
    def load(cls, text: str) -> RiskModel:
        document = json.loads(text)
        return cls(
            booster=lgb.Booster(model_str=document["booster"]),
            features=document["features"],
            trained_from=document["trained_from"],
            trained_to=document["trained_to"],
            metrics=document["metrics"],
        )


def train(
    features: list[str], matrix: np.ndarray, labels: np.ndarray, *, rounds: int = ROUNDS
) -> RiskModel:
    if labels.sum() == 0 or labels.sum() == len(labels):
        raise ValueError("training needs both frauds and genuine events")
    dataset = lgb.Dataset(matrix, label=labels, feature_name=features, free_raw_data=True)
    booster = lgb.train(TRAINING_PARAMETERS, dataset, num_boost_round=rounds)
    return RiskModel(booster=booster, features=features)
