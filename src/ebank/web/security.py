"""Who is calling: the session behind a bearer token (API) or the session cookie (pages), and the
permission check every route declares. Cookie-authenticated writes also need the CSRF token."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy import select

from ebank.auth.service import CustomerSession, device_hash
from ebank.auth.sessions import ActiveSession, SessionLookup, touch_session
from ebank.auth.strength import parse_factors
from ebank.common.actor import Actor
from ebank.common.errors import Forbidden, NotAuthenticated
from ebank.runtime import Runtime
from ebank.staff.models import StaffUser
from ebank.staff.permissions import Permission, role_allows

SESSION_COOKIE = "ebank_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def runtime(request: Request) -> Runtime:
    """The process's runtime (async: FastAPI runs it on the event loop, no thread hop)."""
    rt: Runtime = request.app.state.runtime
    return rt


@dataclass(frozen=True)
class StaffPrincipal:
    staff_id: int
    username: str
    display_name: str
    role: str
    session_id: int

    @property
    def actor(self) -> Actor:
        return Actor("staff", str(self.staff_id), self.role)


def _token(request: Request) -> tuple[str | None, bool]:
    """The session token and whether it came from the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a cookie-authenticated write carries (header or form field)."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def _not_authenticated() -> NotAuthenticated:
    return NotAuthenticated(
        "not_authenticated", "Please log in: the session is missing, has expired or was ended."
    )


def current_staff(
    request: Request,
    rt: Runtime = Depends(runtime),
    csrf: str | None = Depends(submitted_csrf),
) -> StaffPrincipal:
    token, from_cookie = _token(request)
    if not token:
        raise _not_authenticated()
    check_csrf = from_cookie and request.method not in SAFE_METHODS
    return _resolve_staff(rt, token, check_csrf=check_csrf, csrf=csrf)


def _resolve_staff(
    rt: Runtime, token: str, *, check_csrf: bool, csrf: str | None
) -> StaffPrincipal:
    active = touch_session(rt.db, token, rt.clock.now())
    if active is None:
        raise _not_authenticated()
    with rt.db.read() as session:
        if active.principal_kind != "staff":
            raise Forbidden("staff_only", "This part of the bank is for staff only.")
        user = session.execute(
            select(StaffUser).where(StaffUser.id == active.principal_id)
        ).scalar_one_or_none()
        # A lock (failed logins) stops new logins, not the owner's open session: otherwise anyone
        # could end any colleague's work by typing five wrong passwords. Disabling ends both.
        if user is None or user.status != "active":
            raise _not_authenticated()
        if check_csrf and not active.csrf_matches(csrf):
            raise Forbidden("csrf_failed", "The form has expired; reload the page and try again.")
        return StaffPrincipal(
            user.id, user.username, user.display_name, user.role, active.session_id
        )


def require(permission: Permission) -> Callable[..., object]:
    """A dependency that admits only staff whose role carries ``permission``."""

    def dependency(principal: StaffPrincipal = Depends(current_staff)) -> StaffPrincipal:
        if not role_allows(principal.role, permission):
            raise Forbidden(
                "forbidden", "Your role does not allow this.", permission=permission.value
            )
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    dependency.required_permission = permission  # type: ignore[attr-defined]  # read by the route-permission tests
    return dependency


class LoginRequired(Exception):
    """A page needs a staff session: the app redirects to the login page."""


def page_staff(
    request: Request, rt: Runtime = Depends(runtime), csrf: str | None = Depends(submitted_csrf)
) -> StaffPrincipal:
    """Like :func:`current_staff`, for pages: no session means a redirect to the login page."""
    try:
        return current_staff(request, rt, csrf)
    except NotAuthenticated as exc:
        raise LoginRequired from exc


# --- customers ----------------------------------------------------------------------------------

DEVICE_HEADER = "X-Device-Id"
DEVICE_COOKIE = "ebank_device"


def device_ref(request: Request) -> str | None:
    """The device identifier the client presents: the mobile app's header, or the browser's
    cookie (set on the first visit)."""
    value = request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE)
    return value.strip()[:128] if value and value.strip() else None


async def current_customer(request: Request) -> CustomerSession:
    """The customer's session, looked up with the other requests of the moment in one read
    (:class:`SessionLookup`), on the event loop: no thread is taken for it."""
    token, from_cookie = _token(request)
    if not token:
        raise _not_authenticated()
    check_csrf = from_cookie and request.method not in SAFE_METHODS
    csrf = await submitted_csrf(request) if check_csrf else None
    rt = await runtime(request)
    active = await rt.worker(SessionLookup).find(token)
    return _customer_session(rt, request, active, check_csrf=check_csrf, csrf=csrf)


current_customer.customer_route = True  # type: ignore[attr-defined]  # read by the route tests


class CustomerLoginRequired(Exception):
    """A page needs a customer session: the app redirects to the online-banking login page."""


async def page_customer(request: Request) -> CustomerSession:
    """Like :func:`current_customer`, for pages: no session (or a session of another device)
    means a redirect to the online-banking login page; a staff session is refused."""
    try:
        return await current_customer(request)
    except NotAuthenticated as exc:
        raise CustomerLoginRequired from exc


def _customer_session(
    rt: Runtime,
    request: Request,
    active: ActiveSession | None,
    *,
    check_csrf: bool,
    csrf: str | None,
) -> CustomerSession:
    if active is None:
        raise _not_authenticated()
    if active.principal_kind != "customer":
        raise Forbidden("customers_only", "This part of the bank is for customers.")
    presented = device_ref(request)
    bound = (
        active.device_hash is not None
        and presented is not None
        and hmac.compare_digest(active.device_hash, device_hash(rt, presented))
    )
    if not bound:  # a token copied to another device is worthless there
        raise NotAuthenticated(
            "device_mismatch", "This session belongs to another device. Please log in again."
        )
    if check_csrf and not active.csrf_matches(csrf):
        raise Forbidden("csrf_failed", "The form has expired; reload the page and try again.")
    return CustomerSession(
        customer_id=active.principal_id,
        session_id=active.session_id,
        channel=active.channel or "online",
        device_id=active.device_id,
        factors=parse_factors(active.factors),
        ip=request.client.host if request.client else None,
    )
