"""Risk rules: a small declarative language, parsed and checked before a rule set can be used.

A rule set is YAML (or JSON) — data, never code: nothing in it is evaluated by Python.

.. code-block:: yaml

    rules:
      - id: new_service_then_whole_balance
        when:
          all:
            - {field: kind, op: "==", value: payment}
            - {field: since_new_service, op: between, value: [0, 86400]}
            - {field: amount_to_balance, op: ">=", value: 0.9}
        outcome: hold
        reason:
          en: Almost the whole balance leaves right after a new service was opened.
          zh-CN: 开通新业务后随即转出几乎全部余额。

A condition is ``all: [...]``, ``any: [...]``, ``not: {...}`` or a comparison of a *field* — a
feature (:func:`ebank.risk.features.features_of`, a number) or an event field (kind, channel, …) —
with a constant. :func:`parse_rule_set` refuses, with every problem it finds named by its place,
unknown fields, operators that do not fit the field's type, constants of the wrong type, unknown
outcomes, missing reasons in either language and duplicate ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from ebank.risk.assessment import EventKind, Outcome
from ebank.risk.features import Observation, Snapshot, features_of

LANGUAGES = ("en", "zh-CN")
MAX_DEPTH = 8


class FieldType(StrEnum):
    NUMBER = "number"
    TEXT = "text"


# Every feature is a number; the list comes from the one definition, not from a second copy.
FEATURES: frozenset[str] = frozenset(
    features_of(Observation(id="", kind="payment", customer="", at=0.0), Snapshot())
)
EVENT_FIELDS: dict[str, FieldType] = {
    "kind": FieldType.TEXT,
    "channel": FieldType.TEXT,
}
TEXT_VALUES: dict[str, frozenset[str]] = {
    "kind": frozenset(kind.value for kind in EventKind),
    "channel": frozenset({"online", "mobile", "phone", "tv", "counter"}),
}

NUMBER_OPERATORS = frozenset({"<", "<=", ">", ">=", "==", "!=", "between"})
TEXT_OPERATORS = frozenset({"==", "!=", "in", "not in"})


class RuleError(ValueError):
    """A rule set that cannot be used; ``problems`` names each one by its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


Values = Mapping[str, float | str | None]
Test = Callable[[Values], bool]


@dataclass(frozen=True)
class Rule:
    id: str
    outcome: Outcome
    reasons: Mapping[str, str]
    test: Test
    fields: frozenset[str]

    def matches(self, values: Values) -> bool:
        return self.test(values)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def matching(self, values: Values) -> list[Rule]:
        return [rule for rule in self.rules if rule.matches(values)]


def field_type(name: str) -> FieldType | None:
    if name in FEATURES:
        return FieldType.NUMBER
    return EVENT_FIELDS.get(name)


def parse_rule_set(text: str) -> RuleSet:
    """The rule set in ``text`` (YAML or JSON), checked; :class:`RuleError` lists what is wrong."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RuleError([f"not valid YAML or JSON{where}"]) from exc
    except RecursionError as exc:
        raise RuleError([f"nested deeper than {MAX_DEPTH} levels"]) from exc
    problems: list[str] = []
    try:
        rules = _rules(document, problems)
    except (TypeError, RecursionError) as exc:  # a structure no rule set has (keys, nesting)
        raise RuleError(["the rule set's structure is not understood"]) from exc
    if problems:
        raise RuleError(problems)
    return RuleSet(tuple(rules))


def rule_set_json(text: str) -> str:
    """The checked rule set as canonical JSON (what gets stored and compared between versions)."""
    parse_rule_set(text)
    return json.dumps(yaml.safe_load(text), ensure_ascii=False, sort_keys=True)


def _rules(document: Any, problems: list[str]) -> list[Rule]:
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        problems.append("a rule set is a mapping with a list of rules under 'rules'")
        return []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["rules"]):
        place = f"rules[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{place}: a rule is a mapping")
            continue
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip():
            problems.append(f"{place}.id: required text")
        elif rule_id in seen:
            problems.append(f"{place}.id: {rule_id!r} is used twice")
        else:
            seen.add(rule_id)
            place = f"rule {rule_id!r}"
        unknown = set(entry) - {"id", "when", "outcome", "reason", "description"}
        if unknown:
            problems.append(f"{place}: unknown keys {', '.join(sorted(map(str, unknown)))}")
        outcome = _outcome(entry.get("outcome"), place, problems)
        reasons = _reasons(entry.get("reason"), place, problems)
        fields: set[str] = set()
        test = _condition(entry.get("when"), f"{place}.when", problems, fields, depth=0)
        if outcome is not None and reasons is not None and test is not None:
            rules.append(Rule(str(rule_id), outcome, reasons, test, frozenset(fields)))
    return rules


def _outcome(value: Any, place: str, problems: list[str]) -> Outcome | None:
    allowed = [outcome.value for outcome in Outcome if outcome is not Outcome.ALLOW]
    if value not in allowed:
        problems.append(f"{place}.outcome: one of {', '.join(allowed)}")
        return None
    return Outcome(value)


def _reasons(value: Any, place: str, problems: list[str]) -> dict[str, str] | None:
    if not isinstance(value, dict):
        problems.append(f"{place}.reason: a message for each of {', '.join(LANGUAGES)}")
        return None
    missing = [
        lang for lang in LANGUAGES if not isinstance(value.get(lang), str) or not value[lang]
    ]
    if missing:
        problems.append(f"{place}.reason: missing {', '.join(missing)}")
        return None
    return {lang: value[lang] for lang in LANGUAGES}


def _condition(
    node: Any, place: str, problems: list[str], fields: set[str], depth: int
) -> Test | None:
    if depth > MAX_DEPTH:
        problems.append(f"{place}: conditions nest deeper than {MAX_DEPTH}")
        return None
    if not isinstance(node, dict):
        problems.append(f"{place}: a condition (all, any, not, or field/op/value)")
        return None
    if set(node) in ({"all"}, {"any"}):
        parts = node.get("all", node.get("any"))
        if not isinstance(parts, list) or not parts:
            problems.append(f"{place}: '{next(iter(node))}' takes a non-empty list")
            return None
        tests = [
            _condition(part, f"{place}[{i}]", problems, fields, depth + 1)
            for i, part in enumerate(parts)
        ]
        if any(test is None for test in tests):
            return None
        checked = tuple(test for test in tests if test is not None)
        return _all_of(checked) if "all" in node else _any_of(checked)
    if set(node) == {"not"}:
        inner = _condition(node["not"], f"{place}.not", problems, fields, depth + 1)
        return None if inner is None else (lambda values: not inner(values))
    return _comparison(node, place, problems, fields)


def _all_of(tests: tuple[Test, ...]) -> Test:
    # Plain loops, not all()/any() over a generator: rules run on every payment.
    def test(values: Values) -> bool:
        for part in tests:  # noqa: SIM110
            if not part(values):
                return False
        return True

    return test


def _any_of(tests: tuple[Test, ...]) -> Test:
    def test(values: Values) -> bool:
        for part in tests:  # noqa: SIM110
            if part(values):
                return True
        return False

    return test


def _comparison(
    node: dict[str, Any], place: str, problems: list[str], fields: set[str]
) -> Test | None:
    if set(node) != {"field", "op", "value"}:
        problems.append(f"{place}: a comparison has exactly field, op and value")
        return None
    name, op, value = node["field"], node["op"], node["value"]
    kind = field_type(name) if isinstance(name, str) else None
    if kind is None:
        problems.append(f"{place}.field: unknown field {name!r}")
        return None
    if not isinstance(op, str):
        problems.append(f"{place}.op: an operator is text, not {type(op).__name__}")
        return None
    fields.add(name)
    if kind is FieldType.NUMBER:
        return _number_test(name, op, value, place, problems)
    return _text_test(name, op, value, place, problems)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_test(name: str, op: Any, value: Any, place: str, problems: list[str]) -> Test | None:
    if op not in NUMBER_OPERATORS:
        problems.append(
            f"{place}.op: {name} is a number: one of {', '.join(sorted(NUMBER_OPERATORS))}"
        )
        return None
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
            problems.append(f"{place}.value: 'between' takes [low, high] numbers")
            return None
        low, high = float(value[0]), float(value[1])
        if low > high:
            problems.append(f"{place}.value: low is above high")
            return None
        return lambda values: low <= _number(values, name) <= high
    if not _is_number(value):
        problems.append(f"{place}.value: {name} is a number, {value!r} is not")
        return None
    limit = float(value)
    compare: dict[str, Callable[[float], bool]] = {
        "<": lambda x: x < limit,
        "<=": lambda x: x <= limit,
        ">": lambda x: x > limit,
        ">=": lambda x: x >= limit,
        "==": lambda x: x == limit,
        "!=": lambda x: x != limit,
    }
    test = compare[op]
    return lambda values: test(_number(values, name))


def _number(values: Values, name: str) -> float:
    value = values.get(name)
    return float(value) if isinstance(value, int | float) else float("nan")


def _text_test(name: str, op: Any, value: Any, place: str, problems: list[str]) -> Test | None:
    if op not in TEXT_OPERATORS:
        problems.append(f"{place}.op: {name} is text: one of {', '.join(sorted(TEXT_OPERATORS))}")
        return None
    wanted = value if op in ("in", "not in") else [value]
    if not isinstance(wanted, list) or not all(isinstance(item, str) for item in wanted):
        problems.append(f"{place}.value: {name} takes text{' (a list)' if 'in' in op else ''}")
        return None
    unknown = set(wanted) - TEXT_VALUES.get(name, frozenset(wanted))
    if unknown:
        problems.append(f"{place}.value: {name} is never {', '.join(sorted(unknown))}")
        return None
    accepted = frozenset(wanted)
    if op in ("==", "in"):
        return lambda values: values.get(name) in accepted
    return lambda values: values.get(name) not in accepted
