"""Risk analysts' pages: the alert queue, an alert with its evidence and the decisions on it,
rule-set versions and model versions. The same service calls as the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ebank.common.errors import DomainError, Unprocessable
from ebank.common.i18n import current_locale, gettext
from ebank.risk import configuration, service
from ebank.runtime import Runtime
from ebank.staff.pages import forbidden_page, staff_page
from ebank.staff.permissions import Permission, role_allows
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, page_staff, runtime

router = APIRouter(prefix="/staff/risk", include_in_schema=False)
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]
VersionId = Annotated[int, Path(ge=1, le=MAX_ID)]
ALERT_ACTIONS = ("release", "void", "close", "label", "block-payee", "suspend-channel")
Text = Annotated[str, Form(max_length=200)]


def _refused(principal: StaffPrincipal, permission: Permission) -> bool:
    return not role_allows(principal.role, permission)


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
    request: Request,
    status: Annotated[str, Query(max_length=10)] = "open",
    kind: Annotated[str, Query(max_length=10)] = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal, Permission.RISK_REVIEW):
        return forbidden_page(request, principal)
    alerts = service.list_alerts(rt, status=status or None, kind=kind or None, limit=200)
    return staff_page(
        request,
        "risk/alerts.html",
        principal,
        alerts=alerts,
        status=status,
        kind=kind,
        statuses=service.ALERT_STATUSES,
        kinds=service.ALERT_KINDS,
        zone=rt.policy.zone,
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    alert_id: AlertId,
    done: Annotated[str, Query(max_length=20)] = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal, Permission.RISK_REVIEW):
        return forbidden_page(request, principal)
    return _alert(request, principal, rt, alert_id, done=done if done in ALERT_ACTIONS else "")


def _alert(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    alert_id: int,
    *,
    done: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = service.alert_detail(rt, alert_id, current_locale.get())
    return staff_page(
        request,
        "risk/alert.html",
        principal,
        detail=detail,
        done=done,
        error=error,
        zone=rt.policy.zone,
        status_code=status_code,
    )


@router.post("/alerts/{alert_id}/{action}", response_class=HTMLResponse)
def decide(
    request: Request,
    alert_id: AlertId,
    action: Annotated[str, Path(max_length=20)],
    note: Text = "",
    label: Annotated[str, Form(max_length=10)] = "",
    channel: Annotated[str, Form(max_length=8)] = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal, Permission.RISK_REVIEW):
        return forbidden_page(request, principal)
    actor = principal.actor
    decisions: dict[str, Callable[[], object]] = {
        "release": lambda: service.release(rt, actor, alert_id, note),
        "void": lambda: service.void(rt, actor, alert_id, note),
        "close": lambda: service.close(rt, actor, alert_id, note),
        "label": lambda: service.label(rt, actor, alert_id, label),
        "block-payee": lambda: service.block_payee(rt, actor, alert_id, note),
        "suspend-channel": lambda: service.suspend_channel(rt, actor, alert_id, channel, note),
    }
    if action not in decisions:
        raise Unprocessable("invalid_action", "Unknown action.", field="action")
    try:
        decisions[action]()
    except DomainError as exc:
        message = gettext(exc.message, **exc.params)
        return _alert(request, principal, rt, alert_id, error=message, status_code=exc.status)
    return RedirectResponse(f"/staff/risk/alerts/{alert_id}?done={action}", status_code=303)


# ----------------------------------------------------------------- rule-set and model versions


@router.get("/rule-sets", response_class=HTMLResponse)
def rule_sets_page(
    request: Request,
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal, Permission.RISK_CONFIGURE):
        return forbidden_page(request, principal)
    return _versions(request, principal, rt)


def _versions(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    *,
    error: str | None = None,
    body: str = "",
    status_code: int = 200,
) -> Response:
    return staff_page(
        request,
        "risk/versions.html",
        principal,
        rule_sets=configuration.rule_sets(rt),
        models=configuration.models(rt),
        error=error,
        body=body,
        moves={"rule_sets": configuration.RULE_SET_MOVES, "models": configuration.MODEL_MOVES},
        status_code=status_code,
    )


@router.post("/rule-sets", response_class=HTMLResponse)
def draft_rule_set(
    request: Request,
    body: Annotated[str, Form(max_length=200_000)] = "",
    note: Text = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    change = partial(configuration.draft_rule_set, rt, principal.actor, body, note)
    return _configure(request, principal, rt, change, body=body)


@router.post("/{what}/{version_id}/status", response_class=HTMLResponse)
def move_version(
    request: Request,
    what: Annotated[str, Path(pattern=r"^(rule-sets|models)$")],
    version_id: VersionId,
    status: Annotated[str, Form(max_length=10)] = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    move = configuration.move_rule_set if what == "rule-sets" else configuration.move_model
    return _configure(request, principal, rt, lambda: move(rt, principal.actor, version_id, status))


@router.post("/models", response_class=HTMLResponse)
def train_model(
    request: Request,
    train_from: Annotated[date, Form()],
    train_to: Annotated[date, Form()],
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    change = partial(configuration.train_model, rt, principal.actor, train_from, train_to)
    return _configure(request, principal, rt, change)


def _configure(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    change: Callable[[], object],
    *,
    body: str = "",
) -> Response:
    """Make a rule-set or model change; back to the versions page, with the error if refused
    (and the rule set as typed)."""
    if _refused(principal, Permission.RISK_CONFIGURE):
        return forbidden_page(request, principal)
    try:
        change()
    except DomainError as exc:
        message = gettext(exc.message, **exc.params)
        return _versions(request, principal, rt, error=message, body=body, status_code=exc.status)
    return RedirectResponse("/staff/risk/rule-sets", status_code=303)
