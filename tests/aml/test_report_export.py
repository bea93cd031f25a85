"""Tests for ebank.aml.report_export: the XML and CSV of large-value and suspicious reports."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ebank.aml.report_export import (
    AMOUNT_COLUMNS,
    LARGE_VALUE_CSV_COLUMNS,
    LARGE_VALUE_HEADER_ELEMENTS,
    NAMESPACE,
    PARTY_ELEMENTS,
    SUSPICION_ELEMENTS,
    SUSPICIOUS_CSV_COLUMNS,
    SUSPICIOUS_HEADER_ELEMENTS,
    TRANSACTION_ELEMENTS,
    LargeValueReport,
    ReportInvalid,
    ReportParty,
    ReportTransaction,
    SuspiciousReport,
    _csv_cell,  # the guard's unit
    large_value_csv,
    large_value_xml,
    suspicious_csv,
    suspicious_xml,
    validate_large_value,
    validate_suspicious,
)

NS = {"r": NAMESPACE}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "aml-reports.md"
NARRATIVE = (
    "客户张某名下账户于2024年3月1日集中收到多名个人转入资金共计150万元，"
    "当日即通过网上银行分笔转出至其他账户，资金快进快出、过渡性特征明显，"
    "与其申报的职业及收入水平不符。"
)


def person(**changes: object) -> ReportParty:
    party = ReportParty(
        customer_ref="C000123",
        name="张三",
        kind="individual",
        id_type="resident_id",
        id_number="110101199003071234",
        nationality="CHN",
        occupation_or_business="软件工程师",
        address="北京市朝阳区建国路1号",
        phone="13800000000",
        legal_representative=None,
        registered_capital_minor=None,
    )
    return dataclasses.replace(party, **changes)  # type: ignore[arg-type]


def company() -> ReportParty:
    return ReportParty(
        customer_ref="C000999",
        name="上海某某贸易有限公司",
        kind="company",
        id_type="business_licence",
        id_number="91310000MA1FL0000X",
        nationality="CHN",
        occupation_or_business="批发业",
        address="上海市浦东新区世纪大道100号",
        phone="021-50000000",
        legal_representative="李四",
        registered_capital_minor=1_000_000_000,
    )


def txn(ref: str = "T1", **changes: object) -> ReportTransaction:
    transaction = ReportTransaction(
        transaction_ref=ref,
        booked_at=datetime(2024, 3, 1, 2, 30, tzinfo=UTC),  # 10:30 in Beijing
        direction="out",
        amount_minor=150_000_000,
        currency="CNY",
        account_number="6222000011112222",
        counterparty_name="王五",
        counterparty_account="6217000033334444",
        counterparty_bank="中国银行北京分行",
        purpose="购房款",
        channel="online",
        cash=False,
        cross_border=False,
    )
    return dataclasses.replace(transaction, **changes)  # type: ignore[arg-type]


def large(**changes: object) -> LargeValueReport:
    report = LargeValueReport(
        report_ref="LV-2024-0001",
        institution_code="B1234567890",
        institution_name="示例银行股份有限公司",
        reported_on=date(2024, 3, 4),
        transaction_day=date(2024, 3, 1),
        deadline=date(2024, 3, 8),
        criterion="individual_domestic",
        party=person(),
        transactions=(txn("T1"), txn("T2", amount_minor=5_000, direction="in")),
    )
    return dataclasses.replace(report, **changes)  # type: ignore[arg-type]


def suspicious(**changes: object) -> SuspiciousReport:
    report = SuspiciousReport(
        report_ref="STR-2024-0007",
        institution_code="B1234567890",
        institution_name="示例银行股份有限公司",
        reported_on=date(2024, 3, 6),
        determined_on=date(2024, 3, 5),
        deadline=date(2024, 3, 12),
        case_ref="CASE-88",
        typologies=("pass_through", "fan_in"),
        suspicion_codes=("0101", "0203"),
        narrative=NARRATIVE,
        measures_taken="已暂停该客户网上银行及手机银行非柜面交易",
        party=person(),
        transactions=(txn("T1"), txn("T2", direction="in", amount_minor=49_999_900)),
        prepared_by="analyst.zhou",
        reviewed_by="officer.wu",
    )
    return dataclasses.replace(report, **changes)  # type: ignore[arg-type]


def parse(document: bytes) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - our own output, not untrusted input


def text(root: ET.Element, path: str) -> str | None:
    element = root.find(path, NS)
    assert element is not None, path
    return element.text


def read_csv(data: str) -> list[list[str]]:
    assert data.startswith("\ufeff")
    return list(csv.reader(io.StringIO(data[1:], newline="")))


# --- XML -------------------------------------------------------------------------------------


def test_large_value_xml_declaration_root_and_namespace() -> None:
    document = large_value_xml(large())
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = parse(document)
    assert root.tag == f"{{{NAMESPACE}}}large_value_report"
    assert root.attrib == {"schema_version": "1.0"}
    assert [child.tag.split("}")[1] for child in root] == ["header", "party", "transactions"]


def test_large_value_xml_header_party_and_transactions() -> None:
    root = parse(large_value_xml(large()))
    header = root.find("r:header", NS)
    assert header is not None
    assert [child.tag.split("}")[1] for child in header] == list(LARGE_VALUE_HEADER_ELEMENTS)
    assert text(root, "r:header/r:institution_code") == "B1234567890"
    assert text(root, "r:header/r:institution_name") == "示例银行股份有限公司"
    assert text(root, "r:header/r:report_ref") == "LV-2024-0001"
    assert text(root, "r:header/r:reported_on") == "2024-03-04"
    assert text(root, "r:header/r:transaction_day") == "2024-03-01"
    assert text(root, "r:header/r:deadline") == "2024-03-08"
    assert text(root, "r:header/r:criterion") == "individual_domestic"
    assert text(root, "r:party/r:name") == "张三"
    assert text(root, "r:party/r:id_number") == "110101199003071234"

    transactions = root.find("r:transactions", NS)
    assert transactions is not None
    assert transactions.get("count") == "2"
    rows = transactions.findall("r:transaction", NS)
    assert [text(row, "r:transaction_ref") for row in rows] == ["T1", "T2"]
    assert [child.tag.split("}")[1] for child in rows[0]] == list(TRANSACTION_ELEMENTS)
    assert text(rows[0], "r:amount") == "1500000.00"
    assert text(rows[1], "r:amount") == "50.00"
    assert text(rows[1], "r:direction") == "in"
    assert text(rows[0], "r:booked_at") == "2024-03-01T10:30:00+08:00"
    assert text(rows[0], "r:cash") == "false"
    assert text(rows[0], "r:counterparty_bank") == "中国银行北京分行"


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (150_000_000, "CNY", "1500000.00"),
        (1, "CNY", "0.01"),
        (10, "CNY", "0.10"),
        (100, "CNY", "1.00"),
        (123_456_789_012_345_678, "CNY", "1234567890123456.78"),
        (1234, "JPY", "1234.00"),  # yen have no minor unit: 1234 yen, not 12.34
        (1234, "KWD", "1.234"),  # three-digit minor unit: never rounded away
        (999_999, "USD", "9999.99"),
    ],
)
def test_amounts_are_exact_decimal_text(minor: int, currency: str, expected: str) -> None:
    report = large(transactions=(txn(amount_minor=minor, currency=currency),))
    root = parse(large_value_xml(report))
    assert text(root, "r:transactions/r:transaction/r:amount") == expected
    rows = read_csv(large_value_csv([report]))
    assert rows[1][LARGE_VALUE_CSV_COLUMNS.index("amount")] == expected


def test_timestamps_are_written_in_beijing_time() -> None:
    # 16:30 UTC on 1 March is 00:30 on 2 March in Beijing: the day follows Beijing time.
    late = txn(booked_at=datetime(2024, 3, 1, 16, 30, 5, 999_999, tzinfo=UTC))
    report = large(transaction_day=date(2024, 3, 2), transactions=(late,))
    root = parse(large_value_xml(report))
    assert text(root, "r:transactions/r:transaction/r:booked_at") == "2024-03-02T00:30:05+08:00"
    # any aware input is converted, not just UTC
    eastern = txn(booked_at=datetime(2024, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=-5))))
    report = large(transaction_day=date(2024, 3, 2), transactions=(eastern,))
    root = parse(large_value_xml(report))
    assert text(root, "r:transactions/r:transaction/r:booked_at") == "2024-03-02T00:30:00+08:00"


def test_transaction_outside_the_transaction_day_is_refused() -> None:
    late = txn("LATE", booked_at=datetime(2024, 3, 1, 16, 30, tzinfo=UTC))  # 2 March in Beijing
    report = large(transactions=(txn("T1"), late))
    assert validate_large_value(report) == [
        "Transaction LATE was not booked on the transaction day (Beijing time)."
    ]
    with pytest.raises(ReportInvalid) as caught:
        large_value_xml(report)
    assert caught.value.problems == tuple(validate_large_value(report))
    with pytest.raises(ReportInvalid, match="LV-2024-0001"):
        large_value_csv([large(), report])


def test_large_value_without_transactions_is_refused() -> None:
    report = large(transactions=())
    assert "The report has no transactions." in validate_large_value(report)
    with pytest.raises(ReportInvalid):
        large_value_xml(report)


def test_optional_party_fields_are_omitted_or_written() -> None:
    root = parse(large_value_xml(large()))
    assert root.find("r:party/r:legal_representative", NS) is None
    assert root.find("r:party/r:registered_capital", NS) is None

    root = parse(large_value_xml(large(party=company(), criterion="company_transfer")))
    party = root.find("r:party", NS)
    assert party is not None
    assert [child.tag.split("}")[1] for child in party] == list(PARTY_ELEMENTS)
    assert text(root, "r:party/r:legal_representative") == "李四"
    assert text(root, "r:party/r:registered_capital") == "10000000.00"
    assert text(root, "r:party/r:kind") == "company"


def test_suspicious_xml_structure_and_values() -> None:
    root = parse(suspicious_xml(suspicious()))
    assert root.tag == f"{{{NAMESPACE}}}suspicious_report"
    assert root.get("schema_version") == "1.0"
    assert [child.tag.split("}")[1] for child in root] == [
        "header",
        "suspicion",
        "party",
        "transactions",
    ]
    header = root.find("r:header", NS)
    suspicion = root.find("r:suspicion", NS)
    assert header is not None
    assert suspicion is not None
    assert [child.tag.split("}")[1] for child in header] == list(SUSPICIOUS_HEADER_ELEMENTS)
    assert [child.tag.split("}")[1] for child in suspicion] == list(SUSPICION_ELEMENTS)
    assert text(root, "r:header/r:determined_on") == "2024-03-05"
    assert text(root, "r:header/r:deadline") == "2024-03-12"
    assert text(root, "r:header/r:case_ref") == "CASE-88"
    typologies = [e.text for e in root.findall("r:suspicion/r:typologies/r:typology", NS)]
    assert typologies == ["pass_through", "fan_in"]
    codes = [e.text for e in root.findall("r:suspicion/r:suspicion_codes/r:suspicion_code", NS)]
    assert codes == ["0101", "0203"]
    assert text(root, "r:suspicion/r:narrative") == NARRATIVE
    assert text(root, "r:suspicion/r:measures_taken") == "已暂停该客户网上银行及手机银行非柜面交易"
    assert text(root, "r:suspicion/r:reviewed_by") == "officer.wu"
    amounts = [e.text for e in root.findall("r:transactions/r:transaction/r:amount", NS)]
    assert amounts == ["1500000.00", "499999.00"]


def test_narrative_with_markup_and_chinese_survives_round_trip() -> None:
    narrative = (
        NARRATIVE + " 特征：<script>alert(\"x\")</script> & 金额>50万 ]]> &amp; 「引号」'单' 😀"
    )
    document = suspicious_xml(suspicious(narrative=narrative, measures_taken="冻结 <账户> & 报警"))
    assert b"<script>" not in document  # escaped, not injected as markup
    root = parse(document)
    assert text(root, "r:suspicion/r:narrative") == narrative
    assert text(root, "r:suspicion/r:measures_taken") == "冻结 <账户> & 报警"


def test_narrative_line_endings_are_normalised() -> None:
    narrative = NARRATIVE + "\r\n第二段\r第三段\n第四段"
    document = suspicious_xml(suspicious(narrative=narrative))
    assert b"\r" not in document  # the bytes, not only what a parser makes of them
    root = parse(document)
    assert text(root, "r:suspicion/r:narrative") == NARRATIVE + "\n第二段\n第三段\n第四段"


_XML_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs", "Cc", "Cn")), st.sampled_from("\t\n<>&'\"")
    ),
    max_size=200,
)


@given(extra=_XML_TEXT)
def test_any_xml_text_round_trips(extra: str) -> None:
    narrative = NARRATIVE + extra
    root = parse(suspicious_xml(suspicious(narrative=narrative)))
    assert text(root, "r:suspicion/r:narrative") == narrative


def test_control_characters_are_reported_not_written() -> None:
    report = suspicious(narrative=NARRATIVE + "\x00", party=person(address="北京\x1b市"))
    assert validate_suspicious(report) == [
        "The field narrative contains control characters that XML cannot carry.",
        "The field party.address contains control characters that XML cannot carry.",
    ]
    with pytest.raises(ReportInvalid):
        suspicious_xml(report)
    bad_purpose = large(transactions=(txn("T1"), txn("T2", purpose="a\x0bb")))
    assert validate_large_value(bad_purpose) == [
        "The field transactions[1].purpose contains control characters that XML cannot carry."
    ]


def test_xml_is_deterministic() -> None:
    assert suspicious_xml(suspicious()) == suspicious_xml(suspicious())
    assert large_value_xml(large()) == large_value_xml(large())
    # a different value gives different bytes (the comparison above is not vacuous)
    assert large_value_xml(large()) != large_value_xml(large(report_ref="LV-2024-0002"))


# --- CSV -------------------------------------------------------------------------------------


def test_large_value_csv_bom_header_and_one_row_per_transaction() -> None:
    second = large(
        report_ref="LV-2024-0002",
        party=company(),
        criterion="cash",
        transactions=(txn("T9", cash=True, channel="counter"),),
    )
    data = large_value_csv([large(), second])
    assert data.startswith("\ufeffinstitution_code,")
    assert "\r\n" in data
    rows = read_csv(data)
    assert tuple(rows[0]) == LARGE_VALUE_CSV_COLUMNS
    assert len(rows) == 1 + 3
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["transaction_ref"] for r in records] == ["T1", "T2", "T9"]
    assert [r["report_ref"] for r in records] == ["LV-2024-0001", "LV-2024-0001", "LV-2024-0002"]
    assert records[0]["party_name"] == "张三"
    assert records[1]["institution_name"] == "示例银行股份有限公司"  # header repeated
    assert records[1]["deadline"] == "2024-03-08"
    assert records[0]["party_legal_representative"] == ""
    assert records[2]["party_registered_capital"] == "10000000.00"
    assert records[2]["criterion"] == "cash"
    assert records[2]["cash"] == "true"
    assert records[0]["booked_at"] == "2024-03-01T10:30:00+08:00"
    assert records[0]["amount"] == "1500000.00"


def test_large_value_csv_of_no_reports_is_the_header() -> None:
    assert read_csv(large_value_csv([])) == [list(LARGE_VALUE_CSV_COLUMNS)]


def test_suspicious_csv_rows_carry_the_report_fields() -> None:
    narrative = NARRATIVE + '\n第二段，含逗号, "引号" 与 <标签> & 符号'
    rows = read_csv(suspicious_csv(suspicious(narrative=narrative)))
    assert tuple(rows[0]) == SUSPICIOUS_CSV_COLUMNS
    assert len(rows) == 3
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    for record in records:
        assert record["narrative"] == narrative
        assert record["typologies"] == "pass_through;fan_in"
        assert record["suspicion_codes"] == "0101;0203"
        assert record["case_ref"] == "CASE-88"
        assert record["prepared_by"] == "analyst.zhou"
    assert [r["amount"] for r in records] == ["1500000.00", "499999.00"]


@pytest.mark.parametrize(
    "dangerous",
    ['=HYPERLINK("http://x")', "+86 138 0000 0000", "-1+1", "@SUM(A1)", "\t=1", "\r=1"],
)
def test_csv_formula_guard(dangerous: str) -> None:
    report = suspicious(
        party=person(name=dangerous), transactions=(txn(counterparty_name=dangerous),)
    )
    records = read_csv(suspicious_csv(report))
    record = dict(zip(records[0], records[1], strict=True))
    assert record["party_name"] == "'" + dangerous
    assert record["counterparty_name"] == "'" + dangerous
    assert record["party_phone"] == "13800000000"  # harmless text untouched
    assert not record["amount"].startswith("'")


def test_csv_amount_columns_are_not_guarded() -> None:
    assert {"amount", "party_registered_capital"} == AMOUNT_COLUMNS
    rows = read_csv(large_value_csv([large(party=company())]))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["amount"] == "1500000.00"
    assert record["party_registered_capital"] == "10000000.00"
    assert record["party_phone"] == "021-50000000"
    # the exemption itself: an amount cell is written as is, any other cell is guarded
    assert _csv_cell("amount", "-1.00") == "-1.00"
    assert _csv_cell("party_registered_capital", "+1.00") == "+1.00"
    assert _csv_cell("purpose", "-1.00") == "'-1.00"


def test_csv_is_deterministic() -> None:
    assert suspicious_csv(suspicious()) == suspicious_csv(suspicious())
    assert large_value_csv([large(), large()]) == large_value_csv([large(), large()])


def test_suspicious_csv_refuses_an_invalid_report() -> None:
    with pytest.raises(ReportInvalid, match=r"The narrative is empty\."):
        suspicious_csv(suspicious(narrative=""))


# --- validation ------------------------------------------------------------------------------


def test_a_complete_suspicious_report_has_no_problems() -> None:
    assert validate_suspicious(suspicious()) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"narrative": ""}, "The narrative is empty."),
        ({"narrative": "   \n\t "}, "The narrative is empty."),
        ({"narrative": "资金快进快出"}, "The narrative is shorter than 50 characters."),
        ({"narrative": "字" * 49 + "      "}, "The narrative is shorter than 50 characters."),
        ({"transactions": ()}, "The report has no transactions."),
        ({"typologies": ()}, "The report has no typology."),
        ({"suspicion_codes": ()}, "The report has no suspicion code."),
        (
            {"typologies": ("pass_through", "fan in;x")},
            "The code 'fan in;x' must be letters, digits, '_', '.' or '-' only.",
        ),
        ({"deadline": date(2024, 3, 4)}, "The deadline is before the determination date."),
        ({"reviewed_by": "analyst.zhou"}, "The reviewer is the same person as the preparer."),
        ({"reviewed_by": " Analyst.Zhou "}, "The reviewer is the same person as the preparer."),
        ({"prepared_by": " "}, "The preparer is missing."),
        ({"reviewed_by": ""}, "The reviewer is missing."),
    ],
)
def test_validate_suspicious_finds_each_problem(changes: dict[str, object], problem: str) -> None:
    report = suspicious(**changes)
    assert validate_suspicious(report) == [problem]
    with pytest.raises(ReportInvalid) as caught:
        suspicious_xml(report)
    assert caught.value.problems == (problem,)


def test_validate_suspicious_boundaries() -> None:
    assert validate_suspicious(suspicious(narrative="字" * 50)) == []
    assert validate_suspicious(suspicious(deadline=date(2024, 3, 5))) == []  # same day is fine


def test_validate_suspicious_lists_every_problem() -> None:
    report = suspicious(narrative="", transactions=(), typologies=(), reviewed_by="analyst.zhou")
    assert validate_suspicious(report) == [
        "The narrative is empty.",
        "The report has no transactions.",
        "The report has no typology.",
        "The reviewer is the same person as the preparer.",
    ]


# --- malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"booked_at": datetime(2024, 3, 1, 10, 30)}, "timezone-aware"),  # naive
        ({"direction": "sideways"}, "Direction must be one of"),
        ({"amount_minor": 0}, "positive whole number"),
        ({"amount_minor": -100}, "positive whole number"),
        ({"amount_minor": 1.5}, "positive whole number"),
        ({"amount_minor": True}, "positive whole number"),
        ({"currency": "cny"}, "upper-case ISO 4217"),
        ({"currency": "XXQ"}, "not a known currency"),
        ({"cash": "no"}, "must be booleans"),
    ],
)
def test_malformed_transactions_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(txn(), **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "robot"}, "Party kind"),
        ({"nationality": "CN"}, "alpha-3"),
        ({"registered_capital_minor": -1}, "Registered capital"),
    ],
)
def test_malformed_parties_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(person(), **changes)


def test_malformed_reports_are_refused() -> None:
    with pytest.raises(ValueError, match="Criterion"):
        large(criterion="big")
    with pytest.raises(ValueError, match="must be dates"):
        suspicious(determined_on=datetime(2024, 3, 5, tzinfo=UTC))


# --- documentation ---------------------------------------------------------------------------


def test_docs_list_every_element_and_column() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", DOCS.read_text(encoding="utf-8")))
    names = (
        set(LARGE_VALUE_CSV_COLUMNS)
        | set(SUSPICIOUS_CSV_COLUMNS)
        | {"large_value_report", "suspicious_report", "typology", "suspicion_code"}
    )
    assert names - documented == set()
