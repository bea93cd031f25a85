"""Business-day calendar: the published Chinese holidays and the deadlines counted over them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from ebank.aml.calendar import BusinessCalendar, CalendarError, calendar_for, load_calendar
from ebank.config import PROJECT_ROOT

POLICY_DIR = PROJECT_ROOT / "policies"


@pytest.fixture
def cn() -> BusinessCalendar:
    return calendar_for(POLICY_DIR, "cn")


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- the real file ---------------------------------------------------------------------------


def test_real_cn_calendar_loads(cn: BusinessCalendar) -> None:
    assert cn.name == "中国大陆法定节假日 / Mainland China public holidays"
    assert cn.years == frozenset({2025, 2026})
    by_year = {year: {day for day in cn.holidays if day.year == year} for year in cn.years}
    # 2025: 1 + 8 + 3 + 5 + 3 + 8 days off; 2026: 3 + 9 + 3 + 5 + 3 + 3 + 7.
    assert len(by_year[2025]) == 28
    assert len(by_year[2026]) == 33
    assert cn.working_weekends == {
        d("2025-01-26"),
        d("2025-02-08"),
        d("2025-04-27"),
        d("2025-09-28"),
        d("2025-10-11"),
        d("2026-01-04"),
        d("2026-02-14"),
        d("2026-02-28"),
        d("2026-05-09"),
        d("2026-09-20"),
        d("2026-10-10"),
    }


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2025-01-01", "2025-01-01"),
        ("2025-01-28", "2025-02-04"),
        ("2025-04-04", "2025-04-06"),
        ("2025-05-01", "2025-05-05"),
        ("2025-05-31", "2025-06-02"),
        ("2025-10-01", "2025-10-08"),
        ("2026-01-01", "2026-01-03"),
        ("2026-02-15", "2026-02-23"),
        ("2026-04-04", "2026-04-06"),
        ("2026-05-01", "2026-05-05"),
        ("2026-06-19", "2026-06-21"),
        ("2026-09-25", "2026-09-27"),
        ("2026-10-01", "2026-10-07"),
    ],
)
def test_each_published_holiday_is_a_day_off_and_bounded(
    cn: BusinessCalendar, first: str, last: str
) -> None:
    start, end = d(first), d(last)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    assert all(day in cn.holidays and not cn.is_working_day(day) for day in days)
    assert start - timedelta(days=1) not in cn.holidays
    assert end + timedelta(days=1) not in cn.holidays


def test_calendar_for_is_cached(cn: BusinessCalendar) -> None:
    assert calendar_for(POLICY_DIR, "cn") is cn


# --- working days ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-10-01", False),  # National Day, a Thursday
        ("2026-10-10", True),  # Saturday made a working day
        ("2026-10-11", False),  # ordinary Sunday
        ("2026-10-12", True),  # ordinary Monday
        ("2026-02-23", False),  # Monday, last day of the Spring Festival holiday
        ("2026-01-04", True),  # Sunday made a working day
    ],
)
def test_is_working_day(cn: BusinessCalendar, day: str, working: bool) -> None:
    assert cn.is_working_day(d(day)) is working


def test_deadline_after_national_day(cn: BusinessCalendar) -> None:
    # Oct 1–7 off; Oct 8 Thu, Oct 9 Fri, Oct 10 Sat (working), Oct 12 Mon, Oct 13 Tue.
    start = d("2026-09-30")
    steps = [cn.add_working_days(start, n) for n in range(1, 6)]
    expected = ["2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12", "2026-10-13"]
    assert steps == [d(x) for x in expected]
    assert cn.add_working_days(start, 5) == d("2026-10-13")


def test_deadline_across_spring_festival_counts_working_saturdays(cn: BusinessCalendar) -> None:
    start = d("2026-02-12")  # Thursday
    expected = [
        "2026-02-13",  # Fri
        "2026-02-14",  # Sat, working
        "2026-02-24",  # Tue, after Feb 15–23 off
        "2026-02-25",
        "2026-02-26",
        "2026-02-27",
        "2026-02-28",  # Sat, working
        "2026-03-02",  # Mon
    ]
    assert [cn.add_working_days(start, n) for n in range(1, 9)] == [d(x) for x in expected]


def test_deadline_in_an_ordinary_week(cn: BusinessCalendar) -> None:
    assert cn.add_working_days(d("2026-03-09"), 5) == d("2026-03-16")  # Mon -> next Mon
    assert cn.add_working_days(d("2026-03-13"), 1) == d("2026-03-16")  # Fri -> Mon
    assert cn.add_working_days(d("2026-03-14"), 1) == d("2026-03-16")  # Sat -> Mon


def test_start_day_never_counts(cn: BusinessCalendar) -> None:
    assert cn.add_working_days(d("2026-10-03"), 1) == d("2026-10-08")  # holiday start
    assert cn.add_working_days(d("2026-10-01"), 5) == d("2026-10-13")
    assert cn.add_working_days(d("2026-10-10"), 1) == d("2026-10-12")  # working Saturday start


def test_deadline_across_the_year_end_uses_both_years(cn: BusinessCalendar) -> None:
    # 2025-12-31 Wed; Jan 1–3 2026 off; Sun Jan 4 is a working day.
    assert cn.add_working_days(d("2025-12-31"), 1) == d("2026-01-04")
    # 2025: Oct 1–8 off, so the first working day after Sep 30 is Thu Oct 9.
    assert cn.add_working_days(d("2025-09-30"), 1) == d("2025-10-09")
    assert cn.add_working_days(d("2025-01-24"), 1) == d("2025-01-26")  # working Sunday


@pytest.mark.parametrize("days", [0, -1])
def test_add_working_days_needs_at_least_one(cn: BusinessCalendar, days: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cn.add_working_days(d("2026-03-09"), days)


def test_working_days_between(cn: BusinessCalendar) -> None:
    assert cn.working_days_between(d("2026-09-30"), d("2026-10-13")) == 5
    assert cn.working_days_between(d("2026-09-30"), d("2026-10-07")) == 0
    assert cn.working_days_between(d("2026-02-12"), d("2026-03-02")) == 8
    assert cn.working_days_between(d("2026-10-09"), d("2026-10-10")) == 1
    assert cn.working_days_between(d("2026-10-13"), d("2026-10-13")) == 0
    assert cn.working_days_between(d("2026-10-13"), d("2026-09-30")) == 0


def test_working_days_between_inverts_add_working_days(cn: BusinessCalendar) -> None:
    start = d("2026-01-01")
    for days in range(1, 400, 7):
        assert cn.working_days_between(start, cn.add_working_days(start, days)) == days


def test_uncovered_year_falls_back_to_weekends(cn: BusinessCalendar) -> None:
    assert cn.covers(d("2026-10-01"))
    assert not cn.covers(d("2027-10-01"))
    assert not cn.covers(d("2024-10-01"))
    assert cn.is_working_day(d("2027-10-01"))  # a Friday; no holidays known for 2027
    assert cn.is_working_day(d("2024-10-01"))  # a Tuesday
    assert not cn.is_working_day(d("2027-10-02"))  # a Saturday
    assert cn.add_working_days(d("2027-09-30"), 5) == d("2027-10-07")  # Thu -> next Thu


def test_datetime_is_refused(cn: BusinessCalendar) -> None:
    # A datetime never equals a date, so it would slip past every holiday.
    with pytest.raises(TypeError, match="not a datetime"):
        cn.is_working_day(datetime(2026, 10, 1, 9, 30))


@pytest.mark.parametrize("name", ["CN", "../cn", "cn\n", "", "cn.yaml"])
def test_calendar_for_refuses_bad_names(name: str) -> None:
    with pytest.raises(CalendarError, match="bad calendar name"):
        calendar_for(POLICY_DIR, name)


def test_calendar_for_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="cannot read calendar"):
        calendar_for(tmp_path, "nowhere")


# --- malformed files -------------------------------------------------------------------------

_HEADER = "name: test\nyears:\n"


def _load(tmp_path: Path, text: str) -> BusinessCalendar:
    path = tmp_path / "calendars" / "bad.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return load_calendar(path)


def test_minimal_file_loads(tmp_path: Path) -> None:
    calendar = _load(
        tmp_path,
        _HEADER + "  2030:\n    holidays: ['2030-01-01', 2030-05-01..2030-05-02]\n"
        "    working_weekends: [2030-05-04]\n",
    )
    assert calendar.holidays == {d("2030-01-01"), d("2030-05-01"), d("2030-05-02")}
    assert calendar.working_weekends == {d("2030-05-04")}
    assert calendar.years == {2030}


@pytest.mark.parametrize(
    ("body", "entry", "reason"),
    [
        ("  2026:\n    holidays: ['2026-02-30']\n", "'2026-02-30'", "not a date"),
        ("  2026:\n    holidays: [2026-13-01..2026-13-02]\n", "2026-13-01", "not a date"),
        ("  2026:\n    holidays: [2026-1-5]\n", "2026-1-5", "not a date"),
        ("  2026:\n    holidays: [20260101]\n", "20260101", "not a date"),
        ("  2026:\n    holidays: [2026-01-01 09:00:00]\n", "2026-01-01", "date and time"),
        ("  2026:\n    holidays: [2026-10-07..2026-10-01]\n", "2026-10-07..", "ends before"),
        (
            "  2026:\n    holidays: [2026-10-01..2026-10-10]\n    working_weekends: [2026-10-10]\n",
            "2026-10-10",
            "both as a holiday and a working weekend",
        ),
        (
            "  2026:\n    holidays: [2026-10-01]\n    working_weekends: [2026-10-09]\n",
            "2026-10-09",
            "not a Saturday or Sunday",
        ),
        (
            "  2026:\n    holidays: [2026-10-01]\n    working_weekends: [2026-10-10..2026-10-12]\n",
            "2026-10-12",
            "not a Saturday or Sunday",
        ),
        ("  2026:\n    holidays: [2025-10-01]\n", "2025-10-01", "is not in 2026"),
        ("  2026:\n    holidays: [2026-12-31..2027-01-01]\n", "2027-01-01", "is not in 2026"),
        (
            "  2026:\n    holidays: [2026-10-01]\n    working_weekends: [2027-01-02]\n",
            "2027-01-02",
            "is not in 2026",
        ),
    ],
)
def test_malformed_entry_names_file_and_entry(
    tmp_path: Path, body: str, entry: str, reason: str
) -> None:
    with pytest.raises(CalendarError) as caught:
        _load(tmp_path, _HEADER + body)
    message = str(caught.value)
    assert "bad.yaml" in message
    assert entry in message
    assert reason in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- 2026-01-01\n", "a calendar is a mapping"),
        ("years:\n  2026:\n    holidays: [2026-01-01]\n", "'name'"),
        ("name: test\n", "'years'"),
        ("name: test\nyears: {}\n", "'years'"),
        ("name: test\nholiday: []\nyears:\n  2026:\n    holidays: [2026-01-01]\n", "unknown"),
        (_HEADER + "  twenty:\n    holidays: [2026-01-01]\n", "'twenty' is not a year"),
        (_HEADER + "  2026:\n", "years.2026 must be a mapping"),
        (_HEADER + "  2026:\n    working_weekends: [2026-01-04]\n", "no holidays"),
        (_HEADER + "  2026:\n    holidays: 2026-01-01\n", "must be a list"),
        (_HEADER + "  2026:\n    holiday: [2026-01-01]\n", "unknown keys"),
        (
            _HEADER
            + "  2026:\n    holidays: [2026-01-01]\n  '2026':\n    holidays: [2026-01-02]\n",
            "listed twice",
        ),
        ("name: [unclosed\n", "cannot read calendar"),
        (_HEADER + "  2026:\n    holidays: [2026-02-30]\n", "cannot read calendar"),
    ],
)
def test_malformed_file_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(CalendarError) as caught:
        _load(tmp_path, text)
    assert "bad.yaml" in str(caught.value)
    assert reason in str(caught.value)
