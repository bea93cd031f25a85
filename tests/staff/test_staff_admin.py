"""Staff administration (admins only), ``/staff/me``, and the staff portal pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import STAFF_PASSWORD, StaffLogins
from tests.customers.customer_payloads import API, count_rows, individual_body, raw_rows

from ebank.runtime import Runtime
from ebank.staff.permissions import ROLE_PERMISSIONS, Role

USERS = f"{API}/staff/users"
SESSIONS = f"{API}/staff/sessions"
GOOD_PASSWORD = "river-stone-2048-lamp"


def _new_user(**overrides: Any) -> dict[str, Any]:
    body = {
        "username": "dave.zhou",
        "display_name": "Dave Zhou",
        "role": "teller",
        "password": GOOD_PASSWORD,
    }
    body.update(overrides)
    return body


def _login(client: TestClient, username: str, password: str = GOOD_PASSWORD) -> Any:
    return client.post(SESSIONS, json={"username": username, "password": password})


def test_admin_creates_a_user_who_can_then_log_in(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    response = client.post(USERS, headers=staff.headers(Role.ADMIN), json=_new_user())
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in ("username", "display_name", "role", "status", "locked")} == {
        "username": "dave.zhou",
        "display_name": "Dave Zhou",
        "role": "teller",
        "status": "active",
        "locked": False,
    }
    assert GOOD_PASSWORD not in response.text
    assert GOOD_PASSWORD not in json.dumps(raw_rows(rt, "staff_users"), default=str)
    login = _login(client, "dave.zhou")
    assert login.status_code == 201, login.text
    assert login.json()["staff"]["role"] == "teller"
    [record] = [
        r
        for r in raw_rows(rt, "audit_records")
        if r["action"] == "staff.create" and r["entity_id"] == str(created["id"])
    ]
    assert record["actor_role"] == "admin"
    assert GOOD_PASSWORD not in (record["after_json"] or "")


def test_user_names_are_stored_lower_case(client: TestClient, staff: StaffLogins) -> None:
    response = client.post(
        USERS, headers=staff.headers(Role.ADMIN), json=_new_user(username="Eve_1")
    )
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "eve_1"


INVALID_NEW_USERS: list[tuple[dict[str, Any], str, str]] = [
    ({"username": "9lives"}, "invalid_username", "username"),
    ({"username": "has space"}, "invalid_username", "username"),
    ({"username": "名字名字"}, "invalid_username", "username"),
    ({"username": "a" * 33}, "too_long", "username"),
    ({"password": "short-1"}, "password_too_weak", "password"),
    ({"password": "onlyletters-nodigits"}, "password_too_weak", "password"),
    ({"password": "123456789012345"}, "password_too_weak", "password"),
    ({"password": "dave.zhou-2048-lamp"}, "password_too_weak", "password"),
    ({"password": "x1" * 65}, "too_long", "password"),
    ({"role": "superuser"}, "invalid_choice", "role"),
    ({"is_root": True}, "unknown_field", "is_root"),
]


def test_invalid_new_users_are_refused(client: TestClient, staff: StaffLogins, rt: Runtime) -> None:
    admin = staff.headers(Role.ADMIN)
    users = count_rows(rt, "staff_users")
    for overrides, code, field in INVALID_NEW_USERS:
        response = client.post(USERS, headers=admin, json=_new_user(**overrides))
        assert response.status_code == 422, (overrides, response.text)
        assert (response.json()["code"], response.json()["field"]) == (code, field), overrides
    assert count_rows(rt, "staff_users") == users


def test_the_minimum_password_length_comes_from_the_policy(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    minimum = rt.policy.staff.min_password_length
    admin = staff.headers(Role.ADMIN)
    short = "a1" * ((minimum - 1) // 2) + "b" * ((minimum - 1) % 2)
    assert len(short) == minimum - 1
    response = client.post(USERS, headers=admin, json=_new_user(password=short))
    assert response.status_code == 422
    assert response.json()["params"]["minimum"] == minimum
    enough = short + "c"
    assert client.post(USERS, headers=admin, json=_new_user(password=enough)).status_code == 201


def test_a_display_name_is_required(client: TestClient, staff: StaffLogins, rt: Runtime) -> None:
    admin = staff.headers(Role.ADMIN)
    users = count_rows(rt, "staff_users")
    response = client.post(USERS, headers=admin, json=_new_user(display_name="   "))
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("field_required", "display_name")
    assert count_rows(rt, "staff_users") == users


def test_a_duplicate_user_name_is_a_conflict(
    client: TestClient, staff: StaffLogins, rt: Runtime
) -> None:
    admin = staff.headers(Role.ADMIN)
    assert client.post(USERS, headers=admin, json=_new_user()).status_code == 201
    users = count_rows(rt, "staff_users")
    response = client.post(USERS, headers=admin, json=_new_user(username="DAVE.ZHOU", role="admin"))
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("username_taken", "username")
    assert count_rows(rt, "staff_users") == users


def test_admin_lists_users_without_secrets(client: TestClient, staff: StaffLogins) -> None:
    admin = staff.headers(Role.ADMIN)
    staff.headers(Role.TELLER)
    client.post(USERS, headers=admin, json=_new_user())
    response = client.get(USERS, headers=admin)
    assert response.status_code == 200
    users = response.json()
    assert [u["username"] for u in users] == sorted(["admin1", "teller1", "dave.zhou"])
    assert all(
        set(u) == {"id", "username", "display_name", "role", "status", "locked"} for u in users
    )
    assert "argon2" not in response.text


def test_admin_changes_a_role(client: TestClient, staff: StaffLogins) -> None:
    admin = staff.headers(Role.ADMIN)
    user = client.post(USERS, headers=admin, json=_new_user()).json()
    response = client.patch(f"{USERS}/{user['id']}", headers=admin, json={"role": "supervisor"})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "supervisor"
    token = _login(client, "dave.zhou").json()["token"]
    me = client.get(f"{API}/staff/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "supervisor"
    assert "ledger.transfers_post" in me["permissions"]


def test_a_disabled_user_cannot_log_in_and_loses_their_sessions(
    client: TestClient, staff: StaffLogins
) -> None:
    admin = staff.headers(Role.ADMIN)
    user = client.post(USERS, headers=admin, json=_new_user()).json()
    token = _login(client, "dave.zhou").json()["token"]
    response = client.patch(f"{USERS}/{user['id']}", headers=admin, json={"active": False})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "disabled"
    assert (
        client.get(f"{API}/staff/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    refused = _login(client, "dave.zhou")
    assert refused.status_code in (401, 423)
    assert "token" not in refused.json()
    assert (
        client.patch(f"{USERS}/{user['id']}", headers=admin, json={"active": True}).status_code
        == 200
    )
    assert _login(client, "dave.zhou").status_code == 201


@pytest.mark.parametrize(
    "change",
    [{"role": "teller"}, {"role": "admin"}, {"active": False}],
    ids=["demote", "same", "disable"],
)
def test_an_admin_cannot_change_their_own_access(
    client: TestClient, staff: StaffLogins, change: dict[str, Any]
) -> None:
    admin = staff.headers(Role.ADMIN)
    me = client.get(f"{API}/staff/me", headers=admin).json()
    response = client.patch(f"{USERS}/{me['id']}", headers=admin, json=change)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "cannot_change_own_access"
    after = client.get(f"{API}/staff/me", headers=admin)
    assert after.status_code == 200
    assert (after.json()["role"], after.json()["status"]) == ("admin", "active")


def test_unknown_and_out_of_range_staff_ids(client: TestClient, staff: StaffLogins) -> None:
    admin = staff.headers(Role.ADMIN)
    missing = client.patch(f"{USERS}/987654", headers=admin, json={"unlock": True})
    assert missing.status_code == 404
    assert missing.json()["code"] == "staff_not_found"
    for raw in ("0", str(2**63), "x"):
        response = client.patch(f"{USERS}/{raw}", headers=admin, json={"unlock": True})
        assert response.status_code == 422, raw


def test_only_admins_manage_staff(client: TestClient, staff: StaffLogins, rt: Runtime) -> None:
    for role in (r for r in Role if r is not Role.ADMIN):
        headers = staff.headers(role)
        me = client.get(f"{API}/staff/me", headers=headers).json()
        users = count_rows(rt, "staff_users")
        for method, path, body in (
            ("GET", USERS, None),
            ("POST", USERS, _new_user(role="admin")),
            ("PATCH", f"{USERS}/{me['id']}", {"role": "admin"}),
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (role, method, response.text)
            assert response.json()["code"] == "forbidden"
        assert count_rows(rt, "staff_users") == users
        assert client.get(f"{API}/staff/me", headers=headers).json()["role"] == role.value


def test_anonymous_callers_cannot_manage_staff(client: TestClient, rt: Runtime) -> None:
    for method, path, body in (
        ("GET", USERS, None),
        ("POST", USERS, _new_user(role="admin")),
        ("PATCH", f"{USERS}/1", {"unlock": True}),
        ("GET", f"{API}/staff/me", None),
        ("DELETE", f"{SESSIONS}/current", None),
    ):
        response = client.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "not_authenticated"
    assert count_rows(rt, "staff_users") == 0


def test_me_returns_the_role_and_its_permissions(client: TestClient, staff: StaffLogins) -> None:
    for role in Role:
        response = client.get(f"{API}/staff/me", headers=staff.headers(role))
        assert response.status_code == 200
        me = response.json()
        assert me["role"] == role.value
        assert me["username"] == f"{role.value.replace('_', '')}1"
        assert me["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[role]), role
    admin = client.get(f"{API}/staff/me", headers=staff.headers(Role.ADMIN)).json()
    assert "customers.read" not in admin["permissions"]
    assert "staff.manage" in admin["permissions"]


# --- pages ---------------------------------------------------------------------------------------


def _cookie_login(client: TestClient, username: str) -> None:
    response = client.post(SESSIONS, json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 201, response.text
    client.cookies.set("ebank_session", response.json()["token"])


def test_the_portal_needs_a_session(client: TestClient) -> None:
    response = client.get("/staff", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login?next=/staff"
    customers = client.get("/staff/customers", follow_redirects=False)
    assert customers.status_code == 303
    assert customers.headers["location"] == "/staff/login?next=/staff/customers"


def test_the_portal_greets_the_user_by_display_name(client: TestClient, staff: StaffLogins) -> None:
    staff.token(Role.RISK_ANALYST)
    _cookie_login(client, "riskanalyst1")
    response = client.get("/staff", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Test risk_analyst" in response.text
    assert "customers.read" in response.text


def test_display_names_are_escaped_in_pages(client: TestClient, staff: StaffLogins) -> None:
    admin = staff.headers(Role.ADMIN)
    body = _new_user(display_name="<script>alert(1)</script>")
    assert client.post(USERS, headers=admin, json=body).status_code == 201
    token = _login(client, "dave.zhou").json()["token"]
    client.cookies.set("ebank_session", token)
    response = client.get("/staff")
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_an_admin_sees_the_portal_home_without_customer_links(
    client: TestClient, staff: StaffLogins
) -> None:
    staff.token(Role.ADMIN)
    _cookie_login(client, "admin1")
    response = client.get("/staff", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Test admin" in response.text
    assert 'href="/staff/customers"' not in response.text


def test_a_role_without_customer_access_gets_403_on_the_customer_pages(
    client: TestClient, staff: StaffLogins
) -> None:
    staff.token(Role.ADMIN)
    _cookie_login(client, "admin1")
    browser = TestClient(client.app, raise_server_exceptions=False, cookies=client.cookies)
    for path in (
        "/staff/customers",
        "/staff/customers?q=13400000001",
        "/staff/customers/1",
        "/staff/accounts/1",
    ):
        response = browser.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 403, (path, response.status_code)
        assert "Your role does not allow this." in response.text


def test_the_customer_search_page_shows_masked_data_only(
    client: TestClient, staff: StaffLogins
) -> None:
    created = client.post(
        f"{API}/customers/individuals",
        headers=staff.headers(Role.TELLER),
        json=individual_body(31, name="周杰"),
    )
    assert created.status_code == 201, created.text
    _cookie_login(client, "teller1")
    page = client.get("/staff/customers", params={"q": "13400000031"})
    assert page.status_code == 200
    assert "134****0031" in page.text
    assert "13400000031" not in page.text.replace('value="13400000031"', "")
    detail = client.get(f"/staff/customers/{created.json()['id']}")
    assert detail.status_code == 200
    for secret in ("周杰", "13400000031", individual_body(31)["document"]["number"]):
        assert secret not in detail.text
