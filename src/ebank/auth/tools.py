"""Authentication tools through their life: enrol or assign, enable/disable, report lost (the tool
stops at once), lift the loss report, replace, revoke (permanent; a certificate is revoked with
it), resynchronise, reset the failure counter. Physical tools carry a voucher print number."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.auth import otp, passkeys, pki
from ebank.auth.authority import bank_ca
from ebank.auth.challenges import TOOL_SECRET_PURPOSE, relying_party
from ebank.auth.models import AuthChallenge, AuthTool
from ebank.auth.strength import Factor, is_strong
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, NotFound, Unprocessable
from ebank.common.i18n import N_
from ebank.notify import service as notify
from ebank.notify.messages import (
    CHANGE_TOOL_ADDED,
    CHANGE_TOOL_DISABLED,
    CHANGE_TOOL_ENABLED,
    CHANGE_TOOL_LOST,
    CHANGE_TOOL_REPLACED,
    CHANGE_TOOL_RESET,
    CHANGE_TOOL_RESTORED,
    CHANGE_TOOL_RESYNCED,
    CHANGE_TOOL_REVOKED,
)
from ebank.risk.assessment import EventKind, RiskEvent
from ebank.runtime import Runtime

KINDS = ("totp", "hotp", "usbkey", "passkey")
PHYSICAL = ("totp", "hotp", "usbkey")
TOOL_STATES = {
    "active": N_("active"),
    "disabled": N_("disabled"),
    "lost": N_("reported lost"),
    "revoked": N_("revoked"),
}


@dataclass(frozen=True)
class ToolView:
    id: int
    kind: str
    serial: str
    label: str | None
    status: str
    voucher_no: str | None
    fail_count: int
    certificate_not_after: datetime | None
    created_at: datetime
    lost_at: datetime | None
    replaces_id: int | None


def _view(tool: AuthTool) -> ToolView:
    return ToolView(
        tool.id,
        tool.kind,
        tool.serial,
        tool.label,
        tool.status,
        tool.voucher_no,
        tool.fail_count,
        tool.certificate_not_after,
        tool.created_at,
        tool.lost_at,
        tool.replaces_id,
    )


def _state(tool: AuthTool) -> dict[str, Any]:
    return {"status": tool.status, "fail_count": tool.fail_count, "kind": tool.kind}


def list_tools(rt: Runtime, customer_id: int) -> list[ToolView]:
    with rt.db.read() as session:
        rows = session.execute(
            select(AuthTool).where(AuthTool.customer_id == customer_id).order_by(AuthTool.id)
        ).scalars()
        return [_view(row) for row in rows]


def _voucher(rt: Runtime) -> str:
    day = rt.clock.now().astimezone(rt.policy.zone).strftime("%Y%m%d")
    return f"V{day}{secrets.randbelow(10**8):08d}"


def _serial(kind: str) -> str:
    return f"{kind.upper()}-{secrets.token_hex(6).upper()}"


def _new_tool(rt: Runtime, customer_id: int, kind: str, **values: Any) -> AuthTool:
    now = rt.clock.now()
    defaults: dict[str, Any] = {"counter": 0, "drift_steps": 0, "sign_count": 0, "fail_count": 0}
    return AuthTool(
        customer_id=customer_id,
        kind=kind,
        serial=values.pop("serial", None) or _serial(kind),
        voucher_no=_voucher(rt) if kind in PHYSICAL else None,
        status="active",
        created_at=now,
        updated_at=now,
        **(defaults | values),
    )


UPKEEP = frozenset({"resynced", "fail_counter_reset"})  # the same tool kept working: no change


def _record(
    session: Session, rt: Runtime, actor: Actor, tool: AuthTool, action: str, **kwargs: Any
) -> None:
    """Audit a change to a tool and show it to the risk engine (a security change)."""
    audit.record(
        session,
        AuditEntry(actor, f"tool.{action}", "auth_tool", str(tool.id), **kwargs),
        rt.clock.now(),
    )
    if action in UPKEEP:
        return
    rt.risk.assess(
        RiskEvent(
            kind=EventKind.TOOL_CHANGE,
            customer_id=tool.customer_id,
            at=rt.clock.now(),
            channel="counter" if actor.kind == "staff" else "online",
            details={"change": action, "kind": tool.kind},
        )
    )


def _added(session: Session, rt: Runtime, actor: Actor, tool: AuthTool) -> None:
    session.add(tool)
    session.flush()
    _record(session, rt, actor, tool, "enrolled", after=_state(tool) | {"serial": tool.serial})
    notify.queue(session, rt, tool.customer_id, "security_change", change_msgid=CHANGE_TOOL_ADDED)


# --- enrolment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolledToken:
    tool: ToolView
    provisioning_uri: str  # shown once, to load the seed into a soft token


def enrol_token(
    rt: Runtime, actor: Actor, customer_id: int, *, kind: str, secret: bytes | None = None
) -> EnrolledToken:
    """An e-token (TOTP or HOTP). A physical token's seed comes from its vendor file (``secret``);
    a soft token gets a new seed, shown once as an otpauth URI."""
    if kind not in ("totp", "hotp"):
        raise Unprocessable("invalid_tool_kind", "Choose TOTP or HOTP.", field="kind")
    seed = secret or otp.new_secret()
    tool = _new_tool(
        rt,
        customer_id,
        kind,
        secret_enc=rt.cipher.encrypt(base64.b32encode(seed).decode(), purpose=TOOL_SECRET_PURPOSE),
    )
    with rt.db.write() as session:
        _added(session, rt, actor, tool)
        view = _view(tool)
    rt.courier.wake()
    uri = otp.provisioning_uri(
        seed,
        account_name=view.serial,
        issuer=rt.policy.ledger.bank_code,
        kind="totp" if kind == "totp" else "hotp",
        step_s=rt.policy.customer_auth.totp_step_seconds,
    )
    return EnrolledToken(view, uri)


@dataclass(frozen=True)
class EnrolledUsbKey:
    tool: ToolView
    certificate_pem: str


def enrol_usbkey(
    rt: Runtime,
    actor: Actor,
    customer_id: int,
    *,
    public_key_pem: str,
    replaces_id: int | None = None,
) -> EnrolledUsbKey:
    """Certify the key pair generated inside a USB key (its private key never leaves it)."""
    ca = bank_ca(rt)
    serial = secrets.randbits(63) | 1
    try:
        certificate = pki.issue_certificate(
            ca,
            (public_key_pem or "").encode(),
            subject_name=f"customer {customer_id}",
            serial=serial,
            now=rt.clock.now(),
            days=rt.policy.customer_auth.certificate_days,
        )
    except pki.CertificateProblem as exc:
        raise Unprocessable(
            exc.code,
            "The USB key's public key must be an EC P-256 key in PEM.",
            field="public_key_pem",
        ) from None
    pem = pki.certificate_pem(certificate).decode()
    tool = _new_tool(
        rt,
        customer_id,
        "usbkey",
        certificate_pem=pem,
        certificate_serial=str(serial),
        certificate_not_after=certificate.not_valid_after_utc,
        replaces_id=replaces_id,
    )
    with rt.db.write() as session:
        _added(session, rt, actor, tool)
        view = _view(tool)
    rt.courier.wake()
    return EnrolledUsbKey(view, pem)


def require_strong_session(factors: frozenset[Factor]) -> None:
    """A passkey is added only from a session opened with two factors."""
    if not is_strong(factors):
        raise Unprocessable(
            "strong_login_required",
            "Log in with two factors before adding a passkey.",
        )


def begin_passkey(rt: Runtime, customer_id: int, *, user_name: str) -> tuple[str, dict[str, Any]]:
    """WebAuthn registration options; the challenge is kept for ``finish_passkey``."""
    now = rt.clock.now()
    challenge = secrets.token_bytes(32)
    challenge_id = secrets.token_urlsafe(18)
    with rt.db.write() as session:
        existing = session.execute(
            select(AuthTool.credential_id).where(
                AuthTool.customer_id == customer_id, AuthTool.kind == "passkey"
            )
        ).scalars()
        exclude = [_from_b64url(value) for value in existing if value]
        session.add(
            AuthChallenge(
                id=challenge_id,
                customer_id=customer_id,
                purpose="passkey_reg",
                subject=f"customer:{customer_id}",
                method="passkey",
                linked_digest="-",
                nonce=challenge,
                attempts=0,
                max_attempts=1,
                status="open",
                created_at=now,
                expires_at=now + timedelta(seconds=rt.policy.customer_auth.challenge_ttl_seconds),
            )
        )
    options = passkeys.registration_options(
        relying_party(rt),
        user_handle=f"c{customer_id}".encode(),
        user_name=user_name,
        display_name=user_name,
        challenge=challenge,
        exclude_credential_ids=exclude,
    )
    return challenge_id, options


def finish_passkey(
    rt: Runtime,
    actor: Actor,
    customer_id: int,
    *,
    challenge_id: str,
    credential: dict[str, Any],
    label: str | None,
) -> ToolView:
    with rt.db.write() as session:
        row = session.get(AuthChallenge, challenge_id, with_for_update={"key_share": True})
        if (
            row is None
            or row.customer_id != customer_id
            or row.purpose != "passkey_reg"
            or row.status != "open"
            or rt.clock.now() >= row.expires_at
            or row.nonce is None
        ):
            raise Conflict(
                "challenge_unusable",
                "This verification has been used or has failed. Ask for a new one.",
                field="challenge_id",
            )
        row.status = "used"
        try:
            registered = passkeys.verify_registration(
                relying_party(rt), credential=credential, expected_challenge=row.nonce
            )
        except passkeys.PasskeyProblem as exc:
            raise Unprocessable(
                exc.code, "The passkey could not be registered.", field="credential"
            ) from None
        tool = _new_tool(
            rt,
            customer_id,
            "passkey",
            label=(label or "passkey")[:64],
            credential_id=_b64url(registered.credential_id),
            public_key=registered.public_key,
            sign_count=registered.sign_count,
        )
        _added(session, rt, actor, tool)
        view = _view(tool)
    rt.courier.wake()
    return view


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- lifecycle ----------------------------------------------------------------------------------

# What each change needs the tool to be, what it becomes, and what the customer is told.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "report_lost": (("active", "disabled"), "lost", CHANGE_TOOL_LOST),
    "lift_loss": (("lost",), "active", CHANGE_TOOL_RESTORED),
    "disable": (("active",), "disabled", CHANGE_TOOL_DISABLED),
    "enable": (("disabled",), "active", CHANGE_TOOL_ENABLED),
    "revoke": (("active", "disabled", "lost"), "revoked", CHANGE_TOOL_REVOKED),
}


def change_status(
    rt: Runtime, actor: Actor, customer_id: int, tool_id: int, change: str
) -> ToolView:
    """Apply one lifecycle change. Reporting a tool lost stops it at once: open challenges made
    with it fail from this moment."""
    allowed_from, new_status, message = TRANSITIONS[change]
    now = rt.clock.now()
    with rt.db.write() as session:
        tool = _tool_for_update(session, customer_id, tool_id)
        if tool.status not in allowed_from:
            raise Conflict(
                "tool_state",
                "This tool is {state_msgid}: that change does not apply.",
                field="tool_id",
                state=tool.status,
                state_msgid=TOOL_STATES[tool.status],
            )
        before = _state(tool)
        tool.status, tool.updated_at = new_status, now
        if change == "report_lost":
            tool.lost_at = now
        if change == "revoke":
            tool.revoked_at = now
        _record(session, rt, actor, tool, change, before=before, after=_state(tool))
        notify.queue(session, rt, customer_id, "security_change", change_msgid=message)
        view = _view(tool)
    rt.courier.wake()
    return view


def reset_fail_counter(rt: Runtime, actor: Actor, customer_id: int, tool_id: int) -> ToolView:
    with rt.db.write() as session:
        tool = _tool_for_update(session, customer_id, tool_id)
        before = _state(tool)
        tool.fail_count, tool.updated_at = 0, rt.clock.now()
        _record(session, rt, actor, tool, "fail_counter_reset", before=before, after=_state(tool))
        notify.queue(session, rt, customer_id, "security_change", change_msgid=CHANGE_TOOL_RESET)
        view = _view(tool)
    rt.courier.wake()
    return view


def resync(
    rt: Runtime, actor: Actor, customer_id: int, tool_id: int, *, first: str, second: str
) -> ToolView:
    """Re-align an e-token from two consecutive codes it shows now."""
    policy = rt.policy.customer_auth
    with rt.db.write() as session:
        tool = _tool_for_update(session, customer_id, tool_id)
        if tool.kind not in ("totp", "hotp") or tool.secret_enc is None or tool.status != "active":
            raise Conflict(
                "tool_state", "Only an active e-token can be resynchronised.", field="tool_id"
            )
        if tool.fail_count >= policy.token_max_failures:  # guessing stops here: the counter
            raise Conflict(  # resets it, after checking who holds the token
                "tool_locked",
                "This tool has failed too many times. Reset its counter at a branch.",
                field="tool_id",
            )
        secret = base64.b32decode(rt.cipher.decrypt(tool.secret_enc, purpose=TOOL_SECRET_PURPOSE))
        if tool.kind == "hotp":
            counter = otp.resync_hotp(
                secret, first, second, tool.counter, look_ahead=policy.resync_look_ahead
            )
            if counter is None:
                raise _resync_failed()
            tool.counter = counter
        else:
            now = rt.clock.now()
            drift = otp.resync_totp(secret, first, second, now, step_s=policy.totp_step_seconds)
            if drift is None:
                raise _resync_failed()
            tool.drift_steps = drift
            tool.last_step = otp.time_step(now, step_s=policy.totp_step_seconds) + drift
        tool.fail_count, tool.updated_at = 0, rt.clock.now()
        _record(session, rt, actor, tool, "resynced")
        notify.queue(session, rt, customer_id, "security_change", change_msgid=CHANGE_TOOL_RESYNCED)
        view = _view(tool)
    rt.courier.wake()
    return view


def _resync_failed() -> Unprocessable:
    return Unprocessable(
        "resync_failed",
        "The two codes were not found in sequence. Try two new ones.",
        field="first",
    )


def replace_usbkey(
    rt: Runtime, actor: Actor, customer_id: int, tool_id: int, *, public_key_pem: str
) -> EnrolledUsbKey:
    """A new USB key for an old one (lost, broken or expiring): the old one is revoked."""
    with rt.db.read() as session:
        old = session.get(AuthTool, tool_id)
        if old is None or old.customer_id != customer_id:
            raise _tool_not_found()
        if old.kind != "usbkey" or old.status == "revoked":
            raise Conflict(
                "tool_state", "Only a USB key that is not revoked can be replaced.", field="tool_id"
            )
    enrolled = enrol_usbkey(
        rt, actor, customer_id, public_key_pem=public_key_pem, replaces_id=tool_id
    )
    change_status(rt, actor, customer_id, tool_id, "revoke")
    with rt.db.write() as session:
        notify.queue(session, rt, customer_id, "security_change", change_msgid=CHANGE_TOOL_REPLACED)
    rt.courier.wake()
    return enrolled


def _tool_for_update(session: Session, customer_id: int, tool_id: int) -> AuthTool:
    tool = session.get(AuthTool, tool_id, with_for_update={"key_share": True})
    if tool is None or tool.customer_id != customer_id:
        raise _tool_not_found()
    return tool


def _tool_not_found() -> NotFound:
    return NotFound("tool_not_found", "No such authentication tool.", field="tool_id")
