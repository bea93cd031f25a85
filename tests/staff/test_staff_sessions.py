"""Sessions: idle timeout and absolute lifetime from the policy, logout, revocation on access
changes, tokens stored hashed, and CSRF for cookie-carried sessions."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from tests.conftest import STAFF_PASSWORD, START, StaffLogins
from tests.customers.customer_payloads import (
    API,
    count_rows,
    individual_body,
    raw_rows,
    rows_containing,
)

from ebank.common.actor import Actor
from ebank.common.clock import ManualClock
from ebank.runtime import Runtime
from ebank.staff.permissions import Role
from ebank.staff.service import create_staff

ME = f"{API}/staff/me"
SESSIONS = f"{API}/staff/sessions"
SYSTEM = Actor("system", "test", None)


@pytest.fixture
def carol(rt: Runtime) -> int:
    return create_staff(
        rt,
        SYSTEM,
        username="carol",
        display_name="Carol Li",
        role=Role.TELLER,
        password=STAFF_PASSWORD,
    ).id


def _api_login(client: TestClient, username: str = "carol") -> dict[str, str]:
    response = client.post(SESSIONS, json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _clock(rt: Runtime) -> ManualClock:
    assert isinstance(rt.clock, ManualClock)
    return rt.clock


def test_idle_timeout_comes_from_the_policy(client: TestClient, rt: Runtime, carol: int) -> None:
    idle = timedelta(minutes=rt.policy.staff.session_idle_minutes)
    headers = _bearer(_api_login(client)["token"])
    _clock(rt).advance(idle - timedelta(seconds=1))
    assert client.get(ME, headers=headers).status_code == 200
    _clock(rt).advance(idle + timedelta(seconds=1))
    response = client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    # Once expired it stays expired, whatever happens next.
    assert client.get(ME, headers=headers).status_code == 401


def test_an_idle_session_is_recorded_as_ended(client: TestClient, rt: Runtime, carol: int) -> None:
    headers = _bearer(_api_login(client)["token"])
    _clock(rt).advance(timedelta(minutes=rt.policy.staff.session_idle_minutes, seconds=1))
    assert client.get(ME, headers=headers).status_code == 401
    [row] = raw_rows(rt, "auth_sessions")
    assert row["revoked_reason"] == "idle"
    assert row["revoked_at"] is not None


def test_activity_keeps_a_session_alive_until_its_absolute_lifetime(
    client: TestClient, rt: Runtime, carol: int
) -> None:
    login = _api_login(client)
    lifetime = timedelta(hours=rt.policy.staff.session_max_hours)
    assert login["expires_at"].replace("Z", "+00:00") == (START + lifetime).isoformat()
    headers = _bearer(login["token"])
    step = timedelta(minutes=rt.policy.staff.session_idle_minutes) - timedelta(minutes=1)
    elapsed = timedelta(0)
    while elapsed + step < lifetime:
        elapsed += step
        _clock(rt).advance(step)
        assert client.get(ME, headers=headers).status_code == 200, elapsed
    _clock(rt).advance(step)  # past the lifetime, though never idle for long
    assert client.get(ME, headers=headers).status_code == 401


def test_logout_ends_the_session(client: TestClient, rt: Runtime, carol: int) -> None:
    headers = _bearer(_api_login(client)["token"])
    other = _bearer(_api_login(client)["token"])  # a second device
    response = client.delete(f"{SESSIONS}/current", headers=headers)
    assert response.status_code == 204
    assert client.get(ME, headers=headers).status_code == 401
    assert client.delete(f"{SESSIONS}/current", headers=headers).status_code == 401
    assert client.get(ME, headers=other).status_code == 200
    assert any(r["action"] == "staff.logout" for r in raw_rows(rt, "audit_records"))


def test_changing_a_users_role_revokes_their_sessions(
    client: TestClient, staff: StaffLogins, carol: int
) -> None:
    headers = _bearer(_api_login(client)["token"])
    response = client.patch(
        f"{API}/staff/users/{carol}", headers=staff.headers(Role.ADMIN), json={"role": "auditor"}
    )
    assert response.status_code == 200, response.text
    assert client.get(ME, headers=headers).status_code == 401
    fresh = _bearer(_api_login(client)["token"])
    me = client.get(ME, headers=fresh).json()
    assert me["role"] == "auditor"
    assert "audit.read" in me["permissions"]
    assert "customers.write" not in me["permissions"]


def test_an_admin_password_reset_revokes_sessions_but_an_unlock_does_not(
    client: TestClient, staff: StaffLogins, carol: int
) -> None:
    admin = staff.headers(Role.ADMIN)
    headers = _bearer(_api_login(client)["token"])
    assert (
        client.patch(f"{API}/staff/users/{carol}", headers=admin, json={"unlock": True}).status_code
        == 200
    )
    assert client.get(ME, headers=headers).status_code == 200
    new_password = "brand-new-secret-2027"
    response = client.patch(
        f"{API}/staff/users/{carol}", headers=admin, json={"password": new_password}
    )
    assert response.status_code == 200, response.text
    assert client.get(ME, headers=headers).status_code == 401
    old = client.post(SESSIONS, json={"username": "carol", "password": STAFF_PASSWORD})
    assert old.status_code == 401
    assert (
        client.post(SESSIONS, json={"username": "carol", "password": new_password}).status_code
        == 201
    )


def test_tokens_are_stored_hashed(client: TestClient, rt: Runtime, carol: int) -> None:
    login = _api_login(client)
    rows = raw_rows(rt, "auth_sessions")
    assert len(rows) == 1
    assert rows_containing(rows, [login["token"], login["csrf_token"]]) == []
    assert rows[0]["token_hash"] == hashlib.sha256(login["token"].encode()).hexdigest()
    assert rows[0]["principal_id"] == carol
    assert rows_containing(raw_rows(rt, "audit_records"), [login["token"]]) == []


# --- cookie sessions and CSRF --------------------------------------------------------------------

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT_FIELD = re.compile(r'name="next" value="([^"]*)"')


def _form_token(client: TestClient, path: str = "/staff/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = _CSRF_FIELD.search(page.text)
    assert match, page.text
    return match.group(1)


def _page_login(client: TestClient, next_path: str = "/staff") -> str:
    """Log carol in through the form; returns the Location it redirects to."""
    token = _form_token(client)
    response = client.post(
        "/staff/login",
        data={
            "username": "carol",
            "password": STAFF_PASSWORD,
            "csrf_token": token,
            "next": next_path,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert client.cookies.get("ebank_session")
    assert client.cookies.get("ebank_csrf")
    return response.headers["location"]


def test_the_login_form_sets_session_and_csrf_cookies(client: TestClient, carol: int) -> None:
    assert _page_login(client) == "/staff"
    home = client.get("/staff")
    assert home.status_code == 200
    assert "Carol Li" in home.text


def test_session_cookies_are_http_only_and_same_site_strict(client: TestClient, carol: int) -> None:
    token = _form_token(client)
    response = client.post(
        "/staff/login",
        data={"username": "carol", "password": STAFF_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookies = {
        header.split("=", 1)[0]: header.lower()
        for header in response.headers.get_list("set-cookie")
    }
    for name in ("ebank_session", "ebank_csrf"):
        assert "httponly" in cookies[name], name
        assert "samesite=strict" in cookies[name], name
        assert "path=/" in cookies[name], name
    assert client.cookies.get("ebank_session") != client.cookies.get("ebank_csrf")


def test_an_expired_cookie_session_sends_the_page_back_to_login(
    client: TestClient, rt: Runtime, carol: int
) -> None:
    _page_login(client)
    assert client.get("/staff").status_code == 200
    _clock(rt).advance(timedelta(minutes=rt.policy.staff.session_idle_minutes, seconds=1))
    response = client.get("/staff/customers", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login?next=/staff/customers"


def test_cookie_writes_need_the_csrf_token(client: TestClient, rt: Runtime, carol: int) -> None:
    _page_login(client)
    path = f"{API}/customers/individuals"
    # Reads need no CSRF token.
    assert client.get(ME).status_code == 200
    refused = client.post(path, json=individual_body(1))
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "csrf_failed"
    wrong = client.post(path, json=individual_body(1), headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "csrf_failed"
    assert count_rows(rt, "customers") == 0
    csrf = client.cookies.get("ebank_csrf")
    assert csrf
    accepted = client.post(path, json=individual_body(1), headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201, accepted.text
    assert count_rows(rt, "customers") == 1


def test_the_api_login_csrf_token_belongs_to_its_own_session(
    client: TestClient, rt: Runtime, carol: int
) -> None:
    first = _api_login(client)
    second = _api_login(client)
    path = f"{API}/customers/individuals"
    client.cookies.set("ebank_session", first["token"])
    crossed = client.post(
        path, json=individual_body(1), headers={"X-CSRF-Token": second["csrf_token"]}
    )
    assert crossed.status_code == 403
    assert crossed.json()["code"] == "csrf_failed"
    own = client.post(path, json=individual_body(1), headers={"X-CSRF-Token": first["csrf_token"]})
    assert own.status_code == 201, own.text
    # A bearer token needs no CSRF token: a browser never adds it on its own.
    client.cookies.clear()
    bearer = client.post(path, json=individual_body(2), headers=_bearer(second["token"]))
    assert bearer.status_code == 201, bearer.text


def test_cookie_logout_needs_the_csrf_token(client: TestClient, carol: int) -> None:
    _page_login(client)
    csrf = client.cookies.get("ebank_csrf")
    token = client.cookies.get("ebank_session")
    assert csrf
    assert token
    forged = client.delete(f"{SESSIONS}/current")
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    forged_page = client.post("/staff/logout", follow_redirects=False)
    assert forged_page.status_code == 403
    assert client.get(ME).status_code == 200
    response = client.post("/staff/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login"
    assert client.get(ME, headers=_bearer(token)).status_code == 401


@pytest.mark.parametrize("token", ["", "not-the-token"], ids=["missing", "wrong"])
def test_the_login_form_refuses_a_bad_csrf_token(
    client: TestClient, rt: Runtime, carol: int, token: str
) -> None:
    _form_token(client)  # the form cookie is there, the posted token does not match it
    response = client.post(
        "/staff/login",
        data={"username": "carol", "password": STAFF_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "ebank_session" not in response.cookies
    assert count_rows(rt, "auth_sessions") == 0


def test_the_login_form_refuses_a_token_without_its_cookie(
    client: TestClient, rt: Runtime, carol: int
) -> None:
    token = _form_token(client)
    client.cookies.clear()
    response = client.post(
        "/staff/login",
        data={"username": "carol", "password": STAFF_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert count_rows(rt, "auth_sessions") == 0


def test_a_wrong_password_on_the_form_shows_the_error(client: TestClient, carol: int) -> None:
    token = _form_token(client)
    response = client.post(
        "/staff/login",
        data={"username": "carol", "password": "nope-nope-123", "csrf_token": token},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "The user name or password is incorrect." in response.text
    assert "ebank_session" not in response.cookies


OFF_SITE_TARGETS = [
    "//evil.example",
    "//evil.example/staff",
    "https://evil.example/",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "evil.example",
    "javascript:alert(1)",
]


def test_login_never_redirects_off_site(client: TestClient, carol: int) -> None:
    for target in OFF_SITE_TARGETS:
        page = client.get("/staff/login", params={"next": target})
        match = _NEXT_FIELD.search(page.text)
        assert match, target
        assert not match.group(1).startswith("//"), target
        location = _page_login(client, next_path=target)
        parts = urlsplit(location)
        assert not parts.scheme, target
        assert not parts.netloc, target
        assert location.startswith("/"), target
        assert not location.startswith(("//", "/\\")), target
        assert "\t" not in location, target


def test_login_keeps_a_same_site_next(client: TestClient, carol: int) -> None:
    assert _page_login(client, next_path="/staff/customers?q=abc") == "/staff/customers?q=abc"
