"""Onboarding individuals and companies through the API: masked output, encryption at rest,
keyed-hash lookups, one customer per identity document, extra documents."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient
from tests.conftest import StaffLogins
from tests.customers.customer_payloads import (
    API,
    company_body,
    count_rows,
    individual_body,
    raw_rows,
    rows_containing,
)
from tests.factories import mobile, resident_id, uscc

from ebank.runtime import Runtime
from ebank.staff.permissions import Role

INDIVIDUALS = f"{API}/customers/individuals"
COMPANIES = f"{API}/customers/companies"


def test_individual_onboarding_returns_masked_data_only(
    client: TestClient, staff: StaffLogins
) -> None:
    number, phone = resident_id(1), mobile(1)
    response = client.post(
        INDIVIDUALS, headers=staff.headers(Role.TELLER), json=individual_body(1, name="王小明")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "individual"
    assert body["name_masked"] == "**明"
    assert body["mobile_masked"] == "134****0001"
    assert body["gender"] == "male"  # 17th digit of resident_id(1) is odd
    assert body["occupation"] == "engineer"
    assert body["status"] == "active"
    [document] = body["documents"]
    assert document["doc_type"] == "resident_id"
    assert document["number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert document["issuing_country"] == "CHN"
    assert body["created_with_document_id"] == document["id"]
    for secret in (number, phone, "王小明"):
        assert secret not in response.text


def test_gender_comes_from_the_resident_id_and_passports_have_none(
    client: TestClient, staff: StaffLogins
) -> None:
    teller = staff.headers(Role.TELLER)
    female = client.post(INDIVIDUALS, headers=teller, json=individual_body(2))
    assert female.status_code == 201, female.text
    assert female.json()["gender"] == "female"  # 17th digit 2 is even
    passport = individual_body(3)
    passport["document"] = {"doc_type": "passport", "number": "e12345678"}
    response = client.post(INDIVIDUALS, headers=teller, json=passport)
    assert response.status_code == 201, response.text
    assert response.json()["gender"] is None
    assert response.json()["documents"][0]["number_masked"] == "E123*5678"
    assert "E12345678" not in response.text


def test_company_onboarding_returns_masked_data_only(
    client: TestClient, staff: StaffLogins
) -> None:
    code = uscc(7)
    body = company_body(7)
    response = client.post(COMPANIES, headers=staff.headers(Role.SUPERVISOR), json=body)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["kind"] == "company"
    assert out["gender"] is None
    assert out["name_masked"] == "*******司"
    assert out["legal_representative_masked"] == "**海"
    assert out["registered_capital"] == 10_000_000
    assert out["business_scope"] == "wholesale of tea"
    assert out["mobile_masked"] == "134****0007"
    [document] = out["documents"]
    assert document["doc_type"] == "uscc"
    assert document["number_masked"] == code[:4] + "*" * 10 + code[-4:]
    assert out["created_with_document_id"] == document["id"]
    for secret in (code, body["mobile"], body["name"], "赵大海"):
        assert secret not in response.text


def test_reads_and_searches_return_masked_data_only(client: TestClient, staff: StaffLogins) -> None:
    created = client.post(
        INDIVIDUALS, headers=staff.headers(Role.TELLER), json=individual_body(4)
    ).json()
    reader = staff.headers(Role.RISK_ANALYST)
    for response in (
        client.get(f"{API}/customers/{created['id']}", headers=reader),
        client.get(f"{API}/customers", headers=reader, params={"mobile": mobile(4)}),
        client.get(f"{API}/customers", headers=reader, params={"document_number": resident_id(4)}),
    ):
        assert response.status_code == 200, response.text
        for secret in (resident_id(4), mobile(4), "王小明"):
            assert secret not in response.text


def test_personal_data_is_encrypted_at_rest(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    person = client.post(INDIVIDUALS, headers=teller, json=individual_body(5, name="欧阳娜娜"))
    company = client.post(COMPANIES, headers=teller, json=company_body(5))
    assert person.status_code == 201, person.text
    assert company.status_code == 201, company.text
    secrets = [
        "欧阳娜娜",
        resident_id(5),
        mobile(5),
        "星河贸易有限公司",
        uscc(5),
        mobile(50_005),
        "赵大海",
        "1990-03-07",  # the birth date read from the ID number
    ]
    customers = raw_rows(rt, "customers")
    documents = raw_rows(rt, "customer_documents")
    assert len(customers) == 2
    assert len(documents) == 2
    assert rows_containing(customers + documents, secrets) == []
    # The lookup hashes are keyed, not a bare digest anyone could recompute from a guess.
    hashes = {row["name_hash"] for row in customers} | {row["mobile_hash"] for row in customers}
    for guess in ("欧阳娜娜", mobile(5)):
        assert hashlib.sha256(guess.encode()).hexdigest() not in hashes
    # ...yet the bank itself can still decrypt what it stored.
    [stored] = [row for row in customers if row["kind"] == "individual"]
    assert rt.cipher.decrypt(bytes(stored["name_enc"]), purpose="customer.name") == "欧阳娜娜"


def test_lookup_by_keyed_hash_finds_exact_matches_only(
    client: TestClient, staff: StaffLogins
) -> None:
    teller = staff.headers(Role.TELLER)
    wanted = client.post(INDIVIDUALS, headers=teller, json=individual_body(8, name="陈静"))
    other = client.post(INDIVIDUALS, headers=teller, json=individual_body(9, name="陈晶"))
    assert wanted.status_code == 201, wanted.text
    assert other.status_code == 201, other.text
    wanted_id = wanted.json()["id"]
    reader = staff.headers(Role.AUDITOR)

    def found(**params: str) -> list[int]:
        response = client.get(f"{API}/customers", headers=reader, params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    number = resident_id(8)
    assert found(document_number=number) == [wanted_id]
    assert found(document_number=f" {number[:6]} {number[6:]} ") == [wanted_id]
    assert found(mobile=mobile(8)) == [wanted_id]
    assert found(mobile=f"+86 {mobile(8)[:3]}-{mobile(8)[3:7]}-{mobile(8)[7:]}") == [wanted_id]
    assert found(name="陈静") == [wanted_id]
    assert found(name=" 陈静 ") == [wanted_id]
    # Near misses: one character, one digit off, or a different (valid) number.
    assert found(name="陈") == []
    assert found(name="陈静静") == []
    assert found(mobile=mobile(8)[:-1] + "7") == []
    assert found(document_number=number[:-1]) == []
    assert found(document_number=resident_id(10)) == []


def test_search_without_criteria_is_refused(client: TestClient, staff: StaffLogins) -> None:
    response = client.get(f"{API}/customers", headers=staff.headers(Role.TELLER))
    assert response.status_code == 422
    assert response.json()["code"] == "search_criteria_required"


ENDS_IN_X = 48  # resident_id(48) ends in the check character X


@pytest.mark.parametrize(
    "second_number",
    [
        pytest.param(resident_id(ENDS_IN_X), id="same"),
        pytest.param(resident_id(ENDS_IN_X).lower(), id="lowercase-x"),
        pytest.param(
            " ".join((resident_id(ENDS_IN_X)[:6], resident_id(ENDS_IN_X)[6:])), id="with-spaces"
        ),
    ],
)
def test_same_document_twice_is_a_conflict_and_creates_nothing(
    client: TestClient, staff: StaffLogins, rt: Runtime, second_number: str
) -> None:
    assert resident_id(ENDS_IN_X).endswith("X")
    teller = staff.headers(Role.TELLER)
    first = client.post(INDIVIDUALS, headers=teller, json=individual_body(ENDS_IN_X, name="张三"))
    assert first.status_code == 201, first.text
    before = (
        count_rows(rt, "customers"),
        count_rows(rt, "customer_documents"),
        count_rows(rt, "audit_records"),
    )
    again = individual_body(12, name="李四")
    again["document"]["number"] = second_number
    response = client.post(INDIVIDUALS, headers=teller, json=again)
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "document_already_registered"
    assert problem["field"] == "document.number"
    assert response.headers["content-type"].startswith("application/problem+json")
    after = (
        count_rows(rt, "customers"),
        count_rows(rt, "customer_documents"),
        count_rows(rt, "audit_records"),
    )
    assert after == before


def test_same_company_code_twice_is_a_conflict(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    assert client.post(COMPANIES, headers=teller, json=company_body(3)).status_code == 201
    response = client.post(
        COMPANIES, headers=teller, json=company_body(3, name="另一家公司", mobile=mobile(77))
    )
    assert response.status_code == 409
    assert response.json()["code"] == "document_already_registered"
    assert count_rows(rt, "customers") == 1


def test_a_second_document_of_another_type_with_the_same_number_is_allowed(
    client: TestClient, staff: StaffLogins
) -> None:
    teller = staff.headers(Role.TELLER)
    created = client.post(
        INDIVIDUALS, headers=teller, json=individual_body(13, doc_type="temporary_id")
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    first_doc = customer["documents"][0]["id"]
    response = client.post(
        f"{API}/customers/{customer['id']}/documents",
        headers=teller,
        json={"doc_type": "resident_id", "number": resident_id(13), "expires_on": "2036-01-01"},
    )
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["doc_type"] == "resident_id"
    assert added["expires_on"] == "2036-01-01"
    assert resident_id(13) not in response.text
    passport = client.post(
        f"{API}/customers/{customer['id']}/documents",
        headers=teller,
        json={"doc_type": "passport", "number": "G98765432", "issuing_country": "chn"},
    )
    assert passport.status_code == 201, passport.text
    assert passport.json()["issuing_country"] == "CHN"
    shown = client.get(f"{API}/customers/{customer['id']}", headers=teller).json()
    assert [d["doc_type"] for d in shown["documents"]] == [
        "temporary_id",
        "resident_id",
        "passport",
    ]
    assert shown["created_with_document_id"] == first_doc
    # The new document finds the customer too.
    found = client.get(
        f"{API}/customers", headers=teller, params={"document_number": "G98765432"}
    ).json()
    assert [c["id"] for c in found] == [customer["id"]]


def test_a_document_of_another_customer_is_refused(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    client.post(INDIVIDUALS, headers=teller, json=individual_body(14, name="张三"))
    other = client.post(INDIVIDUALS, headers=teller, json=individual_body(15, name="李四")).json()
    documents = count_rows(rt, "customer_documents")
    for doc_type in ("resident_id", "temporary_id"):  # the same person's number on either card
        response = client.post(
            f"{API}/customers/{other['id']}/documents",
            headers=teller,
            json={"doc_type": doc_type, "number": resident_id(14)},
        )
        assert response.status_code == 409, (doc_type, response.text)
        assert response.json()["code"] == "document_already_registered"
    assert count_rows(rt, "customer_documents") == documents


def test_the_same_id_number_on_a_temporary_card_cannot_onboard_a_second_customer(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    first = client.post(INDIVIDUALS, headers=teller, json=individual_body(16, name="张三"))
    assert first.status_code == 201, first.text
    twin = individual_body(17, name="张三丰")
    twin["document"] = {"doc_type": "temporary_id", "number": resident_id(16)}
    response = client.post(INDIVIDUALS, headers=teller, json=twin)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "document_already_registered"
    assert count_rows(rt, "customers") == 1


def test_documents_are_checked_against_the_kind_of_customer(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    company = client.post(COMPANIES, headers=teller, json=company_body(18)).json()
    response = client.post(
        f"{API}/customers/{company['id']}/documents",
        headers=teller,
        json={"doc_type": "resident_id", "number": resident_id(18)},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "document_type_not_allowed"
    assert response.json()["field"] == "document.doc_type"
    person = client.post(INDIVIDUALS, headers=teller, json=individual_body(19)).json()
    expired = client.post(
        f"{API}/customers/{person['id']}/documents",
        headers=teller,
        json={"doc_type": "passport", "number": "E11112222", "expires_on": "2026-11-22"},
    )
    assert expired.status_code == 422
    assert expired.json()["code"] == "document_expired"
    bad = client.post(
        f"{API}/customers/{person['id']}/documents",
        headers=teller,
        json={"doc_type": "resident_id", "number": resident_id(20)[:-1] + "0"},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_resident_id"
    assert count_rows(rt, "customer_documents") == 2


def test_adding_a_document_is_audited_with_the_masked_number(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    teller = staff.headers(Role.TELLER)
    person = client.post(INDIVIDUALS, headers=teller, json=individual_body(21)).json()
    response = client.post(
        f"{API}/customers/{person['id']}/documents",
        headers=teller,
        json={"doc_type": "hk_macao_permit", "number": "H1234567890"},
    )
    assert response.status_code == 201, response.text
    records = [
        r
        for r in raw_rows(rt, "audit_records")
        if r["action"] == "customer.document_add" and r["entity_id"] == str(person["id"])
    ]
    assert len(records) == 1
    after = json.loads(records[0]["after_json"])
    assert after == {
        "id": response.json()["id"],
        "type": "hk_macao_permit",
        "number": "H123***7890",
    }
    assert records[0]["actor_role"] == "teller"


def test_a_document_expiring_today_is_still_accepted(
    client: TestClient, staff: StaffLogins
) -> None:
    body = individual_body(22)
    body["document"]["expires_on"] = "2026-11-23"  # today in Shanghai at the test clock
    response = client.post(INDIVIDUALS, headers=staff.headers(Role.TELLER), json=body)
    assert response.status_code == 201, response.text
    assert response.json()["documents"][0]["expires_on"] == "2026-11-23"
