"""Bad onboarding input: a problem+json 422 with a stable code and field, and nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import StaffLogins
from tests.customers.customer_payloads import API, company_body, count_rows, individual_body
from tests.factories import resident_id, uscc

from ebank.runtime import Runtime
from ebank.staff.permissions import Role

INDIVIDUALS = f"{API}/customers/individuals"
COMPANIES = f"{API}/customers/companies"
TABLES = ("customers", "customer_documents", "audit_records")

Body = dict[str, Any]
Case = tuple[Callable[[Body], None], str, str]


def _bad_resident_id_checksum(body: Body) -> None:
    number = resident_id(1)
    body["document"]["number"] = number[:-1] + ("0" if number[-1] != "0" else "1")


def _individual_with_uscc(body: Body) -> None:
    body["document"] = {"doc_type": "uscc", "number": uscc(1)}


def _expired(body: Body) -> None:
    body["document"]["expires_on"] = "2026-11-22"


def _name_65(body: Body) -> None:
    body["name"] = "x" * 65


def _unknown_field(body: Body) -> None:
    body["nickname"] = "Xiao Ming"


def _missing_mobile(body: Body) -> None:
    del body["mobile"]


def _name_not_a_string(body: Body) -> None:
    body["name"] = 12345


def _vulnerable_not_a_boolean(body: Body) -> None:
    body["vulnerable"] = "perhaps"


def _document_not_an_object(body: Body) -> None:
    body["document"] = "110105199003070017"


def _unknown_doc_type(body: Body) -> None:
    body["document"]["doc_type"] = "driving_licence"


def _blank_name(body: Body) -> None:
    body["name"] = "   "


def _float_turnover(body: Body) -> None:
    body["expected_monthly_turnover"] = 1000.5


def _bad_date(body: Body) -> None:
    body["document"]["expires_on"] = "31/12/2030"


def _bad_country(body: Body) -> None:
    body["document"]["issuing_country"] = "C1N"


INDIVIDUAL_CASES: list[tuple[str, Callable[[Body], None], str, str]] = [
    ("bad-id-checksum", _bad_resident_id_checksum, "invalid_resident_id", "document.number"),
    (
        "invalid-mobile",
        lambda b: b.update(mobile="12345678901"),
        "invalid_mobile",
        "mobile",
    ),
    ("uscc-for-a-person", _individual_with_uscc, "document_type_not_allowed", "document.doc_type"),
    ("expired-document", _expired, "document_expired", "document.expires_on"),
    ("unknown-field", _unknown_field, "unknown_field", "nickname"),
    ("missing-field", _missing_mobile, "field_required", "mobile"),
    ("name-not-a-string", _name_not_a_string, "not_a_string", "name"),
    ("vulnerable-not-a-boolean", _vulnerable_not_a_boolean, "not_a_boolean", "vulnerable"),
    ("document-not-an-object", _document_not_an_object, "invalid_body", "document"),
    ("unknown-doc-type", _unknown_doc_type, "invalid_choice", "document.doc_type"),
    ("blank-name", _blank_name, "field_required", "name"),
    ("float-amount", _float_turnover, "invalid_amount", "expected_monthly_turnover"),
    ("bad-date", _bad_date, "invalid_date", "document.expires_on"),
    ("bad-country", _bad_country, "invalid_country", "document.issuing_country"),
]


def _assert_nothing_created(rt: Runtime, before: tuple[int, ...]) -> None:
    assert tuple(count_rows(rt, t) for t in TABLES) == before


def _counts(rt: Runtime) -> tuple[int, ...]:
    return tuple(count_rows(rt, t) for t in TABLES)


@pytest.mark.parametrize("case", [pytest.param(case[1:], id=case[0]) for case in INDIVIDUAL_CASES])
def test_invalid_individual_is_refused_with_code_and_field(
    client: TestClient, staff: StaffLogins, rt: Runtime, case: Case
) -> None:
    change, code, field = case
    teller = staff.headers(Role.TELLER)
    before = _counts(rt)
    body = individual_body(1)
    change(body)
    response = client.post(INDIVIDUALS, headers=teller, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert problem["code"] == code
    assert problem["field"] == field
    assert problem["type"].endswith("/" + code)
    _assert_nothing_created(rt, before)


def test_oversize_name_is_too_long(client: TestClient, staff: StaffLogins, rt: Runtime) -> None:
    teller = staff.headers(Role.TELLER)
    before = _counts(rt)
    body = individual_body(1, name="x" * 65)
    response = client.post(INDIVIDUALS, headers=teller, json=body)
    assert response.status_code == 422, response.text
    _assert_nothing_created(rt, before)
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("too_long", "name")
    assert problem["errors"][0]["message"] == "This field is limited to 64 characters."


def test_a_64_character_name_is_accepted(client: TestClient, staff: StaffLogins) -> None:
    body = individual_body(1, name="x" * 64)
    response = client.post(INDIVIDUALS, headers=staff.headers(Role.TELLER), json=body)
    assert response.status_code == 201, response.text


def test_oversize_chinese_name_counts_characters_not_bytes(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    before = _counts(rt)
    body = individual_body(1, name="名" * 65)
    response = client.post(INDIVIDUALS, headers=teller, json=body)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("too_long", "name")
    _assert_nothing_created(rt, before)
    body = individual_body(1, name="名" * 64)
    assert client.post(INDIVIDUALS, headers=teller, json=body).status_code == 201


COMPANY_CASES: list[tuple[str, Callable[[Body], None], str, str]] = [
    (
        "bad-uscc",
        lambda b: b["document"].update(number=uscc(1)[:-1] + ("0" if uscc(1)[-1] != "0" else "1")),
        "invalid_uscc",
        "document.number",
    ),
    (
        "resident-id-for-a-company",
        lambda b: b.update(document={"doc_type": "resident_id", "number": resident_id(1)}),
        "document_type_not_allowed",
        "document.doc_type",
    ),
    (
        "negative-capital",
        lambda b: b.update(registered_capital=-1),
        "amount_not_positive",
        "registered_capital",
    ),
    (
        "float-capital",
        lambda b: b.update(registered_capital=1.5),
        "invalid_amount",
        "registered_capital",
    ),
    (
        "capital-as-text",
        lambda b: b.update(registered_capital="1000"),
        "invalid_amount",
        "registered_capital",
    ),
    (
        "missing-legal-representative",
        lambda b: b.pop("legal_representative"),
        "field_required",
        "legal_representative",
    ),
    (
        "blank-business-scope",
        lambda b: b.update(business_scope=""),
        "field_required",
        "business_scope",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(case[1:], id=case[0]) for case in COMPANY_CASES])
def test_invalid_company_is_refused_with_code_and_field(
    client: TestClient, staff: StaffLogins, rt: Runtime, case: Case
) -> None:
    change, code, field = case
    teller = staff.headers(Role.TELLER)
    before = _counts(rt)
    body = company_body(1)
    change(body)
    response = client.post(COMPANIES, headers=teller, json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["field"]) == (code, field)
    _assert_nothing_created(rt, before)


def test_malformed_json_is_a_422_not_a_500(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    headers = {**staff.headers(Role.TELLER), "Content-Type": "application/json"}
    before = _counts(rt)
    response = client.post(INDIVIDUALS, headers=headers, content=b'{"name": "x", ')
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "malformed_json"
    _assert_nothing_created(rt, before)


def test_malformed_json_names_no_field(client: TestClient, staff: StaffLogins) -> None:
    headers = {**staff.headers(Role.TELLER), "Content-Type": "application/json"}
    response = client.post(INDIVIDUALS, headers=headers, content=b'{"name": "x", ')
    assert response.status_code == 422
    assert "field" not in response.json()


@pytest.mark.parametrize(
    "payload", [[], "text", 42, None], ids=["list", "string", "number", "null"]
)
def test_a_body_that_is_not_an_object_is_refused(
    client: TestClient, staff: StaffLogins, rt: Runtime, payload: object
) -> None:
    teller = staff.headers(Role.TELLER)
    before = _counts(rt)
    response = client.post(INDIVIDUALS, headers=teller, json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("invalid_body", "field_required")
    _assert_nothing_created(rt, before)


def test_messages_follow_the_language_and_say_so(client: TestClient, staff: StaffLogins) -> None:
    body = individual_body(1)
    _bad_resident_id_checksum(body)
    english = client.post(INDIVIDUALS, headers=staff.headers(Role.TELLER, "en"), json=body)
    assert english.status_code == 422
    assert english.headers["content-language"] == "en"
    assert english.json()["detail"] == (
        "The identity card number is not valid: its check character is wrong."
    )
    chinese = client.post(INDIVIDUALS, headers=staff.headers(Role.TELLER, "zh-CN"), json=body)
    assert chinese.status_code == 422
    assert chinese.headers["content-language"] == "zh-CN"
    assert chinese.json()["code"] == "invalid_resident_id"


def test_search_with_an_invalid_mobile_is_a_field_error(
    client: TestClient, staff: StaffLogins
) -> None:
    response = client.get(
        f"{API}/customers", headers=staff.headers(Role.TELLER), params={"mobile": "0000"}
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("invalid_mobile", "mobile")
