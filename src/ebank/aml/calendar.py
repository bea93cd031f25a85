"""Business-day calendars for regulatory deadlines (``policies/calendars/<name>.yaml``).

Large-value transaction reports, for one, are due within a number of *working* days. The
mainland China calendar (``cn``) transcribes the State Council General Office's yearly notices
(国务院办公厅关于20XX年部分节假日安排的通知): the public holidays (days off) and the weekend days
made working days in exchange (调休上班).

A year the file does not cover has no known holidays: its working days fall back to Monday to
Friday. ``BusinessCalendar.covers`` tells a caller whether a day's year is in the data, so that a
deadline computed on the fallback can be flagged until the next notice (usually published in
November) is added to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_NAME = re.compile(r"[a-z0-9_-]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")
_RANGE = ".."
_SATURDAY = 5
_TOP_KEYS = frozenset({"name", "years"})
_YEAR_KEYS = frozenset({"holidays", "working_weekends"})


class CalendarError(Exception):
    """A calendar file that cannot be read or is malformed."""


def _plain_date(day: date) -> date:
    # datetime is a date subclass that never compares equal to a date: it would miss every
    # holiday. The caller must choose the local day itself (the time zone matters).
    if isinstance(day, datetime):
        raise TypeError(f"pass a date, not a datetime: {day!r}")
    return day


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days: Monday to Friday, less the holidays, plus the working weekends."""

    name: str
    holidays: frozenset[date]
    working_weekends: frozenset[date]
    years: frozenset[int]

    def covers(self, day: date) -> bool:
        """Whether the data lists the holidays of ``day``'s year."""
        return _plain_date(day).year in self.years

    def is_working_day(self, day: date) -> bool:
        day = _plain_date(day)
        if day in self.working_weekends:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < _SATURDAY

    def add_working_days(self, start: date, days: int) -> date:
        """The day ``days`` working days after ``start`` (``start`` itself never counts)."""
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        day = _plain_date(start)
        remaining = days
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if ``end <= start``)."""
        start, end = _plain_date(start), _plain_date(end)
        span = (end - start).days
        return sum(self.is_working_day(start + timedelta(days=n)) for n in range(1, span + 1))


def _show(entry: object) -> str:
    return entry.isoformat() if isinstance(entry, date) else repr(entry)


def _parse_iso(text: str) -> date | None:
    text = text.strip()
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _entry_days(entry: object) -> list[date]:
    """The days of one list entry: a date, "YYYY-MM-DD", or a range "first..last"."""
    if isinstance(entry, datetime):
        raise ValueError("a date and time, not a date")
    if isinstance(entry, date):
        return [entry]
    if not isinstance(entry, str):
        raise ValueError("not a date or a range 'YYYY-MM-DD..YYYY-MM-DD'")
    first_text, separator, last_text = entry.partition(_RANGE)
    first = _parse_iso(first_text)
    last = _parse_iso(last_text) if separator else first
    if first is None or last is None:
        raise ValueError("not a date or a range 'YYYY-MM-DD..YYYY-MM-DD'")
    if last < first:
        raise ValueError("the range ends before it starts")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _listed_days(path: Path, year: int, field: str, entries: object) -> set[date]:
    if not isinstance(entries, list):
        raise CalendarError(f"{path}: years.{year}.{field} must be a list of dates")
    days: set[date] = set()
    for entry in entries:
        where = f"{path}: years.{year}.{field}: {_show(entry)}"
        try:
            entry_days = _entry_days(entry)
        except ValueError as exc:
            raise CalendarError(f"{where}: {exc}") from exc
        outside = [day for day in entry_days if day.year != year]
        if outside:
            raise CalendarError(f"{where}: {outside[0]} is not in {year}")
        weekdays = [day for day in entry_days if day.weekday() < _SATURDAY]
        if field == "working_weekends" and weekdays:
            raise CalendarError(f"{where}: {weekdays[0]} is not a Saturday or Sunday")
        days.update(entry_days)
    return days


def _year_number(path: Path, key: object) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and _YEAR.fullmatch(key):
        return int(key)
    raise CalendarError(f"{path}: years: {key!r} is not a year")


def _year_days(path: Path, year: int, section: object) -> tuple[set[date], set[date]]:
    if not isinstance(section, dict):
        raise CalendarError(f"{path}: years.{year} must be a mapping with 'holidays'")
    unknown = set(section) - _YEAR_KEYS
    if unknown:
        raise CalendarError(f"{path}: years.{year}: unknown keys {sorted(map(str, unknown))}")
    if not section.get("holidays"):
        raise CalendarError(f"{path}: years.{year}: no holidays listed")
    holidays = _listed_days(path, year, "holidays", section["holidays"])
    working = _listed_days(path, year, "working_weekends", section.get("working_weekends", []))
    both = sorted(holidays & working)
    if both:
        raise CalendarError(
            f"{path}: years.{year}: {both[0]} is listed both as a holiday and a working weekend"
        )
    return holidays, working


def _read_document(path: Path) -> dict[Any, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        # PyYAML raises ValueError for a bare impossible date such as 2026-02-30.
        raise CalendarError(f"cannot read calendar {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise CalendarError(f"{path}: a calendar is a mapping with 'name' and 'years'")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise CalendarError(f"{path}: unknown keys {sorted(map(str, unknown))}")
    if not isinstance(document.get("name"), str) or not document["name"].strip():
        raise CalendarError(f"{path}: 'name' must be a non-empty string")
    if not isinstance(document.get("years"), dict) or not document["years"]:
        raise CalendarError(f"{path}: 'years' must map each year to its holidays")
    return document


def load_calendar(path: Path) -> BusinessCalendar:
    """Read and check one calendar file; raise CalendarError naming the file and the entry."""
    document = _read_document(path)
    holidays: set[date] = set()
    working: set[date] = set()
    years: set[int] = set()
    for key, section in document["years"].items():
        year = _year_number(path, key)
        if year in years:
            raise CalendarError(f"{path}: years: {year} is listed twice")
        year_holidays, year_working = _year_days(path, year, section)
        years.add(year)
        holidays |= year_holidays
        working |= year_working
    return BusinessCalendar(
        name=document["name"].strip(),
        holidays=frozenset(holidays),
        working_weekends=frozenset(working),
        years=frozenset(years),
    )


@lru_cache(maxsize=8)
def calendar_for(policy_dir: Path, name: str) -> BusinessCalendar:
    """The calendar ``policy_dir/calendars/<name>.yaml``, read once per process."""
    if not _NAME.fullmatch(name):
        raise CalendarError(f"bad calendar name {name!r} (lowercase letters, digits, _ and -)")
    return load_calendar(policy_dir / "calendars" / f"{name}.yaml")
