"""The AML officers' API: scans, the case queue and its decisions, suspicious and large-value
reports with their exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ebank.aml import reporting, scan, service
from ebank.aml.schemas import DecisionIn, NoteIn, ReportEditIn, ScanIn, VersionIn
from ebank.common.i18n import current_locale
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, require, runtime

router = APIRouter(prefix="/aml", tags=["aml"])
OFFICER = Depends(require(Permission.AML_REVIEW))
CasePath = Annotated[int, Path(ge=1, le=MAX_ID)]
ReportPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Format = Annotated[Literal["xml", "csv"], Query()]


@router.post("/scans", response_model=scan.ScanSummary)
def run_scan(
    body: ScanIn, principal: StaffPrincipal = OFFICER, rt: Runtime = Depends(runtime)
) -> scan.ScanSummary:
    """Scan the ledger's days now (by default from the day after the last scan to yesterday)."""
    return scan.run_scan(rt, principal.actor, first_day=body.first_day, last_day=body.last_day)


@router.get("/scans", response_model=list[scan.ScanRunView])
def scans(
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    _: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> list[scan.ScanRunView]:
    return scan.recent_scans(rt, limit)


@router.get("/cases", response_model=list[service.CaseSummary])
def cases(
    status: Annotated[Literal["open", "dismissed", "reported"] | None, Query()] = "open",
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> list[service.CaseSummary]:
    """The queue: open cases, highest score first, unless another status is asked for."""
    return service.list_cases(rt, status=status, customer_id=customer_id, limit=limit)


@router.get("/cases/{case_id}", response_model=service.CaseDetail)
def case(
    case_id: CasePath, _: StaffPrincipal = OFFICER, rt: Runtime = Depends(runtime)
) -> service.CaseDetail:
    """Alerts with their reasons, transactions, the customer's profile and history, notes,
    reports, and the fund-flow graph (SVG)."""
    return service.case_detail(rt, case_id, current_locale.get())


@router.get("/cases/{case_id}/fund-flow.svg", response_class=Response)
def fund_flow(
    case_id: CasePath, _: StaffPrincipal = OFFICER, rt: Runtime = Depends(runtime)
) -> Response:
    svg = service.fund_flow(rt, case_id, current_locale.get())
    return Response(svg, media_type="image/svg+xml")


@router.post(
    "/cases/{case_id}/notes", response_model=service.NoteView, status_code=status.HTTP_201_CREATED
)
def add_note(
    case_id: CasePath,
    body: NoteIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> service.NoteView:
    return service.add_note(rt, principal.actor, case_id, body.body)


@router.post("/cases/{case_id}/dismiss", response_model=service.CaseSummary)
def dismiss(
    case_id: CasePath,
    body: DecisionIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> service.CaseSummary:
    """Close the case as not suspicious, with the reason."""
    return service.dismiss(rt, principal.actor, case_id, body.reason)


@router.post("/cases/{case_id}/suspend", response_model=service.CaseSummary)
def suspend(
    case_id: CasePath,
    body: DecisionIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> service.CaseSummary:
    """Suspend the customer's e-banking channels pending review."""
    return service.suspend(rt, principal.actor, case_id, body.reason)


@router.post("/cases/{case_id}/lift", response_model=service.CaseSummary)
def lift(
    case_id: CasePath,
    body: DecisionIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> service.CaseSummary:
    return service.lift(rt, principal.actor, case_id, body.reason)


@router.post(
    "/cases/{case_id}/suspicious-reports",
    response_model=reporting.SuspiciousReportView,
    status_code=status.HTTP_201_CREATED,
)
def draft_report(
    case_id: CasePath, principal: StaffPrincipal = OFFICER, rt: Runtime = Depends(runtime)
) -> reporting.SuspiciousReportView:
    """Draft a suspicious transaction report from the case's alerts."""
    return reporting.draft_suspicious_report(rt, principal.actor, case_id)


@router.get("/suspicious-reports/{report_id}", response_model=reporting.SuspiciousReportView)
def suspicious_report(
    report_id: ReportPath, _: StaffPrincipal = OFFICER, rt: Runtime = Depends(runtime)
) -> reporting.SuspiciousReportView:
    return reporting.suspicious_report(rt, report_id)


@router.put("/suspicious-reports/{report_id}", response_model=reporting.SuspiciousReportView)
def edit_report(
    report_id: ReportPath,
    body: ReportEditIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> reporting.SuspiciousReportView:
    return reporting.edit_suspicious_report(
        rt,
        principal.actor,
        report_id,
        narrative=body.narrative,
        measures=body.measures,
        version=body.version,
    )


@router.post(
    "/suspicious-reports/{report_id}/review", response_model=reporting.SuspiciousReportView
)
def review_report(
    report_id: ReportPath,
    body: VersionIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> reporting.SuspiciousReportView:
    """Approve the draft (by another officer than its preparer)."""
    return reporting.review_suspicious_report(rt, principal.actor, report_id, version=body.version)


@router.post("/suspicious-reports/{report_id}/file", response_model=reporting.SuspiciousReportView)
def file_report(
    report_id: ReportPath,
    body: VersionIn,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> reporting.SuspiciousReportView:
    return reporting.file_suspicious_report(rt, principal.actor, report_id, version=body.version)


@router.get("/suspicious-reports/{report_id}/export", response_class=Response)
def export_report(
    report_id: ReportPath,
    format: Format = "xml",
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> Response:
    """The report as the regulator receives it (docs/aml-reports.md)."""
    return download(reporting.export_suspicious_report(rt, principal.actor, report_id, format))


@router.get("/large-value-reports", response_model=list[reporting.LargeValueView])
def large_value_reports(
    status: Annotated[Literal["due", "filed"] | None, Query()] = "due",
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    due_by: Annotated[date | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> list[reporting.LargeValueView]:
    """Due reports, the nearest deadline first."""
    return reporting.large_value_reports(
        rt, status=status, customer_id=customer_id, due_by=due_by, limit=limit
    )


@router.get("/large-value-reports/export", response_class=Response)
def export_large_value_batch(
    status: Annotated[Literal["due", "filed"] | None, Query()] = "due",
    due_by: Annotated[date | None, Query()] = None,
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> Response:
    """The listed reports in one CSV file (a row per transaction), nearest deadline first."""
    return download(
        reporting.export_large_value_batch(rt, principal.actor, status=status, due_by=due_by)
    )


@router.post("/large-value-reports/{report_id}/file", response_model=reporting.LargeValueView)
def file_large_value(
    report_id: ReportPath, principal: StaffPrincipal = OFFICER, rt: Runtime = Depends(runtime)
) -> reporting.LargeValueView:
    return reporting.file_large_value_report(rt, principal.actor, report_id)


@router.get("/large-value-reports/{report_id}/export", response_class=Response)
def export_large_value(
    report_id: ReportPath,
    format: Format = "xml",
    principal: StaffPrincipal = OFFICER,
    rt: Runtime = Depends(runtime),
) -> Response:
    return download(reporting.export_large_value_report(rt, principal.actor, report_id, format))


def download(file: reporting.ExportFile) -> Response:
    """An export as a file the browser saves."""
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )
