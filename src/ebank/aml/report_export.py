"""Export of anti-money-laundering reports to the regulator: large-value transaction reports
(大额交易报告) and suspicious transaction reports (可疑交易报告), as XML and as CSV.

The schema is **our own** (namespace ``urn:ebank:aml:report:1``, ``schema_version="1.0"``). Its
field set is modelled on the report elements of the PBoC / China Anti-Money Laundering Monitoring
and Analysis Center (中国反洗钱监测分析中心) 2017 data-interface specification for financial
institutions' large-value and suspicious transaction reports, with English snake_case names; it is
not the official upload format. ``docs/aml-reports.md`` documents every element and column, its
Chinese field name and how a bank maps the files to its regulator's format.

Pure logic: no I/O. The element and column orders are the module-level tuples below, which the
documentation lists and the tests compare against.

Value formats, identical in XML and CSV:

* amounts: decimal text from integer minor units, never ``float``: ``150000000`` CNY →
  ``"1500000.00"``. Two decimals (more only for a currency whose minor unit has more digits, so
  nothing is ever rounded); ``JPY`` ``1234`` → ``"1234.00"``. A party's registered capital is in
  CNY fen.
* timestamps: ISO 8601 in Asia/Shanghai with its offset, to the second:
  ``"2024-03-01T18:30:00+08:00"``; dates: ISO (``"2024-03-01"``); booleans ``true``/``false``.
* absent optional values (``None``): the element is left out of the XML; the CSV cell is empty.
* XML text has its line endings normalised to ``\\n`` (an XML parser would do so anyway).

Exports first validate the report (:func:`validate_large_value`, :func:`validate_suspicious`) and
raise :class:`ReportInvalid` with the problems instead of writing an incomplete report. Malformed
input (an unknown direction, a naive timestamp, a negative amount…) is refused earlier, with
``ValueError``, when the dataclasses are built.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from ebank.common.money import currency_exponent, normalize_currency

__all__ = [
    "AMOUNT_COLUMNS",
    "CRITERIA",
    "LARGE_VALUE_CSV_COLUMNS",
    "LARGE_VALUE_HEADER_ELEMENTS",
    "LARGE_VALUE_ROOT",
    "MIN_NARRATIVE_LENGTH",
    "NAMESPACE",
    "PARTY_ELEMENTS",
    "SCHEMA_VERSION",
    "SUSPICION_ELEMENTS",
    "SUSPICIOUS_CSV_COLUMNS",
    "SUSPICIOUS_HEADER_ELEMENTS",
    "SUSPICIOUS_ROOT",
    "TRANSACTION_ELEMENTS",
    "LargeValueReport",
    "ReportInvalid",
    "ReportParty",
    "ReportTransaction",
    "SuspiciousReport",
    "large_value_csv",
    "large_value_xml",
    "suspicious_csv",
    "suspicious_xml",
    "validate_large_value",
    "validate_suspicious",
]

NAMESPACE: Final = "urn:ebank:aml:report:1"
SCHEMA_VERSION: Final = "1.0"
LARGE_VALUE_ROOT: Final = "large_value_report"
SUSPICIOUS_ROOT: Final = "suspicious_report"

REPORTING_ZONE: Final = ZoneInfo("Asia/Shanghai")
"""Timestamps are written in China Standard Time (+08:00)."""

REGISTERED_CAPITAL_CURRENCY: Final = "CNY"
MIN_NARRATIVE_LENGTH: Final = 50
"""A suspicious report's narrative needs at least this many characters (after trimming)."""

CRITERIA: Final = ("cash", "company_transfer", "individual_domestic", "individual_cross_border")
"""Why a large-value report is due (大额交易特征): the four criteria of the PBoC rules."""

PARTY_KINDS: Final = ("individual", "company")
DIRECTIONS: Final = ("in", "out")

LARGE_VALUE_HEADER_ELEMENTS: Final = (
    "institution_code",
    "institution_name",
    "report_ref",
    "reported_on",
    "transaction_day",
    "deadline",
    "criterion",
)
SUSPICIOUS_HEADER_ELEMENTS: Final = (
    "institution_code",
    "institution_name",
    "report_ref",
    "case_ref",
    "reported_on",
    "determined_on",
    "deadline",
)
SUSPICION_ELEMENTS: Final = (
    "typologies",
    "suspicion_codes",
    "narrative",
    "measures_taken",
    "prepared_by",
    "reviewed_by",
)
PARTY_ELEMENTS: Final = (
    "customer_ref",
    "name",
    "kind",
    "id_type",
    "id_number",
    "nationality",
    "occupation_or_business",
    "address",
    "phone",
    "legal_representative",
    "registered_capital",
)
TRANSACTION_ELEMENTS: Final = (
    "transaction_ref",
    "booked_at",
    "direction",
    "amount",
    "currency",
    "account_number",
    "counterparty_name",
    "counterparty_account",
    "counterparty_bank",
    "purpose",
    "channel",
    "cash",
    "cross_border",
)

_PARTY_COLUMNS: Final = tuple(f"party_{name}" for name in PARTY_ELEMENTS)
LARGE_VALUE_CSV_COLUMNS: Final = LARGE_VALUE_HEADER_ELEMENTS + _PARTY_COLUMNS + TRANSACTION_ELEMENTS
SUSPICIOUS_CSV_COLUMNS: Final = (
    SUSPICIOUS_HEADER_ELEMENTS + SUSPICION_ELEMENTS + _PARTY_COLUMNS + TRANSACTION_ELEMENTS
)
AMOUNT_COLUMNS: Final = frozenset({"amount", "party_registered_capital"})
"""Numeric CSV columns, written by this module and never negative: exempt from the formula guard."""

_LIST_ITEMS: Final[Mapping[str, str]] = {
    "typologies": "typology",
    "suspicion_codes": "suspicion_code",
}
"""Repeated elements: the container's children. In CSV the items are joined with ``;``."""
_CSV_LIST_SEPARATOR: Final = ";"

_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
_NOT_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAK: Final = re.compile("\r\n?")
_CODE: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_ALPHA3: Final = re.compile(r"[A-Z]{3}")

_Value: TypeAlias = str | tuple[str, ...] | None


class ReportInvalid(ValueError):
    """A report that must be fixed before it is exported; ``problems`` lists why."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(" ".join(self.problems))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


@dataclass(frozen=True, slots=True)
class ReportParty:
    """The reported customer (客户). ``registered_capital_minor`` is in CNY fen."""

    customer_ref: str
    name: str
    kind: str
    id_type: str
    id_number: str
    nationality: str
    occupation_or_business: str
    address: str
    phone: str
    legal_representative: str | None = None
    registered_capital_minor: int | None = None

    def __post_init__(self) -> None:
        _require(self.kind in PARTY_KINDS, f"Party kind must be one of {PARTY_KINDS}.")
        _require(
            _ALPHA3.fullmatch(self.nationality) is not None,
            "Nationality must be an ISO 3166 alpha-3 code such as CHN.",
        )
        capital = self.registered_capital_minor
        _require(
            capital is None or (type(capital) is int and capital >= 0),
            "Registered capital must be a non-negative whole number of fen.",
        )


@dataclass(frozen=True, slots=True)
class ReportTransaction:
    """One transaction of the report (交易). ``booked_at`` must be timezone-aware (UTC)."""

    transaction_ref: str
    booked_at: datetime
    direction: str
    amount_minor: int
    currency: str
    account_number: str
    counterparty_name: str
    counterparty_account: str
    counterparty_bank: str
    purpose: str
    channel: str
    cash: bool
    cross_border: bool

    def __post_init__(self) -> None:
        _require(
            isinstance(self.booked_at, datetime) and self.booked_at.utcoffset() is not None,
            "booked_at must be a timezone-aware datetime.",
        )
        _require(self.direction in DIRECTIONS, f"Direction must be one of {DIRECTIONS}.")
        _require(
            type(self.amount_minor) is int and self.amount_minor > 0,
            "The amount must be a positive whole number of minor units.",
        )
        _require(
            normalize_currency(self.currency) == self.currency,
            "The currency must be an upper-case ISO 4217 code.",
        )
        _require(
            type(self.cash) is bool and type(self.cross_border) is bool,
            "cash and cross_border must be booleans.",
        )


@dataclass(frozen=True, slots=True)
class LargeValueReport:
    """A large-value transaction report (大额交易报告): one customer, one day, one criterion."""

    report_ref: str
    institution_code: str
    institution_name: str
    reported_on: date
    transaction_day: date
    deadline: date
    criterion: str
    party: ReportParty
    transactions: tuple[ReportTransaction, ...]

    def __post_init__(self) -> None:
        _require(self.criterion in CRITERIA, f"Criterion must be one of {CRITERIA}.")
        _require(
            all(_is_date(d) for d in (self.reported_on, self.transaction_day, self.deadline)),
            "reported_on, transaction_day and deadline must be dates.",
        )
        _require(isinstance(self.transactions, tuple), "transactions must be a tuple.")


@dataclass(frozen=True, slots=True)
class SuspiciousReport:
    """A suspicious transaction report (可疑交易报告) for one case and one customer."""

    report_ref: str
    institution_code: str
    institution_name: str
    reported_on: date
    determined_on: date
    deadline: date
    case_ref: str
    typologies: tuple[str, ...]
    suspicion_codes: tuple[str, ...]
    narrative: str
    measures_taken: str
    party: ReportParty
    transactions: tuple[ReportTransaction, ...]
    prepared_by: str
    reviewed_by: str

    def __post_init__(self) -> None:
        _require(
            all(_is_date(d) for d in (self.reported_on, self.determined_on, self.deadline)),
            "reported_on, determined_on and deadline must be dates.",
        )
        _require(
            all(
                isinstance(t, tuple)
                for t in (self.typologies, self.suspicion_codes, self.transactions)
            ),
            "typologies, suspicion_codes and transactions must be tuples.",
        )


# --- validation ------------------------------------------------------------------------------


def _text_fields(
    obj: ReportParty | ReportTransaction | LargeValueReport | SuspiciousReport, prefix: str
) -> Iterable[tuple[str, str]]:
    """Every text value of a report dataclass, with its path (``party.address``)."""
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        path = f"{prefix}{field.name}"
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, ReportParty):
            yield from _text_fields(value, f"{path}.")
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    yield f"{path}[{index}]", item
                elif isinstance(item, ReportTransaction):
                    yield from _text_fields(item, f"{path}[{index}].")


def _unwritable_text(report: LargeValueReport | SuspiciousReport) -> list[str]:
    return [
        f"The field {path} contains control characters that XML cannot carry."
        for path, value in _text_fields(report, "")
        if _NOT_XML_CHAR.search(value)
    ]


def _local_day(moment: datetime) -> date:
    return moment.astimezone(REPORTING_ZONE).date()


def validate_large_value(report: LargeValueReport) -> list[str]:
    """Problems to fix before ``report`` is exported; an empty list when there are none."""
    problems: list[str] = []
    if not report.transactions:
        problems.append("The report has no transactions.")
    problems.extend(
        f"Transaction {t.transaction_ref} was not booked on the transaction day (Beijing time)."
        for t in report.transactions
        if _local_day(t.booked_at) != report.transaction_day
    )
    if report.deadline < report.transaction_day:
        problems.append("The deadline is before the transaction day.")
    problems.extend(_unwritable_text(report))
    return problems


def validate_suspicious(report: SuspiciousReport) -> list[str]:
    """Problems to fix before ``report`` is exported; an empty list when there are none."""
    problems: list[str] = []
    narrative = report.narrative.strip()
    if not narrative:
        problems.append("The narrative is empty.")
    elif len(narrative) < MIN_NARRATIVE_LENGTH:
        problems.append(f"The narrative is shorter than {MIN_NARRATIVE_LENGTH} characters.")
    if not report.transactions:
        problems.append("The report has no transactions.")
    if not report.typologies:
        problems.append("The report has no typology.")
    if not report.suspicion_codes:
        problems.append("The report has no suspicion code.")
    problems.extend(
        f"The code {code!r} must be letters, digits, '_', '.' or '-' only."
        for code in report.typologies + report.suspicion_codes
        if _CODE.fullmatch(code) is None
    )
    if report.deadline < report.determined_on:
        problems.append("The deadline is before the determination date.")
    preparer, reviewer = report.prepared_by.strip(), report.reviewed_by.strip()
    if not preparer:
        problems.append("The preparer is missing.")
    if not reviewer:
        problems.append("The reviewer is missing.")
    if preparer and preparer.casefold() == reviewer.casefold():
        problems.append("The reviewer is the same person as the preparer.")
    problems.extend(_unwritable_text(report))
    return problems


# --- values ----------------------------------------------------------------------------------


def _amount_text(minor: int, currency: str) -> str:
    """``150000000, "CNY"`` → ``"1500000.00"``: exact, at least two decimals."""
    exponent = currency_exponent(currency)
    decimals = max(2, exponent)
    whole, fraction = divmod(minor * 10 ** (decimals - exponent), 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}"


def _timestamp_text(moment: datetime) -> str:
    return moment.astimezone(REPORTING_ZONE).isoformat(timespec="seconds")


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _large_value_header(report: LargeValueReport) -> dict[str, _Value]:
    return {
        "institution_code": report.institution_code,
        "institution_name": report.institution_name,
        "report_ref": report.report_ref,
        "reported_on": report.reported_on.isoformat(),
        "transaction_day": report.transaction_day.isoformat(),
        "deadline": report.deadline.isoformat(),
        "criterion": report.criterion,
    }


def _suspicious_header(report: SuspiciousReport) -> dict[str, _Value]:
    return {
        "institution_code": report.institution_code,
        "institution_name": report.institution_name,
        "report_ref": report.report_ref,
        "case_ref": report.case_ref,
        "reported_on": report.reported_on.isoformat(),
        "determined_on": report.determined_on.isoformat(),
        "deadline": report.deadline.isoformat(),
    }


def _suspicion(report: SuspiciousReport) -> dict[str, _Value]:
    return {
        "typologies": report.typologies,
        "suspicion_codes": report.suspicion_codes,
        "narrative": report.narrative,
        "measures_taken": report.measures_taken,
        "prepared_by": report.prepared_by,
        "reviewed_by": report.reviewed_by,
    }


def _party(party: ReportParty) -> dict[str, _Value]:
    capital = party.registered_capital_minor
    return {
        "customer_ref": party.customer_ref,
        "name": party.name,
        "kind": party.kind,
        "id_type": party.id_type,
        "id_number": party.id_number,
        "nationality": party.nationality,
        "occupation_or_business": party.occupation_or_business,
        "address": party.address,
        "phone": party.phone,
        "legal_representative": party.legal_representative,
        "registered_capital": (
            None if capital is None else _amount_text(capital, REGISTERED_CAPITAL_CURRENCY)
        ),
    }


def _transaction(transaction: ReportTransaction) -> dict[str, _Value]:
    return {
        "transaction_ref": transaction.transaction_ref,
        "booked_at": _timestamp_text(transaction.booked_at),
        "direction": transaction.direction,
        "amount": _amount_text(transaction.amount_minor, transaction.currency),
        "currency": transaction.currency,
        "account_number": transaction.account_number,
        "counterparty_name": transaction.counterparty_name,
        "counterparty_account": transaction.counterparty_account,
        "counterparty_bank": transaction.counterparty_bank,
        "purpose": transaction.purpose,
        "channel": transaction.channel,
        "cash": _bool_text(transaction.cash),
        "cross_border": _bool_text(transaction.cross_border),
    }


# --- XML -------------------------------------------------------------------------------------


def _xml_text(value: str) -> str:
    return _LINE_BREAK.sub("\n", value)


def _xml_group(
    parent: ET.Element, tag: str, names: Sequence[str], values: Mapping[str, _Value]
) -> None:
    group = ET.SubElement(parent, tag)
    for name in names:
        value = values[name]
        if value is None:
            continue
        element = ET.SubElement(group, name)
        if isinstance(value, tuple):
            for item in value:
                ET.SubElement(element, _LIST_ITEMS[name]).text = _xml_text(item)
        else:
            element.text = _xml_text(value)


def _xml_document(
    root_tag: str,
    groups: Sequence[tuple[str, Sequence[str], Mapping[str, _Value]]],
    transactions: Sequence[ReportTransaction],
) -> bytes:
    # ``xmlns`` as a plain attribute keeps the default namespace without the global prefix
    # registry of ElementTree; parsers see every element in NAMESPACE.
    root = ET.Element(root_tag, {"xmlns": NAMESPACE, "schema_version": SCHEMA_VERSION})
    for tag, names, values in groups:
        _xml_group(root, tag, names, values)
    container = ET.SubElement(root, "transactions", {"count": str(len(transactions))})
    for transaction in transactions:
        _xml_group(container, "transaction", TRANSACTION_ELEMENTS, _transaction(transaction))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'.encode()


def large_value_xml(report: LargeValueReport) -> bytes:
    """The report as UTF-8 XML: ``header``, ``party``, ``transactions``. Raises
    :class:`ReportInvalid` when :func:`validate_large_value` finds problems."""
    problems = validate_large_value(report)
    if problems:
        raise ReportInvalid(problems)
    return _xml_document(
        LARGE_VALUE_ROOT,
        [
            ("header", LARGE_VALUE_HEADER_ELEMENTS, _large_value_header(report)),
            ("party", PARTY_ELEMENTS, _party(report.party)),
        ],
        report.transactions,
    )


def suspicious_xml(report: SuspiciousReport) -> bytes:
    """The report as UTF-8 XML: ``header``, ``suspicion``, ``party``, ``transactions``. Raises
    :class:`ReportInvalid` when :func:`validate_suspicious` finds problems."""
    problems = validate_suspicious(report)
    if problems:
        raise ReportInvalid(problems)
    return _xml_document(
        SUSPICIOUS_ROOT,
        [
            ("header", SUSPICIOUS_HEADER_ELEMENTS, _suspicious_header(report)),
            ("suspicion", SUSPICION_ELEMENTS, _suspicion(report)),
            ("party", PARTY_ELEMENTS, _party(report.party)),
        ],
        report.transactions,
    )


# --- CSV -------------------------------------------------------------------------------------


def _csv_cell(column: str, value: _Value) -> str:
    if value is None:
        return ""
    text = _CSV_LIST_SEPARATOR.join(value) if isinstance(value, tuple) else value
    if column not in AMOUNT_COLUMNS and text.startswith(_FORMULA_PREFIXES):
        return f"'{text}"  # a spreadsheet would otherwise run it as a formula
    return text


def _csv_text(
    columns: Sequence[str], rows: Iterable[tuple[Mapping[str, _Value], ReportTransaction]]
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for fields, transaction in rows:
        values = {**fields, **_transaction(transaction)}
        writer.writerow([_csv_cell(column, values[column]) for column in columns])
    return "\ufeff" + buffer.getvalue()


def _party_columns(party: ReportParty) -> dict[str, _Value]:
    return {f"party_{name}": value for name, value in _party(party).items()}


def large_value_csv(reports: Iterable[LargeValueReport]) -> str:
    """One row per transaction of every report, in order, with the report's header and party
    repeated; columns :data:`LARGE_VALUE_CSV_COLUMNS`. Text with a BOM, CRLF rows (RFC 4180).
    Raises :class:`ReportInvalid` for the first report that fails validation."""
    rows: list[tuple[Mapping[str, _Value], ReportTransaction]] = []
    for report in reports:
        problems = validate_large_value(report)
        if problems:
            raise ReportInvalid([f"Report {report.report_ref}: {p}" for p in problems])
        fields = {**_large_value_header(report), **_party_columns(report.party)}
        rows.extend((fields, transaction) for transaction in report.transactions)
    return _csv_text(LARGE_VALUE_CSV_COLUMNS, rows)


def suspicious_csv(report: SuspiciousReport) -> str:
    """One row per transaction with the header, suspicion and party repeated; columns
    :data:`SUSPICIOUS_CSV_COLUMNS`; ``typologies`` and ``suspicion_codes`` joined with ``;``.
    Raises :class:`ReportInvalid` when :func:`validate_suspicious` finds problems."""
    problems = validate_suspicious(report)
    if problems:
        raise ReportInvalid(problems)
    fields = {
        **_suspicious_header(report),
        **_suspicion(report),
        **_party_columns(report.party),
    }
    return _csv_text(SUSPICIOUS_CSV_COLUMNS, [(fields, t) for t in report.transactions])
