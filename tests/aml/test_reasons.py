"""Every typology's alert explains itself in both languages, from the facts its detector records."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ebank.aml.reasons import TYPOLOGY_LABELS, explain, typology_label
from ebank.aml.typologies import TYPOLOGIES

Y = 100  # minor units per yuan
FACTS: dict[str, dict[str, Any]] = {
    "pass_through": {"inflow": 1_000_000 * Y, "outflow": 950_000 * Y, "retained": 50_000 * Y},
    "fan_in": {"counterparties": 12, "total": 700_000 * Y},
    "fan_out": {"counterparties": 11, "total": 600_000 * Y},
    "gather_scatter": {"payers": 5, "payees": 6, "inflow": 600_000 * Y, "outflow": 590_000 * Y},
    "concentrated_dispersed": {
        "shape": "dispersed_out",
        "payers": 1,
        "payees": 4,
        "inflow": 4_000_000 * Y,
        "outflow": 4_000_000 * Y,
    },
    "scatter_gather": {"intermediaries": 3, "destination": 2},
    "cycle": {"length": 3, "sent": 100_000 * Y, "returned": 96_000 * Y, "path": [1, 2, 3]},
    "structuring": {"count": 3, "threshold": 50_000 * Y},
    "split_payments": {"payee": 2, "pieces": 3, "total": 60_000 * Y},
    "turnover_vs_profile": {
        "turnover": 1_200_000 * Y,
        "registered_capital": 100_000 * Y,
        "declared_monthly_turnover": None,
        "multiple_of_capital": 12.0,
    },
    "purpose_vs_scope": {"rule": "advertising", "purpose": "广告费", "business_scope": "印刷"},
    "payroll_without_history": {"payees": 3, "average": 1_100_000 * Y},
    "dormant_reactivated": {"dormant_days": 200, "last_activity": "2025-11-13"},
    "shared_identifier": {"identifier": "device", "customers": 3},
}
EXPECTED = {
    ("pass_through", "en"): "CN¥1,000,000.00 came in and CN¥950,000.00 went out within 1 day(s)",
    ("pass_through", "zh-CN"): "转入¥1,000,000.00、转出¥950,000.00，仅留存¥50,000.00",
    ("turnover_vs_profile", "zh-CN"): "为注册资本¥100,000.00的12.0倍",
    ("purpose_vs_scope", "zh-CN"): "资金用途“广告费”与登记的经营范围“印刷”不符",
    ("shared_identifier", "en"): "also used by 2 other customer(s)",
    (
        "cycle",
        "en",
    ): "went round 3 accounts and came back: CN¥100,000.00 sent, CN¥96,000.00 returned",
}


def test_every_typology_has_facts_here_and_a_label() -> None:
    assert set(FACTS) == set(TYPOLOGIES) == set(TYPOLOGY_LABELS)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("typology", sorted(FACTS))
def test_each_reason_is_a_whole_sentence(typology: str, locale: str) -> None:
    text = explain(
        typology,
        FACTS[typology],
        first_day=date(2026, 6, 1),
        last_day=date(2026, 6, 1),
        amount=1_000_000 * Y,
        currency="CNY",
        locale=locale,
    )
    assert "{" not in text
    assert text != typology
    assert typology_label(typology, locale) != typology
    if (typology, locale) in EXPECTED:
        assert EXPECTED[typology, locale] in text
    if locale == "zh-CN":
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_turnover_against_the_declared_turnover_when_no_capital_is_on_file() -> None:
    facts = {
        "turnover": 1_100_000 * Y,
        "registered_capital": None,
        "declared_monthly_turnover": 200_000 * Y,
        "multiple_of_capital": None,
    }
    text = explain(
        "turnover_vs_profile",
        facts,
        first_day=date(2026, 6, 1),
        last_day=date(2026, 6, 30),
        amount=1_100_000 * Y,
        currency="CNY",
        locale="en",
    )
    assert "within 30 days, far above the declared monthly turnover of CN¥200,000.00" in text
