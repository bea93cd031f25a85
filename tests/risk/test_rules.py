"""The rule language: bad rules are refused before they can be used; good ones decide as written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from ebank.config import PROJECT_ROOT
from ebank.risk.assessment import Outcome
from ebank.risk.features import DAY, HOUR, Observation
from ebank.risk.rules import FEATURES, RuleError, RuleSet, parse_rule_set, rule_set_json
from ebank.risk.store import MemoryStore, observe

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp()  # Monday 10:00 in Beijing

RULE = """
rules:
  - id: big_to_new_payee
    when:
      all:
        - {field: kind, op: "==", value: payment}
        - {field: first_payee, op: "==", value: 1}
        - any:
            - {field: amount, op: ">=", value: 100000}
            - not: {field: channel, op: in, value: [online, mobile]}
    outcome: challenge
    reason: {en: A large payment to a new payee., zh-CN: 向新收款人大额付款。}
"""


def starter() -> RuleSet:
    return parse_rule_set((PROJECT_ROOT / "policies" / "rules" / "starter.yaml").read_text())


def problems_of(text: str) -> list[str]:
    with pytest.raises(RuleError) as refused:
        parse_rule_set(text)
    return refused.value.problems


def with_rule(when: str, outcome: str = "hold") -> str:
    return (
        "rules:\n  - id: r1\n    when: " + when + f"\n    outcome: {outcome}\n"
        "    reason: {en: Why., zh-CN: 原因。}\n"
    )


def test_a_rule_matches_as_written() -> None:
    [rule] = parse_rule_set(RULE).rules
    base = {"kind": "payment", "first_payee": 1.0, "amount": 50_000.0, "channel": "online"}

    assert not rule.matches(base)
    assert rule.matches({**base, "amount": 100_000.0})
    assert rule.matches({**base, "channel": "counter"})
    assert not rule.matches({**base, "first_payee": 0.0, "amount": 900_000.0})
    assert not rule.matches({**base, "kind": "login", "amount": 900_000.0})
    assert rule.outcome is Outcome.CHALLENGE
    assert rule.reasons["zh-CN"] == "向新收款人大额付款。"
    assert rule.fields == {"kind", "first_payee", "amount", "channel"}


def test_between_includes_both_ends_and_never_matches_a_moment_that_never_happened() -> None:
    [rule] = parse_rule_set(
        with_rule("{field: since_new_service, op: between, value: [0, 86400]}")
    ).rules

    assert rule.matches({"since_new_service": 0.0})
    assert rule.matches({"since_new_service": 86400.0})
    assert not rule.matches({"since_new_service": 86401.0})
    assert not rule.matches({"since_new_service": -1.0})  # no new service ever


@pytest.mark.parametrize(
    ("when", "complaint"),
    [
        ("{field: amount_in_dollars, op: '>', value: 1}", "unknown field 'amount_in_dollars'"),
        ("{field: amount, op: '>', value: lots}", "amount is a number, 'lots' is not"),
        ("{field: amount, op: in, value: [1, 2]}", "amount is a number: one of"),
        ("{field: kind, op: '>', value: payment}", "kind is text: one of"),
        ("{field: kind, op: '==', value: paymnet}", "kind is never paymnet"),
        ("{field: amount, op: between, value: [9, 1]}", "low is above high"),
        ("{field: amount, op: between, value: 5}", "'between' takes [low, high] numbers"),
        ("{field: amount, op: '>', value: true}", "amount is a number, True is not"),
        ("{all: []}", "'all' takes a non-empty list"),
        ("{field: amount, op: '>'}", "a comparison has exactly field, op and value"),
        ("__import__('os')", "a condition (all, any, not, or field/op/value)"),
    ],
)
def test_a_bad_condition_is_refused_with_its_place_and_what_is_wrong(
    when: str, complaint: str
) -> None:
    [problem] = problems_of(with_rule(when))

    assert problem.startswith("rule 'r1'.when")
    assert complaint in problem


def test_a_wrong_outcome_a_missing_language_and_a_duplicate_id_are_all_reported() -> None:
    text = """
rules:
  - id: a
    when: {field: amount, op: '>', value: 1}
    outcome: allow
    reason: {en: Why.}
  - id: a
    when: {field: amount, op: '>', value: 1}
    outcome: hold
    reason: {en: Why., zh-CN: 原因。}
"""
    problems = problems_of(text)

    assert "rule 'a'.outcome: one of challenge, hold, block" in problems
    assert "rule 'a'.reason: missing zh-CN" in problems
    assert "rules[1].id: 'a' is used twice" in problems


def test_text_that_is_not_yaml_is_refused_with_its_line() -> None:
    assert problems_of("rules:\n  - id: [unclosed\n") == ["not valid YAML or JSON at line 3"]


def test_conditions_cannot_nest_without_end() -> None:
    deep = "{field: amount, op: '>', value: 1}"
    for _ in range(12):
        deep = "{not: " + deep + "}"

    assert any("nest deeper" in problem for problem in problems_of(with_rule(deep)))


def test_every_feature_a_rule_can_name_is_one_the_engine_computes() -> None:
    assert {"amount", "since_new_service", "payee_fraud_run_length", "first_device"} <= FEATURES


def test_the_canonical_form_of_equal_rule_sets_is_equal() -> None:
    [rule] = yaml.safe_load(RULE)["rules"]
    reordered = {"rules": [{key: rule[key] for key in reversed(list(rule))}]}
    as_json = json.dumps(reordered, ensure_ascii=False)

    assert rule_set_json(RULE) == rule_set_json(as_json)
    assert rule_set_json(RULE) != rule_set_json(RULE.replace("100000", "100001"))


def test_the_starter_rule_set_is_valid_and_covers_the_scenarios() -> None:
    ids = {rule.id for rule in starter().rules}

    assert {
        "new_service_then_whole_balance",
        "security_change_then_transfer",
        "same_payment_again_to_new_payee",
        "fresh_registration_first_transfers",
    } <= ids


def event(kind: str, at: float, **fields: object) -> Observation:
    return Observation(id=f"{kind}-{at}", kind=kind, customer="c1", at=at, **fields)  # type: ignore[arg-type]


def matched(store: MemoryStore, observation: Observation) -> set[str]:
    values = {
        "kind": observation.kind,
        "channel": observation.channel,
        **observe(store, observation),
    }
    return {rule.id for rule in starter().matching(values)}


def test_s2_a_new_service_then_the_whole_balance_moved_is_held() -> None:
    store = MemoryStore()
    observe(
        store,
        event("payment", START - 20 * DAY, amount=5_000, payee="shop", balance_before=1_000_000),
    )
    observe(store, event("new_service", START - 2 * HOUR, channel="online"))
    payment = event(
        "payment", START, amount=995_000, payee="margin", balance_before=1_000_000, channel="online"
    )

    assert "new_service_then_whole_balance" in matched(store, payment)


def test_s4_the_same_amount_again_to_a_new_payee_within_minutes_is_challenged() -> None:
    store = MemoryStore()
    first = event("payment", START, amount=60_000, payee="network-co", channel="online")
    again = event("payment", START + 300, amount=60_000, payee="network-co", channel="online")

    assert "same_payment_again_to_new_payee" not in matched(store, first)
    assert "same_payment_again_to_new_payee" in matched(store, again)


def test_s7_the_first_large_transfer_of_a_fresh_registration_is_held_but_not_a_year_later() -> None:
    fresh, settled = MemoryStore(), MemoryStore()
    observe(fresh, event("registration", START - DAY, channel="online"))
    observe(settled, event("registration", START - 400 * DAY, channel="online"))
    transfer = event("payment", START, amount=10_250_000, payee="mule", channel="online")

    assert "fresh_registration_first_transfers" in matched(fresh, transfer)
    assert "fresh_registration_first_transfers" not in matched(settled, transfer)


def test_s3_a_new_device_and_a_password_change_then_a_large_transfer_is_held() -> None:
    store = MemoryStore()
    observe(store, event("payment", START - 30 * DAY, amount=20_000, payee="shop", device="phone"))
    observe(store, event("new_device", START - 2 * HOUR, device="trojan-phone"))
    observe(store, event("password_change", START - HOUR, device="trojan-phone"))

    large = matched(
        store, event("payment", START, amount=800_000, payee="p1", device="trojan-phone")
    )
    modest = matched(store, event("payment", START + 60, amount=200_000, payee="p2"))
    small = matched(store, event("payment", START + 120, amount=2_000, payee="p3"))

    assert {"security_change_then_transfer", "security_change_new_device_large_transfer"} <= large
    assert modest == {"security_change_then_transfer"}  # stepped up, not held
    assert small == set()


def test_s3_without_a_new_device_a_large_transfer_after_a_password_change_is_only_stepped_up() -> (
    None
):
    store = MemoryStore()
    observe(store, event("password_change", START - HOUR, device="phone"))

    assert matched(store, event("payment", START, amount=800_000, payee="p1", device="phone")) == {
        "security_change_then_transfer"
    }


def test_s3_a_new_device_alone_then_a_large_transfer_is_only_stepped_up() -> None:
    """Customers change phones: a new device without a changed password, tool or limit is not
    enough to hold a payment."""
    store = MemoryStore()
    observe(store, event("new_device", START - HOUR, device="new-phone"))

    assert matched(
        store, event("payment", START, amount=800_000, payee="p1", device="new-phone")
    ) == {"security_change_then_transfer"}
