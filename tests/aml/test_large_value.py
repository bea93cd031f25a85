"""Large-value transaction reports: each criterion exactly at its threshold and just under it,
same-day accumulation, and the five-working-day deadline over holidays."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from tests.aml.book import POLICY, Book

from ebank.aml.calendar import calendar_for
from ebank.aml.large_value import LargeValueHit, report_deadline
from ebank.config import PROJECT_ROOT
from ebank.policy import PolicyError, load_policy_file

DAY = date(2026, 6, 2)  # a Tuesday
CN = calendar_for(PROJECT_ROOT / "policies", POLICY.calendar)


def _one_movement(
    kind: str, yuan: float, *, cash: bool = False, cross_border: bool = False
) -> list[LargeValueHit]:
    book = Book()
    customer = book.party(1, kind)
    other = book.party(2, "company")
    book.pay(customer, None if cash else other, yuan, DAY, cash=cash, cross_border=cross_border)
    return [h for h in book.large_value(DAY) if h.customer == customer]


@pytest.mark.parametrize(
    ("kind", "threshold", "cash", "cross_border", "criterion"),
    [
        ("individual", 50_000, True, False, "cash"),
        ("company", 50_000, True, False, "cash"),
        ("company", 2_000_000, False, False, "company_transfer"),
        ("individual", 500_000, False, False, "individual_domestic"),
        ("individual", 200_000, False, True, "individual_cross_border"),
    ],
)
def test_each_criterion_at_and_just_under_its_threshold(
    kind: str, threshold: int, cash: bool, cross_border: bool, criterion: str
) -> None:
    [hit] = _one_movement(kind, threshold, cash=cash, cross_border=cross_border)
    assert (hit.criterion, hit.direction, hit.total, hit.count) == (
        criterion,
        "out",
        threshold * 100,
        1,
    )
    assert _one_movement(kind, threshold - 0.01, cash=cash, cross_border=cross_border) == []


def test_same_day_movements_add_up_per_customer_across_accounts() -> None:
    book = Book()
    current = book.party(1, customer=7)
    savings = book.party(2, customer=7)
    other = book.party(3)
    first = book.pay(current, other, 300_000, DAY, hour=9)
    second = book.pay(savings, other, 200_000, DAY, hour=15)
    hits = [h for h in book.large_value(DAY) if h.customer == 7]
    assert [(h.total, h.accounts, h.transfer_ids) for h in hits] == [
        (500_000 * 100, (current, savings), (first, second))
    ]


def test_money_in_and_money_out_are_counted_apart() -> None:
    book = Book()
    person, other = book.party(1), book.party(2, "company")
    book.pay(other, person, 300_000, DAY)
    book.pay(person, other, 300_000, DAY)
    assert [h for h in book.large_value(DAY) if h.customer == person] == []


def test_movements_on_two_days_do_not_add_up() -> None:
    book = Book()
    person, other = book.party(1), book.party(2, "company")
    book.pay(person, other, 300_000, DAY)
    book.pay(person, other, 300_000, DAY + timedelta(days=1))
    assert [h for h in book.large_value(DAY, DAY + timedelta(days=1)) if h.customer == 1] == []


def test_the_receiving_customer_is_reported_too() -> None:
    book = Book()
    company, person = book.party(1, "company"), book.party(2)
    book.pay(company, person, 1_200_000, DAY)
    hits = {(h.customer, h.criterion, h.direction) for h in book.large_value(DAY)}
    assert hits == {(person, "individual_domestic", "in")}  # under the company's 2,000,000


@pytest.mark.parametrize(
    ("transaction_day", "deadline"),
    [
        (date(2026, 6, 2), date(2026, 6, 9)),  # an ordinary week
        (date(2026, 9, 30), date(2026, 10, 13)),  # National Day; Saturday 10 October is worked
        (date(2026, 10, 3), date(2026, 10, 13)),  # on a holiday itself
        (date(2026, 2, 12), date(2026, 2, 26)),  # Spring Festival; Saturday 14 February is worked
    ],
)
def test_deadline_is_five_working_days_on_the_holiday_calendar(
    transaction_day: date, deadline: date
) -> None:
    assert report_deadline(CN, transaction_day, POLICY.large_value.report_working_days) == deadline


@pytest.mark.parametrize("currency", ["usd", "XYZ", "CNY"])
def test_foreign_thresholds_need_a_known_foreign_currency_code(
    tmp_path: Path, currency: str
) -> None:
    document = yaml.safe_load((PROJECT_ROOT / "policies" / "cn.yaml").read_text("utf-8"))
    usd = document["aml"]["large_value"]["foreign"].pop("USD")
    document["aml"]["large_value"]["foreign"][currency] = usd
    path = tmp_path / "cn.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    with pytest.raises(PolicyError, match="large_value"):
        load_policy_file(path)
