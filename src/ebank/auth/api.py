"""Customer authentication API (login, devices, tools) and the counter's tool and lock routes."""

from __future__ import annotations

import base64
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from ebank.auth import service, tools
from ebank.auth.challenges import IssuedChallenge, Proof
from ebank.auth.schemas import (
    ChallengeOut,
    LoginChallengeIn,
    LoginIn,
    LoginOut,
    PasskeyFinishIn,
    PasskeyOptionsOut,
    PinIn,
    ResyncIn,
    TokenEnrolIn,
    UsbKeyEnrolIn,
    method_factor,
)
from ebank.auth.service import CustomerSession
from ebank.common.errors import Unprocessable
from ebank.runtime import Runtime
from ebank.staff.permissions import Permission
from ebank.web.fields import MAX_ID
from ebank.web.security import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    StaffPrincipal,
    current_customer,
    device_ref,
    require,
    runtime,
)

router = APIRouter(tags=["customer authentication"])
EntityPath = Annotated[int, Path(ge=1, le=MAX_ID)]
TOOL_CHANGES = ("report_lost", "lift_loss", "disable", "enable", "revoke")


def challenge_out(issued: IssuedChallenge) -> ChallengeOut:
    return ChallengeOut(
        id=issued.id,
        method=issued.method,
        expires_at=issued.expires_at,
        sent_to=issued.sent_to,
        sign_payload=issued.sign_payload,
        webauthn=issued.webauthn,
    )


@router.post("/customer/login/challenge", response_model=ChallengeOut)
def login_challenge(body: LoginChallengeIn, rt: Runtime = Depends(runtime)) -> ChallengeOut:
    issued = service.request_login_challenge(
        rt, login_name=body.login_name, method=method_factor(body.method)
    )
    return challenge_out(issued)


@router.post("/customer/login", response_model=LoginOut)
def login(
    body: LoginIn, request: Request, response: Response, rt: Runtime = Depends(runtime)
) -> LoginOut:
    device = device_ref(request) or secrets.token_urlsafe(24)
    result = service.login(
        rt,
        service.LoginAttempt(
            login_name=body.login_name,
            password=body.password,
            method=method_factor(body.method),
            channel=body.channel,
            device_ref=device,
            device_label=body.device_name or request.headers.get("user-agent", "")[:128],
            challenge_id=body.challenge_id,
            proof=Proof(code=body.code, signature=body.signature, credential=body.credential),
            ip=request.client.host if request.client else None,
        ),
    )
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=5 * 365 * 86400,
        httponly=True,
        samesite="strict",
        secure=rt.settings.cookie_secure,
    )
    return LoginOut(
        token=result.session.token,
        csrf_token=result.session.csrf_token,
        expires_at=result.session.expires_at,
        customer_id=result.customer_id,
        device_id=device,
        new_device=result.new_device,
        factors=sorted(f.value for f in result.factors),
    )


@router.delete("/customer/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    response: Response,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> None:
    service.logout(rt, caller.customer_id, caller.session_id)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me/devices", response_model=list[service.DeviceView])
def my_devices(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> list[service.DeviceView]:
    return service.list_devices(rt, caller.customer_id, caller.device_id)


@router.delete("/me/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_device(
    device_id: EntityPath,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> None:
    service.revoke_device(rt, caller.customer_id, device_id)


@router.get("/me/tools", response_model=list[tools.ToolView])
def my_tools(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> list[tools.ToolView]:
    return tools.list_tools(rt, caller.customer_id)


@router.post("/me/tools/{tool_id}/report-lost", response_model=tools.ToolView)
def report_lost(
    tool_id: EntityPath,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> tools.ToolView:
    """Stops the tool at once; only the counter lifts the report."""
    return tools.change_status(rt, caller.actor, caller.customer_id, tool_id, "report_lost")


@router.post("/me/tools/{tool_id}/resync", response_model=tools.ToolView)
def resync(
    tool_id: EntityPath,
    body: ResyncIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> tools.ToolView:
    return tools.resync(
        rt, caller.actor, caller.customer_id, tool_id, first=body.first, second=body.second
    )


@router.post("/me/passkeys/options", response_model=PasskeyOptionsOut)
def passkey_options(
    caller: CustomerSession = Depends(current_customer), rt: Runtime = Depends(runtime)
) -> PasskeyOptionsOut:
    tools.require_strong_session(caller.factors)
    challenge_id, options = tools.begin_passkey(
        rt, caller.customer_id, user_name=f"customer-{caller.customer_id}"
    )
    return PasskeyOptionsOut(challenge_id=challenge_id, options=options)


@router.post("/me/passkeys", response_model=tools.ToolView, status_code=status.HTTP_201_CREATED)
def passkey_register(
    body: PasskeyFinishIn,
    caller: CustomerSession = Depends(current_customer),
    rt: Runtime = Depends(runtime),
) -> tools.ToolView:
    tools.require_strong_session(caller.factors)
    return tools.finish_passkey(
        rt,
        caller.actor,
        caller.customer_id,
        challenge_id=body.challenge_id,
        credential=body.credential,
        label=body.label,
    )


# --- at the counter ------------------------------------------------------------------------------


@router.post("/customers/{customer_id}/unlock", status_code=status.HTTP_204_NO_CONTENT)
def unlock(
    customer_id: EntityPath,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> None:
    service.unlock(rt, principal.actor, customer_id)


@router.post(
    "/customers/{customer_id}/tokens",
    response_model=tools.EnrolledToken,
    status_code=status.HTTP_201_CREATED,
)
def assign_token(
    customer_id: EntityPath,
    body: TokenEnrolIn,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> tools.EnrolledToken:
    secret = _seed(body.secret_base32) if body.secret_base32 else None
    return tools.enrol_token(rt, principal.actor, customer_id, kind=body.kind, secret=secret)


def _seed(text: str) -> bytes:
    try:
        seed = base64.b32decode(text.replace(" ", "").upper() + "=" * (-len(text) % 8))
    except ValueError:
        seed = b""
    if len(seed) < 16:
        raise Unprocessable(
            "invalid_seed", "The token seed is base32, at least 16 bytes.", field="secret_base32"
        )
    return seed


@router.post(
    "/customers/{customer_id}/usbkeys",
    response_model=tools.EnrolledUsbKey,
    status_code=status.HTTP_201_CREATED,
)
def assign_usbkey(
    customer_id: EntityPath,
    body: UsbKeyEnrolIn,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> tools.EnrolledUsbKey:
    return tools.enrol_usbkey(rt, principal.actor, customer_id, public_key_pem=body.public_key_pem)


@router.get("/customers/{customer_id}/tools", response_model=list[tools.ToolView])
def customer_tools(
    customer_id: EntityPath,
    _: StaffPrincipal = Depends(require(Permission.CUSTOMERS_READ)),
    rt: Runtime = Depends(runtime),
) -> list[tools.ToolView]:
    return tools.list_tools(rt, customer_id)


def _tool_route(change: str) -> None:
    path = f"/customers/{{customer_id}}/tools/{{tool_id}}/{change.replace('_', '-')}"

    @router.post(path, response_model=tools.ToolView, name=f"tool_{change}")
    def change_tool(
        customer_id: EntityPath,
        tool_id: EntityPath,
        principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
        rt: Runtime = Depends(runtime),
    ) -> tools.ToolView:
        return tools.change_status(rt, principal.actor, customer_id, tool_id, change)


for _change in TOOL_CHANGES:
    _tool_route(_change)


@router.post(
    "/customers/{customer_id}/tools/{tool_id}/reset-counter", response_model=tools.ToolView
)
def reset_counter(
    customer_id: EntityPath,
    tool_id: EntityPath,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> tools.ToolView:
    return tools.reset_fail_counter(rt, principal.actor, customer_id, tool_id)


@router.post(
    "/customers/{customer_id}/tools/{tool_id}/replace", response_model=tools.EnrolledUsbKey
)
def replace_usbkey(
    customer_id: EntityPath,
    tool_id: EntityPath,
    body: UsbKeyEnrolIn,
    principal: StaffPrincipal = Depends(require(Permission.CUSTOMERS_WRITE)),
    rt: Runtime = Depends(runtime),
) -> tools.EnrolledUsbKey:
    return tools.replace_usbkey(
        rt, principal.actor, customer_id, tool_id, public_key_pem=body.public_key_pem
    )


@router.put("/accounts/{account_id}/pin", status_code=status.HTTP_204_NO_CONTENT)
def set_pin(
    account_id: EntityPath,
    body: PinIn,
    principal: StaffPrincipal = Depends(require(Permission.ACCOUNTS_OPEN)),
    rt: Runtime = Depends(runtime),
) -> None:
    from ebank.channels.service import set_card_pin

    set_card_pin(rt, principal.actor, account_id, body.pin)
