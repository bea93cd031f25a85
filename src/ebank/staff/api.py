"""Staff API: log in and out, who am I, and (administrators) staff management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from ebank.runtime import Runtime
from ebank.staff import service
from ebank.staff.permissions import Permission
from ebank.staff.schemas import LoginRequest, SessionOut, StaffCreate, StaffUpdate
from ebank.web.fields import MAX_ID
from ebank.web.security import StaffPrincipal, current_staff, require, runtime

router = APIRouter(prefix="/staff", tags=["staff"])


@router.post("/sessions", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
def log_in(body: LoginRequest, request: Request, rt: Runtime = Depends(runtime)) -> SessionOut:
    """Password login. Five wrong passwords lock the account (a warning comes before the last)."""
    result = service.login(
        rt,
        username=body.username,
        password=body.password,
        user_agent=request.headers.get("user-agent"),
    )
    return SessionOut(
        token=result.session.token,
        csrf_token=result.session.csrf_token,
        expires_at=result.session.expires_at,
        staff=result.staff,
    )


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def log_out(
    principal: StaffPrincipal = Depends(current_staff), rt: Runtime = Depends(runtime)
) -> Response:
    service.logout(rt, principal.actor, principal.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=service.StaffMe)
def me(
    principal: StaffPrincipal = Depends(current_staff), rt: Runtime = Depends(runtime)
) -> service.StaffMe:
    return service.me(rt, principal.staff_id)


@router.get("/users", response_model=list[service.StaffView])
def list_users(
    _: StaffPrincipal = Depends(require(Permission.STAFF_MANAGE)), rt: Runtime = Depends(runtime)
) -> list[service.StaffView]:
    return service.list_staff(rt)


@router.post("/users", response_model=service.StaffView, status_code=status.HTTP_201_CREATED)
def create_user(
    body: StaffCreate,
    principal: StaffPrincipal = Depends(require(Permission.STAFF_MANAGE)),
    rt: Runtime = Depends(runtime),
) -> service.StaffView:
    return service.create_staff(
        rt,
        principal.actor,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
    )


@router.patch("/users/{staff_id}", response_model=service.StaffView)
def update_user(
    staff_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: StaffUpdate,
    principal: StaffPrincipal = Depends(require(Permission.STAFF_MANAGE)),
    rt: Runtime = Depends(runtime),
) -> service.StaffView:
    return service.update_staff(
        rt,
        principal.actor,
        staff_id,
        role=body.role,
        active=body.active,
        unlock=body.unlock,
        password=body.password,
    )
