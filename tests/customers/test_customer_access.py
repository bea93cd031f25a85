"""Who may read and change customers, unknown and out-of-range ids, and the KYC update."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import StaffLogins
from tests.customers.customer_payloads import API, company_body, individual_body, raw_rows
from tests.factories import resident_id

from ebank.runtime import Runtime
from ebank.staff.permissions import Permission, Role, roles_with

READERS = {
    Role.TELLER,
    Role.SUPERVISOR,
    Role.RISK_ANALYST,
    Role.AML_OFFICER,
    Role.DISPUTE_OFFICER,
    Role.AUDITOR,
}
WRITERS = {Role.TELLER, Role.SUPERVISOR}


def test_the_roles_match_the_bank_s_rules() -> None:
    assert roles_with(Permission.CUSTOMERS_READ) == READERS
    assert roles_with(Permission.CUSTOMERS_WRITE) == WRITERS


def _routes(customer_id: int, n: int) -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(method, path, body, needs write) for every customers route; bodies are valid."""
    return [
        ("POST", f"{API}/customers/individuals", individual_body(100 + n), True),
        ("POST", f"{API}/customers/companies", company_body(100 + n), True),
        ("GET", f"{API}/customers?document_number={resident_id(1)}", None, False),
        ("GET", f"{API}/customers/{customer_id}", None, False),
        ("PATCH", f"{API}/customers/{customer_id}", {"occupation": "teacher"}, True),
        (
            "POST",
            f"{API}/customers/{customer_id}/documents",
            {"doc_type": "passport", "number": f"E{10_000_000 + n}"},
            True,
        ),
    ]


@pytest.fixture
def customer_id(client: TestClient, staff: StaffLogins) -> int:
    response = client.post(
        f"{API}/customers/individuals", headers=staff.headers(Role.TELLER), json=individual_body(1)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_every_customers_route_refuses_anonymous_callers(
    client: TestClient, customer_id: int
) -> None:
    for method, path, body, _ in _routes(customer_id, 0):
        for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["code"] == "not_authenticated"


def test_every_customers_route_checks_the_role(
    client: TestClient, staff: StaffLogins, customer_id: int
) -> None:
    for n, role in enumerate(Role):
        headers = staff.headers(role)
        for method, path, body, writes in _routes(customer_id, n):
            allowed = role in (WRITERS if writes else READERS)
            response = client.request(method, path, json=body, headers=headers)
            if allowed:
                assert response.status_code in (200, 201), (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["code"] == "forbidden"


def test_admin_can_neither_read_nor_write_customers(
    client: TestClient, staff: StaffLogins, customer_id: int
) -> None:
    admin = staff.headers(Role.ADMIN)
    assert client.get(f"{API}/customers/{customer_id}", headers=admin).status_code == 403
    response = client.post(f"{API}/customers/individuals", headers=admin, json=individual_body(2))
    assert response.status_code == 403
    assert response.json()["params"]["permission"] == "customers.write"


ID_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("PATCH", "", {"occupation": "teacher"}),
    ("POST", "/documents", {"doc_type": "passport", "number": "E55554444"}),
]
OUT_OF_RANGE = [
    ("0", "too_small"),
    ("-1", "too_small"),
    (str(2**63), "too_large"),
    (str(10**30), "too_large"),
    ("abc", "not_an_integer"),
    ("1.5", "not_an_integer"),
]


def test_unknown_customer_is_404(client: TestClient, staff: StaffLogins) -> None:
    teller = staff.headers(Role.TELLER)
    for method, suffix, body in ID_ROUTES:
        response = client.request(
            method, f"{API}/customers/424242{suffix}", json=body, headers=teller
        )
        assert response.status_code == 404, (method, suffix, response.text)
        assert response.json()["code"] == "customer_not_found"


def test_out_of_range_ids_are_422_never_500(client: TestClient, staff: StaffLogins) -> None:
    teller = staff.headers(Role.TELLER)
    for method, suffix, body in ID_ROUTES:
        for raw_id, code in OUT_OF_RANGE:
            response = client.request(
                method, f"{API}/customers/{raw_id}{suffix}", json=body, headers=teller
            )
            assert response.status_code == 422, (method, raw_id, response.text)
            assert response.json()["code"] == code, (method, raw_id)
            assert response.json()["field"] == "customer_id"


def test_the_largest_int64_id_is_simply_not_found(client: TestClient, staff: StaffLogins) -> None:
    response = client.get(f"{API}/customers/{2**63 - 1}", headers=staff.headers(Role.TELLER))
    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"


def _audit_rows(rt: Runtime, action: str, entity_id: int) -> list[dict[str, Any]]:
    return [
        r
        for r in raw_rows(rt, "audit_records")
        if r["action"] == action and r["entity_id"] == str(entity_id)
    ]


def test_kyc_update_is_audited_with_masked_before_and_after(
    client: TestClient, staff: StaffLogins, rt: Runtime, customer_id: int
) -> None:
    supervisor = staff.headers(Role.SUPERVISOR)
    response = client.patch(
        f"{API}/customers/{customer_id}",
        headers=supervisor,
        json={
            "occupation": "teacher",
            "expected_monthly_turnover": 800_000,
            "risk_rating": "medium",
        },
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["occupation"], out["expected_monthly_turnover"], out["risk_rating"]) == (
        "teacher",
        800_000,
        "medium",
    )
    [record] = _audit_rows(rt, "customer.update", customer_id)
    assert record["actor_kind"] == "staff"
    assert record["actor_role"] == "supervisor"
    assert record["entity_type"] == "customer"
    before, after = json.loads(record["before_json"]), json.loads(record["after_json"])
    assert before["occupation"] == "engineer"
    assert after["occupation"] == "teacher"
    assert before["risk_rating"] == "low"
    assert after["risk_rating"] == "medium"
    assert after["expected_monthly_turnover"] == 800_000
    for state in (before, after):
        assert state["name"] == "**明"
        assert state["mobile"] == "134****0001"
    for secret in ("王小明", "13400000001", resident_id(1)):
        assert secret not in record["before_json"]
        assert secret not in record["after_json"]


def test_vulnerable_flag_is_set_and_cleared(
    client: TestClient, staff: StaffLogins, rt: Runtime, customer_id: int
) -> None:
    teller = staff.headers(Role.TELLER)
    path = f"{API}/customers/{customer_id}"
    response = client.patch(
        path, headers=teller, json={"vulnerable": True, "vulnerable_reason": "elderly, lives alone"}
    )
    assert response.status_code == 200, response.text
    shown = client.get(path, headers=staff.headers(Role.DISPUTE_OFFICER)).json()
    assert shown["vulnerable"] is True
    assert shown["vulnerable_reason"] == "elderly, lives alone"
    response = client.patch(path, headers=teller, json={"vulnerable": False})
    assert response.status_code == 200, response.text
    assert response.json()["vulnerable"] is False
    assert response.json()["vulnerable_reason"] is None
    records = _audit_rows(rt, "customer.update", customer_id)
    assert [json.loads(r["after_json"])["vulnerable"] for r in records] == [True, False]
    assert json.loads(records[0]["before_json"])["vulnerable"] is False


def test_a_person_can_be_flagged_vulnerable_at_onboarding(
    client: TestClient, staff: StaffLogins
) -> None:
    body = individual_body(3, vulnerable=True, vulnerable_reason="hearing impaired")
    response = client.post(
        f"{API}/customers/individuals", headers=staff.headers(Role.TELLER), json=body
    )
    assert response.status_code == 201, response.text
    assert response.json()["vulnerable"] is True
    assert response.json()["vulnerable_reason"] == "hearing impaired"


INVALID_KYC: list[tuple[dict[str, Any], str, str]] = [
    ({"risk_rating": "extreme"}, "invalid_format", "risk_rating"),
    ({"registered_capital": -5}, "amount_not_positive", "registered_capital"),
    ({"expected_monthly_turnover": 9.99}, "invalid_amount", "expected_monthly_turnover"),
    ({"name": "改名"}, "unknown_field", "name"),
    ({"vulnerable": "yes please"}, "not_a_boolean", "vulnerable"),
    ({"occupation": "x" * 101}, "too_long", "occupation"),
]


def test_invalid_kyc_update_changes_nothing(
    client: TestClient, staff: StaffLogins, rt: Runtime, customer_id: int
) -> None:
    teller = staff.headers(Role.TELLER)
    path = f"{API}/customers/{customer_id}"
    before = client.get(path, headers=teller).json()
    for body, code, field in INVALID_KYC:
        response = client.patch(path, headers=teller, json=body)
        assert response.status_code == 422, (body, response.text)
        assert (response.json()["code"], response.json()["field"]) == (code, field), body
    assert client.get(path, headers=teller).json() == before
    assert _audit_rows(rt, "customer.update", customer_id) == []
