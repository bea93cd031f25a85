"""Every API route refuses the anonymous caller and every staff role its permission leaves out.

The routes and the permission each needs are read from the application itself, so a new route
is covered the moment it exists (and fails here if it forgets to declare who may call it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.conftest import StaffLogins

from ebank.app import API_PREFIX, api_routers
from ebank.staff.permissions import Permission, Role, roles_with

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
        for method in sorted(route.methods)
    ]


def api_routes(client: TestClient) -> list[tuple[str, str, Permission | None]]:
    routes = []
    for router in api_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
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
