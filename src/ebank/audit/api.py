"""Audit API for auditors: read the trail, verify its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ebank.audit import service
from ebank.audit.chain import ChainedRecord, ChainReport
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, require, runtime

router = APIRouter(prefix="/audit", tags=["audit"])
AUDITOR = Depends(require(Permission.AUDIT_READ))


@router.get("/records", response_model=list[ChainedRecord])
def records(
    entity_type: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    _: StaffPrincipal = AUDITOR,
    rt: Runtime = Depends(runtime),
) -> list[ChainedRecord]:
    """The trail in order, filtered; page with ``after`` (the last seq seen)."""
    filters = service.RecordFilter(entity_type, entity_id, actor_id, action)
    with rt.db.read() as session:
        return service.find_records(session.connection(), filters, after=after, limit=limit)


@router.post("/verifications", response_model=ChainReport)
def verify(_: StaffPrincipal = AUDITOR, rt: Runtime = Depends(runtime)) -> ChainReport:
    """Walk the hash chain; name the first record altered, removed or reordered."""
    with rt.db.snapshot() as conn:
        return service.verify(conn)
