"""The customer's notification inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from ebank.auth.service import CustomerSession
from ebank.notify import service
from ebank.runtime import Runtime
from ebank.web.fields import MAX_ID
from ebank.web.security import current_customer, runtime

router = APIRouter(tags=["notifications"])


@router.get("/me/notifications", response_model=list[service.InboxItem])
def my_notifications(
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> list[service.InboxItem]:
    return service.inbox(rt, caller.customer_id, limit=limit, before_id=before_id)


@router.post("/me/notifications/{notification_id}/read", status_code=status.HTTP_204_NO_CONTENT)
def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> None:
    service.mark_read(rt, caller.customer_id, notification_id)
