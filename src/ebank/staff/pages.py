"""Staff portal pages: log in, home, customer lookup, a customer's accounts, an account's statement."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ebank.common.errors import DomainError, NotFound
from ebank.common.i18n import gettext
from ebank.customers import service as customers
from ebank.ledger import service as ledger
from ebank.runtime import Runtime
from ebank.staff import service
from ebank.staff.permissions import Permission, permissions_of, role_allows
from ebank.web.fields import MAX_ID
from ebank.web.labels import ROLE_NAMES
from ebank.web.security import SESSION_COOKIE, StaffPrincipal, page_staff, runtime
from ebank.web.templating import render

router = APIRouter(prefix="/staff", include_in_schema=False)
LOGIN_CSRF_COOKIE = "ebank_login_csrf"
PageId = Annotated[int, Query(ge=1, le=MAX_ID)]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: the login page must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/staff"
    parts = urlsplit(target)
    return "/staff" if parts.scheme or parts.netloc else target


def _session_csrf(request: Request) -> str:
    return request.cookies.get("ebank_csrf", "")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "staff/login.html", csrf_token=token, next=_safe_next(next), error=None
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/staff")
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=256)] = "/staff",
    rt: Runtime = Depends(runtime),
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_error(
            request, next, gettext("The form has expired; reload the page and try again.")
        )
    try:
        result = service.login(
            rt, username=username, password=password, user_agent=request.headers.get("user-agent")
        )
    except DomainError as exc:
        return _login_error(request, next, gettext(exc.message, **exc.params), status=exc.status)
    response = RedirectResponse(_safe_next(next), status_code=303)
    secure = rt.settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        result.session.token,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        "ebank_csrf",
        result.session.csrf_token,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff")
    return response


def _login_error(request: Request, next_path: str, message: str, status: int = 400) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "staff/login.html",
        status_code=status,
        csrf_token=token,
        next=_safe_next(next_path),
        error=message,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/staff")
    return response


@router.post("/logout")
def logout(
    principal: StaffPrincipal = Depends(page_staff), rt: Runtime = Depends(runtime)
) -> Response:
    service.logout(rt, principal.actor, principal.session_id)
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie("ebank_csrf", path="/")
    return response


def staff_page(
    request: Request,
    template: str,
    principal: StaffPrincipal,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return render(
        request,
        template,
        status_code,
        me=principal,
        role_name=ROLE_NAMES[principal.role],
        csrf_token=_session_csrf(request),
        can=lambda permission: role_allows(principal.role, Permission(permission)),
        **context,
    )


def forbidden_page(request: Request, principal: StaffPrincipal) -> Response:
    return staff_page(request, "staff/forbidden.html", principal, status_code=403)


@router.get("", response_class=HTMLResponse)
def home(request: Request, principal: StaffPrincipal = Depends(page_staff)) -> Response:
    permissions = permissions_of(principal.role)
    return staff_page(request, "staff/home.html", principal, permissions=permissions)


@router.get("/customers", response_class=HTMLResponse)
def customer_search(
    request: Request,
    q: Annotated[str, Query(max_length=64)] = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if not role_allows(principal.role, Permission.CUSTOMERS_READ):
        return forbidden_page(request, principal)
    found: list[customers.CustomerView] = []
    error = None
    query = q.strip()
    if query:
        try:
            if query.isdigit() and len(query) == 11:
                found = customers.find_customers(rt, mobile=query)
            else:
                found = customers.find_customers(rt, document_number=query)
            if not found:
                found = customers.find_customers(rt, name=query)
        except DomainError as exc:
            error = gettext(exc.message, **exc.params)
    return staff_page(
        request,
        "staff/customers.html",
        principal,
        q=query,
        found=found,
        error=error,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request,
    customer_id: int,
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if not role_allows(principal.role, Permission.CUSTOMERS_READ):
        return forbidden_page(request, principal)
    if not 1 <= customer_id <= MAX_ID:
        raise NotFound("customer_not_found", "No such customer.", field="customer_id")
    customer = customers.get_customer(rt, customer_id)
    accounts = ledger.customer_accounts(rt, customer_id)
    return staff_page(
        request,
        "staff/customer.html",
        principal,
        customer=customer,
        accounts=accounts,
    )


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: int,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if not role_allows(principal.role, Permission.ACCOUNTS_READ):
        return forbidden_page(request, principal)
    if not 1 <= account_id <= MAX_ID:
        raise NotFound("account_not_found", "No such account.", field="account_id")
    today = rt.local_today()
    end = date_to or today
    start = date_from or end - timedelta(days=30)
    result = ledger.statement(rt, account_id, date_from=start, date_to=end)
    return staff_page(
        request, "staff/account.html", principal, statement=result, zone=rt.policy.zone
    )
