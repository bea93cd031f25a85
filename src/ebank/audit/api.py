"""Audit API for auditors: read the trail, verify its hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from ebank.audit import service
from ebank.audit.models import AuditRecord
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, require, runtime

router = APIRouter(prefix="/audit", tags=["audit"])
AUDITOR = Depends(require(Permission.AUDIT_READ))


class AuditRecordOut(BaseModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str
    before_json: str | None
    after_json: str | None
    hash: str


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None


@router.get("/records", response_model=list[AuditRecordOut])
def records(
    entity_type: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: StaffPrincipal = AUDITOR,
    rt: Runtime = Depends(runtime),
) -> list[AuditRecordOut]:
    """The trail in order, filtered; page with ``after`` (the last seq seen)."""
    query = (
        select(AuditRecord).where(AuditRecord.seq > after).order_by(AuditRecord.seq).limit(limit)
    )
    for column, value in (
        (AuditRecord.entity_type, entity_type),
        (AuditRecord.entity_id, entity_id),
        (AuditRecord.actor_id, actor_id),
        (AuditRecord.action, action),
    ):
        if value is not None:
            query = query.where(column == value)
    with rt.db.read() as session:
        return [
            AuditRecordOut.model_validate(r, from_attributes=True)
            for r in session.execute(query).scalars()
        ]


@router.post("/verifications", response_model=ChainReportOut)
def verify(_: StaffPrincipal = AUDITOR, rt: Runtime = Depends(runtime)) -> ChainReportOut:
    """Walk the hash chain; name the first record altered, removed or reordered."""
    with rt.db.snapshot() as conn:
        report = service.verify(conn)
    return ChainReportOut(
        ok=report.ok,
        checked=report.checked,
        first_bad_seq=report.first_bad_seq,
        reason=report.reason,
    )
