"""AML officers' pages: the case queue (and a scan on demand), a case with its evidence and the
decisions on it, a suspicious transaction report from draft to filing, and the large-value
reports due. The same service calls as the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ebank.aml import reporting, scan, service
from ebank.aml.api import download
from ebank.common.errors import DomainError
from ebank.common.i18n import current_locale, gettext
from ebank.runtime import Runtime
from ebank.staff.pages import forbidden_page, staff_page
from ebank.staff.permissions import Permission, role_allows
from ebank.web.fields import MAX_ID
from ebank.web.labels import AML_ACTIONS_DONE, AML_CASE_STATUSES
from ebank.web.security import StaffPrincipal, page_staff, runtime

router = APIRouter(prefix="/staff/aml", include_in_schema=False)
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
ReportId = Annotated[int, Path(ge=1, le=MAX_ID)]
Done = Annotated[str, Query(max_length=20)]
Reason = Annotated[str, Form(max_length=500)]
CASE_ACTIONS = ("note", "dismiss", "suspend", "lift", "draft")
REPORT_ACTIONS = ("edit", "review", "file")


def _message(exc: DomainError) -> str:
    return gettext(exc.message, **exc.params)


def _refused(principal: StaffPrincipal) -> bool:
    return not role_allows(principal.role, Permission.AML_REVIEW)


def _done(done: str) -> str:
    return done if done in AML_ACTIONS_DONE else ""


@router.get("/cases", response_class=HTMLResponse)
def case_queue(
    request: Request,
    status: Annotated[str, Query(max_length=10)] = "open",
    done: Done = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    return _queue(request, principal, rt, status=status, done=_done(done))


def _queue(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    *,
    status: str = "open",
    done: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    status = status if status in AML_CASE_STATUSES else "open"
    return staff_page(
        request,
        "aml/cases.html",
        principal,
        cases=service.list_cases(rt, status=status, limit=200),
        scans=scan.recent_scans(rt, 5),
        status=status,
        statuses=list(AML_CASE_STATUSES),
        done=done,
        error=error,
        zone=rt.policy.zone,
        status_code=status_code,
    )


@router.post("/scans", response_class=HTMLResponse)
def run_scan(
    request: Request,
    first_day: Annotated[date | None, Form()] = None,
    last_day: Annotated[date | None, Form()] = None,
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    try:
        scan.run_scan(rt, principal.actor, first_day=first_day, last_day=last_day)
    except DomainError as exc:
        return _queue(request, principal, rt, error=_message(exc), status_code=exc.status)
    return RedirectResponse("/staff/aml/cases?done=scan", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_id: CaseId,
    done: Done = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    return _case(request, principal, rt, case_id, done=_done(done))


def _case(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    case_id: int,
    *,
    done: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = service.case_detail(rt, case_id, current_locale.get())
    return staff_page(
        request,
        "aml/case.html",
        principal,
        detail=detail,
        done=done,
        error=error,
        zone=rt.policy.zone,
        status_code=status_code,
    )


@router.post("/cases/{case_id}/{action}", response_class=HTMLResponse)
def decide(
    request: Request,
    case_id: CaseId,
    action: Annotated[str, Path(max_length=20)],
    reason: Reason = "",
    body: Annotated[str, Form(max_length=4000)] = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    actor = principal.actor
    decisions: dict[str, Callable[[], object]] = {
        "note": lambda: service.add_note(rt, actor, case_id, body),
        "dismiss": lambda: service.dismiss(rt, actor, case_id, reason),
        "suspend": lambda: service.suspend(rt, actor, case_id, reason),
        "lift": lambda: service.lift(rt, actor, case_id, reason),
        "draft": lambda: reporting.draft_suspicious_report(rt, actor, case_id),
    }
    if action not in decisions:
        return _case(
            request, principal, rt, case_id, error=gettext("Unknown action."), status_code=422
        )
    try:
        result = decisions[action]()
    except DomainError as exc:
        return _case(request, principal, rt, case_id, error=_message(exc), status_code=exc.status)
    if isinstance(result, reporting.SuspiciousReportView):
        return RedirectResponse(f"/staff/aml/reports/{result.id}?done=draft", status_code=303)
    return RedirectResponse(f"/staff/aml/cases/{case_id}?done={action}", status_code=303)


# ------------------------------------------------------------------- suspicious reports


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request,
    report_id: ReportId,
    done: Done = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    return _report(request, principal, rt, report_id, done=_done(done))


def _report(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    report_id: int,
    *,
    done: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    report = reporting.suspicious_report(rt, report_id)
    return staff_page(
        request,
        "aml/report.html",
        principal,
        report=report,
        done=done,
        error=error,
        zone=rt.policy.zone,
        status_code=status_code,
    )


@router.post("/reports/{report_id}/{action}", response_class=HTMLResponse)
def report_step(
    request: Request,
    report_id: ReportId,
    action: Annotated[str, Path(max_length=20)],
    version: Annotated[int, Form(ge=1, le=2**31 - 1)],
    narrative: Annotated[str, Form(max_length=20_000)] = "",
    measures: Reason = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    actor = principal.actor
    steps: dict[str, Callable[[], object]] = {
        "edit": lambda: reporting.edit_suspicious_report(
            rt, actor, report_id, narrative=narrative, measures=measures, version=version
        ),
        "review": lambda: reporting.review_suspicious_report(rt, actor, report_id, version=version),
        "file": lambda: reporting.file_suspicious_report(rt, actor, report_id, version=version),
    }
    if action not in steps:
        return _report(
            request, principal, rt, report_id, error=gettext("Unknown action."), status_code=422
        )
    try:
        steps[action]()
    except DomainError as exc:
        return _report(
            request, principal, rt, report_id, error=_message(exc), status_code=exc.status
        )
    return RedirectResponse(f"/staff/aml/reports/{report_id}?done={action}", status_code=303)


@router.get("/reports/{report_id}/export.{fmt}")
def export_report(
    request: Request,
    report_id: ReportId,
    fmt: Annotated[str, Path(pattern=r"^(xml|csv)$")],
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    try:
        file = reporting.export_suspicious_report(rt, principal.actor, report_id, fmt)
    except DomainError as exc:
        return _report(
            request, principal, rt, report_id, error=_message(exc), status_code=exc.status
        )
    return download(file)


# --------------------------------------------------------------------- large-value reports


@router.get("/large-value", response_class=HTMLResponse)
def large_value_page(
    request: Request,
    status: Annotated[str, Query(pattern=r"^(due|filed)$")] = "due",
    done: Done = "",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    return _large_value(request, principal, rt, status=status, done=_done(done))


def _large_value(
    request: Request,
    principal: StaffPrincipal,
    rt: Runtime,
    *,
    status: str = "due",
    done: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    today = rt.local_today()
    return staff_page(
        request,
        "aml/large_value.html",
        principal,
        reports=reporting.large_value_reports(rt, status=status, limit=500),
        status=status,
        today=today,
        done=done,
        error=error,
        status_code=status_code,
    )


@router.post("/large-value/{report_id}/file", response_class=HTMLResponse)
def file_large_value(
    request: Request,
    report_id: ReportId,
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    try:
        reporting.file_large_value_report(rt, principal.actor, report_id)
    except DomainError as exc:
        return _large_value(request, principal, rt, error=_message(exc), status_code=exc.status)
    return RedirectResponse("/staff/aml/large-value?done=file-large-value", status_code=303)


@router.get("/large-value/export.csv")
def export_large_value_batch(
    request: Request,
    status: Annotated[str, Query(pattern=r"^(due|filed)$")] = "due",
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    return download(reporting.export_large_value_batch(rt, principal.actor, status=status))


@router.get("/large-value/{report_id}/export.{fmt}")
def export_large_value(
    request: Request,
    report_id: ReportId,
    fmt: Annotated[str, Path(pattern=r"^(xml|csv)$")],
    principal: StaffPrincipal = Depends(page_staff),
    rt: Runtime = Depends(runtime),
) -> Response:
    if _refused(principal):
        return forbidden_page(request, principal)
    return download(reporting.export_large_value_report(rt, principal.actor, report_id, fmt))
