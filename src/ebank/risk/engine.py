"""The real-time engine behind ``risk.assess(event)``: features, rules, model, one decision.

For each event: its features from the feature store (:func:`ebank.risk.store.observe`, which
also records it), the live rules that match, the model's score placed in the policy's bands; the
decision is the most severe of them, with every reason that led there. Shadow rules are evaluated
and reported but decide nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ebank.policy import RiskPolicy
from ebank.risk.assessment import Decision, EventKind, Outcome, Reason, RiskEvent
from ebank.risk.features import Observation
from ebank.risk.model import RiskModel
from ebank.risk.rules import RuleSet
from ebank.risk.store import FeatureStore, observe


class Decided:
    """The latest payments' assessments by id (bounded): asked again, the same answer."""

    def __init__(self, size: int = 10_000) -> None:
        self._entries: OrderedDict[str, Assessment] = OrderedDict()
        self._size = size

    def get(self, key: str) -> Assessment | None:
        return self._entries.get(key) if key else None

    def put(self, key: str, assessment: Assessment) -> None:
        if not key:
            return
        self._entries[key] = assessment
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


SEVERITY = {Outcome.ALLOW: 0, Outcome.CHALLENGE: 1, Outcome.HOLD: 2, Outcome.BLOCK: 3}
MODEL_REASON = Reason("model_score", "The transaction resembles confirmed fraud.")


@dataclass(frozen=True)
class Assessment:
    """A decision with what the analyst needs to understand it."""

    decision: Decision
    features: dict[str, float]
    rules: tuple[str, ...]  # live rules that matched
    shadow_rules: tuple[str, ...] = ()
    reason_texts: dict[str, dict[str, str]] = field(default_factory=dict)  # code → language → text


def observation_of(event: RiskEvent) -> Observation:
    """The event as the feature store sees it; a payment keeps its id, so that confirming it
    again (a new code asked for, a retried request) does not count it twice."""
    return Observation(
        id=str(event.details.get("payment", "")) if event.kind is EventKind.PAYMENT else "",
        kind=event.kind.value,
        customer=str(event.customer_id),
        at=event.at.timestamp(),
        amount=float(event.amount or 0),
        payee=event.payee_key,
        device=None if event.device_id is None else str(event.device_id),
        ip=event.ip,
        channel=event.channel,
        balance_before=None if event.balance_before is None else float(event.balance_before),
    )


def model_outcome(score: float, policy: RiskPolicy) -> Outcome:
    if score >= policy.block_score:
        return Outcome.BLOCK
    if score >= policy.hold_score:
        return Outcome.HOLD
    if score >= policy.challenge_score:
        return Outcome.CHALLENGE
    return Outcome.ALLOW


class RiskEngine:
    def __init__(
        self,
        store: FeatureStore,
        rules: RuleSet,
        policy: RiskPolicy,
        *,
        model: RiskModel | None = None,
        shadow: RuleSet | None = None,
        lock: threading.Lock | None = None,
        decided: Decided | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.shadow = shadow or RuleSet(())
        self.policy = policy
        self.model = model
        # One event at a time: its features must see the one before it. An engine rebuilt with
        # new rules over the same store shares the lock and the payments already decided.
        self._lock = lock or threading.Lock()
        self._decided = decided if decided is not None else Decided()

    def assess(self, event: RiskEvent) -> Decision:
        return self.examine(event).decision

    def examine(self, event: RiskEvent) -> Assessment:
        observation = observation_of(event)
        with self._lock:
            known = self._decided.get(observation.id)
            if known is not None:
                return known
            features = observe(self.store, observation)
            assessment = self._decide(observation, features)
            self._decided.put(observation.id, assessment)
            return assessment

    def _decide(self, observation: Observation, features: dict[str, float]) -> Assessment:
        values: dict[str, float | str | None] = {
            **features,
            "kind": observation.kind,
            "channel": observation.channel,
        }
        matched = self.rules.matching(values)
        outcome = Outcome.ALLOW
        reasons: list[Reason] = []
        texts: dict[str, dict[str, str]] = {}
        for rule in matched:
            outcome = max(outcome, rule.outcome, key=SEVERITY.__getitem__)
            reasons.append(Reason(rule.id, rule.reasons["en"]))
            texts[rule.id] = dict(rule.reasons)
        score = None
        if self.model is not None and observation.kind == "payment":
            score = self.model.score(features)
            scored = model_outcome(score, self.policy)
            if scored is not Outcome.ALLOW:
                outcome = max(outcome, scored, key=SEVERITY.__getitem__)
                reasons.append(MODEL_REASON)
        rule_ids = tuple(rule.id for rule in matched)
        shadow_ids = tuple(rule.id for rule in self.shadow.matching(values))
        evidence = None
        if outcome is not Outcome.ALLOW or shadow_ids:
            evidence = {"features": features, "rules": rule_ids, "shadow_rules": shadow_ids}
        return Assessment(
            decision=Decision(outcome, tuple(reasons), score, evidence),
            features=features,
            rules=rule_ids,
            shadow_rules=shadow_ids,
            reason_texts=texts,
        )
