from __future__ import annotations

from fastapi.testclient import TestClient
from tests.conftest import StaffLogins

from ebank.staff.permissions import Role


def test_teller_onboards_customer_opens_account_and_takes_cash(
    client: TestClient, staff: StaffLogins
) -> None:
    teller = staff.headers(Role.TELLER)
    response = client.post(
        "/api/v1/customers/individuals",
        headers=teller,
        json={
            "name": "张三",
            "document": {"doc_type": "resident_id", "number": "110105199003071239"},
            "mobile": "13400000001",
            "occupation": "engineer",
        },
    )
    assert response.status_code == 201, response.text
    customer = response.json()
    assert customer["mobile_masked"] == "134****0001"
    response = client.post(
        "/api/v1/accounts",
        headers=teller,
        json={"customer_id": customer["id"], "product": "personal_i"},
    )
    assert response.status_code == 201, response.text
    account = response.json()
    response = client.post(
        "/api/v1/cash/deposits",
        headers=teller,
        json={"id": "dep-1", "account_id": account["id"], "amount": 12345, "currency": "CNY"},
    )
    assert response.status_code == 201, response.text
    response = client.get(f"/api/v1/accounts/{account['id']}", headers=teller)
    assert response.json()["balance"] == 12345
    response = client.get(
        f"/api/v1/accounts/{account['id']}/statement",
        headers=teller,
        params={"from": "2026-11-01", "to": "2026-11-30"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["balance_after"] for e in body["entries"]] == [12345]
