"""Each typology on a small hand-made book: the pattern it is for, and a near miss it must let
pass. Parameters are the ``cn`` profile's own (the bank's configuration), overridden only where
a test says so."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.aml.book import POLICY, Book

from ebank.aml.typologies import TYPOLOGIES, Hit, lookback_days

D0 = date(2026, 6, 1)  # a Monday


def subjects(hits: list[Hit]) -> set[int]:
    return {h.subject for h in hits}


def test_every_configured_typology_has_a_detector_and_the_scan_looks_back_far_enough() -> None:
    configured = {n for n in type(POLICY.typologies).model_fields if getattr(POLICY.typologies, n)}
    assert configured == set(TYPOLOGIES)
    dormant = POLICY.typologies.dormant_reactivated
    assert dormant is not None
    assert lookback_days(POLICY.typologies) >= dormant.dormant_days + dormant.window_days


# pass-through: 1,000,000 in and 950,000 out the same day (5 % kept; the profile allows 10 %)


def test_pass_through_money_in_and_out_the_same_day() -> None:
    book = Book()
    shell, source, *people = (book.party(n) for n in (1, 2, 3, 4))
    inflow = book.pay(source, shell, 1_000_000, D0, hour=9)
    book.pay(shell, people[0], 500_000, D0, hour=15)
    book.pay(shell, people[1], 450_000, D0, hour=16)
    [hit] = book.run("pass_through", D0)
    assert (hit.subject, hit.first_day, hit.last_day) == (shell, D0, D0)
    assert hit.facts["retained"] == 50_000 * 100
    assert set(hit.members) == {shell, source, *people}
    assert inflow in hit.transfer_ids


@pytest.mark.parametrize(
    ("paid_out", "received"),
    [(850_000, 1_000_000), (150_000, 150_000)],
    ids=["keeps 15 percent", "below the minimum amount"],
)
def test_pass_through_near_misses(paid_out: int, received: int) -> None:
    book = Book()
    shell, source, person = (book.party(n) for n in (1, 2, 3))
    book.pay(source, shell, received, D0)
    book.pay(shell, person, paid_out, D0)
    assert book.run("pass_through", D0) == []


def test_pass_through_across_two_days_is_outside_a_one_day_window() -> None:
    book = Book()
    shell, source, person = (book.party(n) for n in (1, 2, 3))
    book.pay(source, shell, 1_000_000, D0)
    book.pay(shell, person, 1_000_000, D0 + timedelta(days=1))
    assert book.run("pass_through", D0, D0 + timedelta(days=1)) == []
    assert subjects(book.run("pass_through", D0, D0 + timedelta(days=1), window_days=2)) == {shell}


# fan-in / fan-out: ten counterparties within a week, 500,000 in all


@pytest.mark.parametrize("inward", [True, False], ids=["fan_in", "fan_out"])
def test_fan_with_ten_counterparties_in_a_week(inward: bool) -> None:
    book = Book()
    hub = book.party(100)
    for n in range(10):
        other = book.party(n + 1)
        payer, payee = (other, hub) if inward else (hub, other)
        book.pay(payer, payee, 60_000, D0 + timedelta(days=n % 7))
    typology = "fan_in" if inward else "fan_out"
    [hit] = book.run(typology, D0, D0 + timedelta(days=6))
    assert hit.subject == hub
    assert hit.facts["counterparties"] == 10
    assert len(hit.members) == 11


@pytest.mark.parametrize("inward", [True, False], ids=["fan_in", "fan_out"])
@pytest.mark.parametrize("miss", ["nine counterparties", "spread over eight days", "too little"])
def test_fan_near_misses(inward: bool, miss: str) -> None:
    book = Book()
    hub = book.party(100)
    count = 9 if miss == "nine counterparties" else 10
    amount = 40_000 if miss == "too little" else 60_000
    for n in range(count):
        other = book.party(n + 1)
        payer, payee = (other, hub) if inward else (hub, other)
        spread = n * 7 // 9 if miss == "spread over eight days" else n % 7
        book.pay(payer, payee, amount, D0 + timedelta(days=spread))
    typology = "fan_in" if inward else "fan_out"
    assert book.run(typology, D0, D0 + timedelta(days=10)) == []


def test_an_employers_payroll_is_not_a_fan_out() -> None:
    book = Book()
    employer = book.party(100, "company")
    for n in range(12):
        book.pay(employer, book.party(n + 1), 60_000, D0, purpose="11月工资")
    assert book.run("fan_out", D0) == []
    assert subjects(book.run("fan_out", D0, exclude_purposes=[])) == {employer}


# gather-scatter: five payers in, five payees out within a week, little kept


def _gather_scatter(book: Book, payers: int, kept: float) -> int:
    hub = book.party(100)
    for n in range(payers):
        book.pay(book.party(n + 1), hub, 120_000, D0 + timedelta(days=n % 3))
    out_total = 120_000 * payers * (1 - kept)
    for n in range(5):
        book.pay(hub, book.party(n + 50), out_total / 5, D0 + timedelta(days=3 + n % 3))
    return hub


def test_gather_scatter() -> None:
    book = Book()
    hub = _gather_scatter(book, payers=5, kept=0.05)
    [hit] = book.run("gather_scatter", D0, D0 + timedelta(days=6))
    assert hit.subject == hub
    assert (hit.facts["payers"], hit.facts["payees"]) == (5, 5)


@pytest.mark.parametrize(("payers", "kept"), [(4, 0.05), (5, 0.3)], ids=["four payers", "keeps"])
def test_gather_scatter_near_misses(payers: int, kept: float) -> None:
    book = Book()
    _gather_scatter(book, payers=payers, kept=kept)
    assert book.run("gather_scatter", D0, D0 + timedelta(days=6)) == []


# scatter-gather: one source, three intermediaries, one destination


def _scatter_gather(book: Book, middles: int, delay: int) -> tuple[int, int]:
    source, destination = book.party(1), book.party(2)
    for n in range(middles):
        middle = book.party(10 + n)
        book.pay(source, middle, 80_000, D0)
        book.pay(middle, destination, 78_000, D0 + timedelta(days=delay))
    return source, destination


def test_scatter_gather() -> None:
    book = Book()
    source, destination = _scatter_gather(book, middles=3, delay=2)
    [hit] = book.run("scatter_gather", D0, D0 + timedelta(days=7))
    assert hit.subject == source
    assert hit.facts == {"intermediaries": 3, "destination": destination}
    assert set(hit.members) == {source, destination, 10, 11, 12}
    assert len(hit.transfer_ids) == 6


@pytest.mark.parametrize(
    ("middles", "delay"), [(2, 2), (3, 8)], ids=["two intermediaries", "too slow"]
)
def test_scatter_gather_near_misses(middles: int, delay: int) -> None:
    book = Book()
    _scatter_gather(book, middles=middles, delay=delay)
    assert book.run("scatter_gather", D0, D0 + timedelta(days=10)) == []


# cycles: money back to where it started


def _ring(book: Book, amounts: list[int], days: list[int]) -> list[int]:
    nodes = [book.party(n + 1) for n in range(len(amounts))]
    for n, (amount, day) in enumerate(zip(amounts, days, strict=True)):
        book.pay(nodes[n], nodes[(n + 1) % len(nodes)], amount, D0 + timedelta(days=day))
    return nodes


def test_cycle_of_three_found_once() -> None:
    book = Book()
    ring = _ring(book, [100_000, 98_000, 96_000], [0, 3, 6])
    [hit] = book.run("cycle", D0, D0 + timedelta(days=10))
    assert set(hit.members) == set(ring)
    assert hit.facts["length"] == 3
    assert hit.facts["returned"] == 96_000 * 100
    assert len(hit.transfer_ids) == 3


def test_cycle_of_four_is_within_max_length() -> None:
    book = Book()
    _ring(book, [100_000] * 4, [0, 1, 2, 3])
    assert len(book.run("cycle", D0, D0 + timedelta(days=10))) == 1


@pytest.mark.parametrize(
    ("amounts", "days", "miss"),
    [
        ([100_000, 98_000, 40_000], [0, 3, 6], "less than half comes back"),
        ([100_000, 98_000, 96_000], [6, 3, 0], "legs out of order in time"),
        ([100_000, 98_000, 96_000], [0, 20, 40], "longer than the window"),
        ([100_000] * 5, [0, 1, 2, 3, 4], "five accounts: longer than max_length"),
        ([100_000, 40_000, 96_000], [0, 3, 6], "a leg below the minimum"),
    ],
)
def test_cycle_near_misses(amounts: list[int], days: list[int], miss: str) -> None:
    book = Book()
    _ring(book, amounts, days)
    assert book.run("cycle", D0, D0 + timedelta(days=50)) == [], miss


# structuring: amounts just under the large-value thresholds


def test_structuring_cash_just_under_the_cash_threshold() -> None:
    book = Book()
    person = book.party(1)
    for n in range(3):
        book.pay(None, person, 48_000, D0 + timedelta(days=n * 2), cash=True)
    [hit] = book.run("structuring", D0, D0 + timedelta(days=6))
    assert hit.subject == person
    assert hit.facts == {"count": 3, "threshold": 50_000 * 100}


def test_structuring_transfers_of_a_person_just_under_its_threshold() -> None:
    book = Book()
    person, other = book.party(1), book.party(2)
    for n in range(3):
        book.pay(person, other, 490_000, D0 + timedelta(days=n))
    assert subjects(book.run("structuring", D0, D0 + timedelta(days=6))) == {person, other}


@pytest.mark.parametrize(
    ("amount", "count", "spread"),
    [(44_000, 3, 2), (48_000, 2, 2), (48_000, 3, 4), (50_000, 3, 2)],
    ids=["not near enough", "only twice", "over more than a week", "at the threshold"],
)
def test_structuring_near_misses(amount: int, count: int, spread: int) -> None:
    book = Book()
    person = book.party(1)
    for n in range(count):
        book.pay(None, person, amount, D0 + timedelta(days=n * spread), cash=True)
    assert book.run("structuring", D0, D0 + timedelta(days=20)) == []


# split payments: one payee paid in pieces far below the payer's usual


def _usual_payer(book: Book) -> int:
    payer = book.party(1)
    for n in range(4):
        book.pay(payer, book.party(10 + n), 100_000, D0 - timedelta(days=20 + n))
    return payer


def test_split_payments() -> None:
    book = Book()
    payer, payee = _usual_payer(book), book.party(2)
    for n in range(3):
        book.pay(payer, payee, 20_000, D0 + timedelta(days=n // 2), hour=9 + n)
    [hit] = book.run("split_payments", D0, D0 + timedelta(days=1))
    assert (hit.subject, hit.members) == (payer, (payer, payee))
    assert hit.facts["pieces"] == 3


@pytest.mark.parametrize(("pieces", "amount"), [(2, 30_000), (3, 60_000)], ids=["two", "not small"])
def test_split_payments_near_misses(pieces: int, amount: int) -> None:
    book = Book()
    payer, payee = _usual_payer(book), book.party(2)
    for n in range(pieces):
        book.pay(payer, payee, amount, D0, hour=9 + n)
    assert book.run("split_payments", D0) == []


# activity inconsistent with the profile


def test_turnover_far_above_registered_capital() -> None:
    book = Book()
    shell = book.party(1, "company", capital=100_000)
    for n in range(4):
        book.pay(book.party(10 + n), shell, 300_000, D0 + timedelta(days=n * 5))
    [hit] = book.run("turnover_vs_profile", D0, D0 + timedelta(days=20))
    assert hit.subject == shell
    assert hit.facts["multiple_of_capital"] == 12.0


def test_turnover_within_ten_times_capital_passes() -> None:
    book = Book()
    shell = book.party(1, "company", capital=100_000)
    for n in range(3):
        book.pay(book.party(10 + n), shell, 300_000, D0 + timedelta(days=n * 5))
    assert book.run("turnover_vs_profile", D0, D0 + timedelta(days=20)) == []


def test_turnover_far_above_declared_monthly_turnover() -> None:
    book = Book()
    shop = book.party(1, "company", turnover=200_000)  # no registered capital on file
    book.pay(book.party(2), shop, 1_100_000, D0)
    assert subjects(book.run("turnover_vs_profile", D0)) == {shop}
    assert book.run("turnover_vs_profile", D0, min_turnover=2_000_000) == []


SCOPE = "票务代理、印刷、场地租赁"


def test_advertising_fees_received_by_a_printing_business() -> None:
    book = Book()
    shell = book.party(1, "company", scope=SCOPE)
    advertiser = book.party(2, "company", scope="广告设计、制作、发布")
    fee = book.pay(advertiser, shell, 2_000_000, D0, purpose="广告费")
    [hit] = book.run("purpose_vs_scope", D0)
    assert hit.subject == shell  # the advertiser paying advertising fees is in its own trade
    assert hit.facts["rule"] == "advertising"
    assert hit.transfer_ids == (fee,)


@pytest.mark.parametrize(
    ("scope", "purpose", "amount"),
    [
        ("广告设计、制作、发布", "广告费", 2_000_000),
        (SCOPE, "广告费", 50_000),
        (SCOPE, "场地租赁费", 2_000_000),
    ],
    ids=["in its trade", "small", "purpose fits"],
)
def test_purpose_vs_scope_near_misses(scope: str, purpose: str, amount: int) -> None:
    book = Book()
    company = book.party(1, "company", scope=scope)
    book.pay(book.party(2, "company", scope="其他"), company, amount, D0, purpose=purpose)
    assert [h for h in book.run("purpose_vs_scope", D0) if h.subject == company] == []


def test_paying_for_advertising_is_any_business_right() -> None:
    book = Book()
    printer = book.party(1, "company", scope=SCOPE)
    agency = book.party(2, "company", scope="广告设计、制作、发布")
    book.pay(printer, agency, 2_000_000, D0, purpose="广告费")
    assert book.run("purpose_vs_scope", D0) == []


def test_large_salary_to_individuals_with_no_payroll_history() -> None:
    book = Book()
    shell = book.party(1, "company")
    people = [book.party(10 + n) for n in range(3)]
    for person in people:
        book.pay(shell, person, 1_100_000, D0, purpose="工资及养老金")
    [hit] = book.run("payroll_without_history", D0)
    assert hit.subject == shell
    assert set(hit.members) == {shell, *people}
    assert hit.facts == {"payees": 3, "average": 1_100_000 * 100}


@pytest.mark.parametrize("miss", ["paid salaries before", "ordinary salaries", "not a salary"])
def test_payroll_near_misses(miss: str) -> None:
    book = Book()
    employer = book.party(1, "company")
    person = book.party(10)
    if miss == "paid salaries before":
        book.pay(employer, person, 8_000, D0 - timedelta(days=30), purpose="5月工资")
    amount = 9_000 if miss == "ordinary salaries" else 1_100_000
    purpose = "货款" if miss == "not a salary" else "工资"
    book.pay(employer, person, amount, D0, purpose=purpose)
    assert book.run("payroll_without_history", D0) == []


# dormant accounts waking up


@pytest.mark.parametrize(("quiet_days", "found"), [(200, True), (170, False)])
def test_dormant_account_suddenly_moving_large_sums(quiet_days: int, found: bool) -> None:
    book = Book()
    sleeper, other, shop = book.party(1, opened=date(2024, 1, 1)), book.party(2), book.party(3)
    for month in range(10):  # the counterparty is busy all along
        book.pay(other, shop, 500, D0 - timedelta(days=30 * month + 1))
    book.pay(other, sleeper, 1_000, D0 - timedelta(days=quiet_days))
    book.pay(other, sleeper, 150_000, D0)
    book.pay(sleeper, other, 140_000, D0 + timedelta(days=2))
    hits = book.run("dormant_reactivated", D0, D0 + timedelta(days=2))
    assert subjects(hits) == ({sleeper} if found else set())
    if found:
        assert hits[0].facts["dormant_days"] == quiet_days


def test_a_new_account_is_dormant_since_it_was_opened() -> None:
    book = Book()
    sleeper = book.party(1, opened=D0 - timedelta(days=400))
    other = book.party(2, opened=D0 - timedelta(days=10))  # new, so not asleep
    book.pay(other, sleeper, 300_000, D0)
    assert subjects(book.run("dormant_reactivated", D0)) == {sleeper}


# one device or phone behind several customers


def test_three_customers_sharing_one_device() -> None:
    book = Book()
    mule, other = book.party(1), book.party(9)
    book.share("device", "d-1", 1, 2, 3)
    book.pay(mule, other, 10_000, D0)
    [hit] = book.run("shared_identifier", D0)
    assert hit.subject == mule
    assert hit.facts == {"identifier": "device", "customers": 3}


def test_two_customers_sharing_a_phone_are_a_family_not_a_pattern() -> None:
    book = Book()
    person, other = book.party(1), book.party(9)
    book.share("phone", "p-1", 1, 2)
    book.pay(person, other, 10_000, D0)
    assert book.run("shared_identifier", D0) == []


# concentrated in, dispersed out (and the reverse)


def _one_in_four_out(book: Book, payees: int, kept: float) -> int:
    shell, source = book.party(1, "company"), book.party(2, "company")
    book.pay(source, shell, 4_000_000, D0, hour=9)
    for n in range(payees):
        book.pay(shell, book.party(10 + n), 4_000_000 * (1 - kept) / payees, D0, hour=14)
    return shell


def test_concentrated_in_dispersed_out() -> None:
    book = Book()
    shell = _one_in_four_out(book, payees=4, kept=0.0)
    [hit] = book.run("concentrated_dispersed", D0)
    assert hit.subject == shell
    assert (hit.facts["shape"], hit.facts["payers"], hit.facts["payees"]) == ("dispersed_out", 1, 4)


def test_dispersed_in_concentrated_out() -> None:
    book = Book()
    collector, boss = book.party(1), book.party(2)
    for n in range(5):
        book.pay(book.party(10 + n), collector, 300_000, D0)
    book.pay(collector, boss, 1_450_000, D0 + timedelta(days=1))
    [hit] = book.run("concentrated_dispersed", D0, D0 + timedelta(days=1))
    assert (hit.subject, hit.facts["shape"]) == (collector, "concentrated_out")


@pytest.mark.parametrize(("payees", "kept"), [(2, 0.0), (4, 0.3)], ids=["two payees", "keeps"])
def test_concentrated_dispersed_near_misses(payees: int, kept: float) -> None:
    book = Book()
    _one_in_four_out(book, payees=payees, kept=kept)
    assert book.run("concentrated_dispersed", D0) == []
