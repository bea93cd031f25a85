"""The fraud model: gradient-boosted trees (LightGBM) over the online features.

Trained on the features as they were computed when each event happened (the same
:func:`~ebank.risk.features.features_of` live scoring uses), labelled by what was confirmed later.
A :class:`RiskModel` carries its feature names, its training window and its metrics, and turns a
feature dictionary into a probability of fraud; :meth:`RiskModel.explain` names the features that
pushed a score up, for the analyst.
"""

from __future__ import annotations

import ctypes
import json
import operator
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from lightgbm import basic as _basic

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
# LightGBM's C library and its call wrapper: the single-row entry point has no Python API.
_lightgbm: Any = _basic


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
        """One event's score, by LightGBM's single-row C entry point: ``Booster.predict``
        spends ~60 µs per call preparing a batch, this ~15 µs."""
        try:
            values = self._pick(row)
        except KeyError:  # a model trained on features this engine no longer computes
            values = tuple(row.get(name, 0.0) for name in self.features)
        return self._single_row().predict(values)

    @property
    def _pick(self) -> Callable[[Mapping[str, float]], tuple[float, ...]]:
        pick = self.__dict__.get("_picker")
        if pick is None:
            pick = operator.itemgetter(*self.features)
            self.__dict__["_picker"] = pick
        return pick

    def _single_row(self) -> _SingleRowPredictor:
        predictor = self.__dict__.get("_predictor")
        if predictor is None:
            predictor = _SingleRowPredictor(self.booster, len(self.features))
            self.__dict__["_predictor"] = predictor
        return predictor

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


class _SingleRowPredictor:
    """LightGBM's ``FastConfig`` for one row at a time (its output buffer is shared: one call at
    a time)."""

    PREDICT_NORMAL = 0
    FLOAT64 = 1

    def __init__(self, booster: lgb.Booster, columns: int) -> None:
        self._booster = booster  # the config points into it
        self._config = ctypes.c_void_p()
        _lightgbm._safe_call(
            _lightgbm._LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(self.PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(self.FLOAT64),
                ctypes.c_int32(columns),
                _lightgbm._c_str("num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        # The row and the result live in buffers made once; each call only fills the row.
        self._row = np.zeros(columns, dtype=np.float64)
        self._out = np.zeros(1, dtype=np.float64)
        self._arguments = (
            self._config,
            self._row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(ctypes.c_int64()),
            self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
        self._predict = _lightgbm._LIB.LGBM_BoosterPredictForMatSingleRowFast
        self._lock = threading.Lock()

    def predict(self, values: Sequence[float]) -> float:
        with self._lock:
            self._row[:] = values
            _lightgbm._safe_call(self._predict(*self._arguments))
            return float(self._out[0])

    def __del__(self) -> None:
        if self._config:
            _lightgbm._LIB.LGBM_FastConfigFree(self._config)


def train(
    features: list[str], matrix: np.ndarray, labels: np.ndarray, *, rounds: int = ROUNDS
) -> RiskModel:
    if labels.sum() == 0 or labels.sum() == len(labels):
        raise ValueError("training needs both frauds and genuine events")
    dataset = lgb.Dataset(matrix, label=labels, feature_name=features, free_raw_data=True)
    booster = lgb.train(TRAINING_PARAMETERS, dataset, num_boost_round=rounds)
    return RiskModel(booster=booster, features=features)
