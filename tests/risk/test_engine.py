"""The engine: one decision from the rules and the model, with every reason behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from ebank.policy import RiskPolicy
from ebank.risk.assessment import EventKind, Outcome, RiskEvent
from ebank.risk.engine import RiskEngine, model_outcome, observation_of
from ebank.risk.model import RiskModel, train
from ebank.risk.rules import FEATURES, RuleSet, parse_rule_set
from ebank.risk.store import MemoryStore

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
POLICY = RiskPolicy(challenge_score=0.3, hold_score=0.7, block_score=0.95)


def rules(*entries: tuple[str, str, str]) -> RuleSet:
    if not entries:
        return parse_rule_set("rules: []")
    text = "rules:\n" + "".join(
        f"  - id: {rule_id}\n    when: {when}\n    outcome: {outcome}\n"
        f"    reason: {{en: Because {rule_id}., zh-CN: 因为{rule_id}。}}\n"
        for rule_id, when, outcome in entries
    )
    return parse_rule_set(text)


def payment(amount: int, *, at: datetime = NOW, customer: int = 1) -> RiskEvent:
    return RiskEvent(
        kind=EventKind.PAYMENT,
        customer_id=customer,
        at=at,
        channel="mobile",
        amount=amount,
        balance_before=1_000_000,
        payee_key="payee-1",
        device_id=7,
        ip="10.0.0.1",
    )


def amount_model() -> RiskModel:
    """A model that learnt that amounts above 5,000.00 are fraud."""
    names = sorted(FEATURES)
    chance = np.random.default_rng(3)
    amounts = chance.uniform(0, 1_000_000, 4000)
    matrix = np.zeros((len(amounts), len(names)))
    matrix[:, names.index("amount")] = amounts
    return train(names, matrix, (amounts > 500_000).astype(int), rounds=100)


def test_with_nothing_abnormal_the_payment_is_allowed() -> None:
    engine = RiskEngine(
        MemoryStore(), rules(("big", "{field: amount, op: '>', value: 900000}", "hold")), POLICY
    )

    decision = engine.assess(payment(10_000))

    assert decision.outcome is Outcome.ALLOW
    assert decision.reasons == ()


def test_the_most_severe_matching_rule_decides_and_every_matching_rule_is_a_reason() -> None:
    engine = RiskEngine(
        MemoryStore(),
        rules(
            ("over_1000", "{field: amount, op: '>=', value: 100000}", "challenge"),
            ("over_5000", "{field: amount, op: '>=', value: 500000}", "hold"),
            ("mobile", "{field: channel, op: '==', value: counter}", "block"),
        ),
        POLICY,
    )

    examined = engine.examine(payment(600_000))

    assert examined.decision.outcome is Outcome.HOLD
    assert [reason.code for reason in examined.decision.reasons] == ["over_1000", "over_5000"]
    assert examined.reason_texts["over_5000"]["zh-CN"] == "因为over_5000。"
    assert examined.features["amount"] == 600_000


def test_shadow_rules_are_reported_but_decide_nothing() -> None:
    engine = RiskEngine(
        MemoryStore(),
        rules(),
        POLICY,
        shadow=rules(("trial", "{field: amount, op: '>', value: 0}", "block")),
    )

    examined = engine.examine(payment(100))

    assert examined.decision.outcome is Outcome.ALLOW
    assert examined.shadow_rules == ("trial",)


def test_the_model_score_falls_in_the_policy_bands() -> None:
    engine = RiskEngine(MemoryStore(), rules(), POLICY, model=amount_model())

    low = engine.assess(payment(10_000))
    high = engine.assess(payment(900_000, at=NOW + timedelta(minutes=1)))

    assert low.outcome is Outcome.ALLOW
    assert low.score is not None
    assert low.score < 0.3
    assert high.outcome in (Outcome.HOLD, Outcome.BLOCK)
    assert [reason.code for reason in high.reasons] == ["model_score"]


def test_each_event_sees_the_ones_before_it() -> None:
    engine = RiskEngine(
        MemoryStore(),
        rules(("second", "{field: customer_count_1h, op: '>=', value: 1}", "challenge")),
        POLICY,
    )

    assert engine.assess(payment(100)).outcome is Outcome.ALLOW
    assert engine.assess(payment(100, at=NOW + timedelta(minutes=5))).outcome is Outcome.CHALLENGE


@pytest.mark.parametrize(
    ("score", "outcome"),
    [
        (0.0, Outcome.ALLOW),
        (0.2999, Outcome.ALLOW),
        (0.3, Outcome.CHALLENGE),
        (0.7, Outcome.HOLD),
        (0.95, Outcome.BLOCK),
        (1.0, Outcome.BLOCK),
    ],
)
def test_score_bands_include_their_lower_edge(score: float, outcome: Outcome) -> None:
    assert model_outcome(score, POLICY) is outcome


def test_score_bands_must_rise() -> None:
    with pytest.raises(ValidationError, match="score bands rise"):
        RiskPolicy(challenge_score=0.8, hold_score=0.5, block_score=0.9)


def test_the_single_row_score_is_the_booster_s_own_prediction() -> None:
    model = amount_model()
    rows = [{"amount": float(amount)} for amount in (0, 250_000, 499_000, 510_000, 990_000)]

    one_by_one = [model.score(row) for row in rows]

    assert one_by_one == pytest.approx(model.score_matrix(model.matrix(rows)).tolist(), abs=1e-12)


def test_a_saved_model_scores_as_the_original() -> None:
    model = amount_model()
    model.trained_from, model.trained_to = "2026-01-01", "2026-01-07"

    copy = RiskModel.load(model.dump())

    assert copy.score({"amount": 700_000.0}) == pytest.approx(model.score({"amount": 700_000.0}))
    assert (copy.trained_from, copy.trained_to) == ("2026-01-01", "2026-01-07")


def test_an_event_becomes_an_observation_without_the_payees_account_number() -> None:
    observation = observation_of(payment(12_345))

    assert observation.customer == "1"
    assert observation.payee == "payee-1"  # the keyed hash, never the number
    assert observation.device == "7"
    assert observation.at == NOW.timestamp()
    assert observation.balance_before == 1_000_000
