"""Every API route refuses the anonymous caller and every staff role its permission leaves out;
every online-banking page refuses every staff role.

The routes and the permission each needs are read from the application itself, so a new route
is covered the moment it exists (and fails here if it forgets to declare who may call it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from tests.conftest import STAFF_PASSWORD, StaffLogins

from ebank.app import API_PREFIX, api_routers
from ebank.channels.pages import GET_FALLBACKS, HOME
from ebank.staff.permissions import Permission, Role, roles_with
from ebank.web.security import page_customer

PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/staff/sessions"),
    ("POST", "/api/v1/customer/login/challenge"),
    ("POST", "/api/v1/customer/login"),
    ("POST", "/api/v1/channels/registrations"),
}
ANY_STAFF = {("GET", "/api/v1/staff/me"), ("DELETE", "/api/v1/staff/sessions/current")}


def _permission(route: APIRoute) -> Permission | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        found = getattr(dependency.call, "required_permission", None)
        if found is not None:
            return Permission(found)
        pending.extend(dependency.dependencies)
    return None


def _is_customer_route(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if getattr(dependency.call, "customer_route", False):
            return True
        pending.extend(dependency.dependencies)
    return False


def customer_routes() -> list[tuple[str, str]]:
    return [
        (method, API_PREFIX + route.path)
        for router in api_routers()
        for route in router.routes
        if isinstance(route, APIRoute) and _is_customer_route(route)
        for method in sorted(route.methods or ())
    ]


def api_routes(client: TestClient) -> list[tuple[str, str, Permission | None]]:
    routes = []
    for router in api_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                routes.append((method, API_PREFIX + route.path, _permission(route)))
    return routes


def test_the_route_list_is_the_published_api(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    published = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert published == {(method, path) for method, path, _ in api_routes(client)}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    return client.request(method, _concrete(path), headers=headers, json={})


def test_every_route_declares_who_may_call_it(client: TestClient) -> None:
    undeclared = [
        (method, path)
        for method, path, permission in api_routes(client)
        if permission is None and (method, path) not in PUBLIC | ANY_STAFF | set(customer_routes())
    ]
    assert undeclared == []


def test_anonymous_callers_are_refused_everywhere_but_public_routes(client: TestClient) -> None:
    for method, path, _ in api_routes(client):
        if (method, path) in PUBLIC:
            continue
        response = _call(client, method, path, {})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["content-type"].startswith("application/problem+json")


def test_roles_without_the_permission_are_refused(client: TestClient, staff: StaffLogins) -> None:
    checked = 0
    for method, path, permission in api_routes(client):
        if permission is None:
            continue
        allowed = roles_with(permission)
        for role in Role:
            if role in allowed:
                continue
            response = _call(client, method, path, staff.headers(role))
            assert response.status_code == 403, (method, path, role, response.text)
            assert response.json()["code"] == "forbidden"
            checked += 1
    assert checked > 50


def test_roles_with_the_permission_get_past_the_door(
    client: TestClient, staff: StaffLogins
) -> None:
    """Allowed roles are not refused (they may still get 404/422 for the made-up ids and bodies)."""
    for method, path, permission in api_routes(client):
        if permission is None:
            continue
        for role in sorted(roles_with(permission)):
            response = _call(client, method, path, staff.headers(role))
            assert response.status_code not in (401, 403), (method, path, role, response.text)
            assert response.status_code < 500, (method, path, role, response.text)


@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer x" * 50]
)
def test_bad_tokens_are_refused(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/staff/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_customer_session_is_refused_on_every_staff_route(client: TestClient, rt: Any) -> None:
    """Customers will log in with the online-banking capability; their sessions must never open
    a staff route, whatever the route."""
    from datetime import timedelta

    from ebank.auth.sessions import open_session

    with rt.db.write() as session:
        issued = open_session(
            session,
            principal_kind="customer",
            principal_id=1,
            role=None,
            now=rt.clock.now(),
            idle_timeout=timedelta(minutes=5),
            lifetime=timedelta(hours=1),
            user_agent="test",
        )
    headers = {"Authorization": f"Bearer {issued.token}"}
    checked = 0
    for method, path, _ in api_routes(client):
        if (method, path) in PUBLIC or (method, path) in customer_routes():
            continue
        response = _call(client, method, path, headers)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "staff_only"
        checked += 1
    assert checked > 20


def test_every_staff_role_is_refused_on_every_customer_route(
    client: TestClient, staff: StaffLogins
) -> None:
    """A teller's session is not a customer's: the customer's own banking refuses all staff."""
    routes = customer_routes()
    assert len(routes) > 15
    for method, path in routes:
        for role in Role:
            response = _call(client, method, path, staff.headers(role))
            assert response.status_code == 403, (method, path, role, response.text)
            assert response.json()["code"] == "customers_only"


# --- the customers' pages (/bank) ----------------------------------------------------------------

PUBLIC_PAGES = {("GET", "/bank/login"), ("POST", "/bank/login"), ("POST", "/bank/login/code")}


def _depends_on(route: APIRoute, call: Callable[..., Any]) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call is call:
            return True
        pending.extend(dependency.dependencies)
    return False


def app_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every route the application serves (its included routers
    flattened, their prefixes applied)."""
    return [
        (method, context.path, context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path
        for method in sorted(context.methods or ())
    ]


def _bank_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    return [(m, p, r) for m, p, r in app_routes(app) if p == HOME or p.startswith(HOME + "/")]


def customer_page_routes(app: FastAPI) -> list[tuple[str, str]]:
    """The online-banking pages that need a customer's session."""
    return [(m, p) for m, p, route in _bank_routes(app) if _depends_on(route, page_customer)]


def page_fallbacks(app: FastAPI) -> dict[tuple[str, str], str]:
    """A form's address typed or reloaded (GET): where it sends the browser, as a template."""
    return {
        (m, p): GET_FALLBACKS[p.removeprefix(HOME)]
        for m, p, route in _bank_routes(app)
        if m == "GET"
        and p.removeprefix(HOME) in GET_FALLBACKS
        and not _depends_on(route, page_customer)
    }


def _app(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def test_every_online_banking_page_needs_a_customer_or_is_known_to_be_open(
    client: TestClient,
) -> None:
    app = _app(client)
    pages = {(m, p) for m, p, _ in _bank_routes(app)}
    open_pages = pages - set(customer_page_routes(app)) - page_fallbacks(app).keys()
    assert open_pages == PUBLIC_PAGES
    assert len(customer_page_routes(app)) > 15


def _page_login(client: TestClient, staff: StaffLogins, role: Role) -> str:
    """Log in through the staff portal's login form, as a browser does; returns the session's
    CSRF token (the cookie the portal's forms carry)."""
    staff.token(role)  # the user exists
    form = client.get("/staff/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None
    response = client.post(
        "/staff/login",
        data={
            "username": f"{role.value.replace('_', '')}1",
            "password": STAFF_PASSWORD,
            "csrf_token": found.group(1),
            "next": "/staff",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert client.get("/staff", follow_redirects=False).status_code == 200  # the session works
    csrf = client.cookies.get("ebank_csrf")
    assert csrf
    return str(csrf)


def _refused_to_staff(response: Any, where: object) -> None:
    assert response.status_code == 403, (where, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html"), where
    assert 'data-code="customers_only"' in response.text, where
    assert "This part of the bank is for customers." in response.text, where


@pytest.mark.parametrize("role", list(Role))
def test_every_staff_role_is_refused_on_every_customer_page(
    client: TestClient, staff: StaffLogins, role: Role
) -> None:
    """A staff session in the browser (the portal's cookie) opens no online-banking page, read or
    write, whatever the role: the page answers 403 "for customers", it does not even send the
    browser to the customers' login."""
    app = _app(client)
    csrf = _page_login(client, staff, role)
    headers = {"Accept-Language": "en"}
    assert len(customer_page_routes(app)) > 15
    assert len(page_fallbacks(app)) > 5
    for method, path in customer_page_routes(app):
        concrete = _concrete(path)
        if method == "GET":
            response = client.get(concrete, headers=headers, follow_redirects=False)
        else:
            response = client.request(
                method,
                concrete,
                data={"csrf_token": csrf},
                headers=headers,
                follow_redirects=False,
            )
        _refused_to_staff(response, (method, path, role))
    for (method, path), target in page_fallbacks(app).items():
        response = client.request(method, _concrete(path), headers=headers, follow_redirects=False)
        assert response.status_code == 303, (method, path)
        location = response.headers["location"]
        assert location == _concrete(target), (method, path, location)
        if (method, location) not in {(m, _concrete(p)) for m, p in PUBLIC_PAGES}:
            _refused_to_staff(client.get(location, headers=headers), (path, location, role))
