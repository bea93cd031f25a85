"""Authentication challenges bound to what they authorise (dynamic linking, RTS Art. 5).

A challenge stores a digest of its *linked fields* — for a payment the amount, currency, payee
account and name, and the payment's id and version. Verification recomputes the digest from the
subject as it is now, so any change of amount or payee since the challenge was issued makes it
fail. The SMS code's keyed hash also covers the digest; a USB key signs the canonical payload
itself; a passkey's WebAuthn challenge is a hash of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ebank.auth import otp, passkeys, pki
from ebank.auth.authority import bank_ca
from ebank.auth.models import AuthChallenge, AuthTool
from ebank.auth.strength import Factor
from ebank.common.errors import Conflict, TooManyRequests, Unprocessable
from ebank.notify import service as notify
from ebank.runtime import Runtime

METHODS = (Factor.SMS, Factor.TOTP, Factor.HOTP, Factor.USBKEY, Factor.PASSKEY)
TOOL_KINDS = {Factor.TOTP: "totp", Factor.HOTP: "hotp", Factor.USBKEY: "usbkey"}
CODE_PURPOSE = "challenge.code"
TOOL_SECRET_PURPOSE = "tool.secret"  # noqa: S105  # a purpose label, not a secret

Linked = Mapping[str, str | int]


@dataclass(frozen=True)
class Proof:
    code: str | None = None  # SMS, TOTP, HOTP
    signature: str | None = None  # USB key: base64 DER ECDSA over the payload
    credential: Mapping[str, Any] | None = None  # passkey assertion (PublicKeyCredential JSON)


@dataclass(frozen=True)
class IssuedChallenge:
    id: str
    method: str
    expires_at: datetime
    sent_to: str | None = None  # the masked reserved phone an SMS code went to
    sign_payload: str | None = None  # what a USB key signs (canonical JSON)
    webauthn: dict[str, Any] | None = None  # passkey request options
    notification_id: int | None = None


def linked_payload(linked: Linked, challenge_id: str) -> bytes:
    return pki.canonical_payload({**linked, "challenge": challenge_id})


def linked_digest(linked: Linked) -> str:
    return hashlib.sha256(pki.canonical_payload(linked)).hexdigest()


def relying_party(rt: Runtime) -> passkeys.RelyingParty:
    return passkeys.RelyingParty(id=rt.settings.rp_id, name="ebank", origin=rt.settings.rp_origin)


def issue(
    session: Session,
    rt: Runtime,
    *,
    customer_id: int,
    purpose: str,
    subject: str,
    method: Factor,
    linked: Linked,
    sms: tuple[str, dict[str, Any]] | None = None,
) -> IssuedChallenge:
    """Open a challenge for ``method``; an SMS code is queued with ``sms`` = (kind, params)."""
    policy = rt.policy.customer_auth
    now = rt.clock.now()
    challenge_id = secrets.token_urlsafe(18)
    ttl = policy.sms_code_ttl_seconds if method is Factor.SMS else policy.challenge_ttl_seconds
    row = AuthChallenge(
        id=challenge_id,
        customer_id=customer_id,
        purpose=purpose,
        subject=subject,
        method=method.value,
        linked_digest=linked_digest(linked),
        attempts=0,
        max_attempts=policy.sms_code_max_tries if method is Factor.SMS else 1,
        status="open",
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    issued = IssuedChallenge(challenge_id, method.value, row.expires_at)
    if method is Factor.SMS:
        issued = _with_sms_code(session, rt, row, sms)
    elif method is Factor.PASSKEY:
        issued = _with_passkey_options(session, rt, row, linked)
    else:
        row.tool_id = _active_tool(session, customer_id, TOOL_KINDS[method]).id
        if method is Factor.USBKEY:
            payload = linked_payload(linked, challenge_id).decode()
            issued = IssuedChallenge(
                challenge_id, method.value, row.expires_at, sign_payload=payload
            )
    session.add(row)
    session.flush()
    return issued


def _with_sms_code(
    session: Session, rt: Runtime, row: AuthChallenge, sms: tuple[str, dict[str, Any]] | None
) -> IssuedChallenge:
    assert sms is not None, "an SMS challenge needs its message"
    _check_sms_rate(session, rt, row)
    code = "".join(
        secrets.choice("0123456789") for _ in range(rt.policy.customer_auth.sms_code_digits)
    )
    row.code_hash = _code_hash(rt, row.id, row.linked_digest, code)
    kind, params = sms
    minutes = max(1, rt.policy.customer_auth.sms_code_ttl_seconds // 60)
    notification_id = notify.queue(
        session, rt, row.customer_id, kind, code=code, minutes=minutes, **params
    )
    from ebank.customers.models import Customer

    customer = session.get(Customer, row.customer_id)
    return IssuedChallenge(
        row.id,
        row.method,
        row.expires_at,
        sent_to=customer.mobile_masked if customer else None,
        notification_id=notification_id,
    )


def _check_sms_rate(session: Session, rt: Runtime, row: AuthChallenge) -> None:
    """At most one code a minute for the same login or payment, and a cap per hour."""
    policy = rt.policy.customer_auth
    now = row.created_at
    sent = session.execute(
        select(AuthChallenge.subject, AuthChallenge.created_at).where(
            AuthChallenge.customer_id == row.customer_id,
            AuthChallenge.method == Factor.SMS.value,
            AuthChallenge.created_at > now - timedelta(hours=1),
        )
    ).all()
    count = len(sent)
    resend = timedelta(seconds=policy.sms_resend_seconds)
    too_soon = any(subject == row.subject and now - at < resend for subject, at in sent)
    if too_soon or count >= policy.sms_max_per_hour:
        raise TooManyRequests(
            "sms_rate_limited",
            "A code was sent very recently. Wait a little before asking for another.",
        )


def _code_hash(rt: Runtime, challenge_id: str, digest: str, code: str) -> str:
    return rt.cipher.lookup_hash(f"{challenge_id}|{digest}|{code}", purpose=CODE_PURPOSE)


def _with_passkey_options(
    session: Session, rt: Runtime, row: AuthChallenge, linked: Linked
) -> IssuedChallenge:
    tools = _passkeys(session, row.customer_id)
    if not tools:
        raise _no_tool()
    row.nonce = secrets.token_bytes(16)
    challenge = passkeys.linked_challenge(linked_payload(linked, row.id), row.nonce)
    ids = [base64.urlsafe_b64decode(_padded(t.credential_id or "")) for t in tools]
    options = passkeys.authentication_options(
        relying_party(rt), challenge=challenge, allow_credential_ids=ids
    )
    return IssuedChallenge(row.id, row.method, row.expires_at, webauthn=options)


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _passkeys(session: Session, customer_id: int) -> list[AuthTool]:
    return list(
        session.execute(
            select(AuthTool).where(
                AuthTool.customer_id == customer_id,
                AuthTool.kind == "passkey",
                AuthTool.status == "active",
            )
        ).scalars()
    )


def _active_tool(session: Session, customer_id: int, kind: str) -> AuthTool:
    tool = session.execute(
        select(AuthTool)
        .where(AuthTool.customer_id == customer_id, AuthTool.kind == kind)
        .where(AuthTool.status == "active")
        .order_by(AuthTool.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if tool is None:
        raise _no_tool()
    return tool


def _no_tool() -> Unprocessable:
    return Unprocessable(
        "tool_unavailable",
        "You have no usable tool of this kind: it may be reported lost, disabled or revoked.",
        field="method",
    )


def verify(
    session: Session,
    rt: Runtime,
    *,
    challenge_id: str,
    customer_id: int,
    purpose: str,
    subject: str,
    linked: Linked,
    proof: Proof,
) -> Factor | None:
    """The factor proven, or None when the proof is wrong (the caller counts the failure).

    Raises when the challenge cannot be used at all: unknown, used, expired, or bound to something
    that has changed since it was issued."""
    row = _open_challenge(
        session,
        rt,
        challenge_id=challenge_id,
        customer_id=customer_id,
        purpose=purpose,
        subject=subject,
    )
    if not hmac.compare_digest(row.linked_digest, linked_digest(linked)):
        row.status = "failed"
        raise Conflict(
            "challenge_invalidated",
            "The details changed after the code was issued, so it no longer applies. Ask for a "
            "new one.",
            field="challenge_id",
        )
    method = Factor(row.method)
    ok = _check_proof(session, rt, row, method=method, linked=linked, proof=proof)
    if ok:
        row.status = "used"
        return method
    row.attempts += 1
    if row.attempts >= row.max_attempts:
        row.status = "failed"
    return None


def _open_challenge(
    session: Session,
    rt: Runtime,
    *,
    challenge_id: str,
    customer_id: int,
    purpose: str,
    subject: str,
) -> AuthChallenge:
    row = session.execute(
        select(AuthChallenge).where(AuthChallenge.id == challenge_id).with_for_update()
    ).scalar_one_or_none()
    if (
        row is None
        or row.customer_id != customer_id
        or row.purpose != purpose
        or row.subject != subject
        or row.status != "open"
    ):
        raise Conflict(
            "challenge_unusable",
            "This verification has been used or has failed. Ask for a new one.",
            field="challenge_id",
        )
    if rt.clock.now() >= row.expires_at:
        row.status = "failed"
        raise Conflict(
            "challenge_expired",
            "The verification has expired. Ask for a new one.",
            field="challenge_id",
        )
    return row


def _check_proof(
    session: Session,
    rt: Runtime,
    row: AuthChallenge,
    *,
    method: Factor,
    linked: Linked,
    proof: Proof,
) -> bool:
    if method is Factor.SMS:
        return bool(proof.code) and hmac.compare_digest(
            row.code_hash or "", _code_hash(rt, row.id, row.linked_digest, proof.code or "")
        )
    if method is Factor.PASSKEY:
        return _check_passkey(session, rt, row, linked, proof)
    tool = session.get(AuthTool, row.tool_id, with_for_update=True) if row.tool_id else None
    if tool is None or tool.status != "active":
        raise _no_tool()
    if tool.fail_count >= rt.policy.customer_auth.token_max_failures:
        raise _tool_locked()
    ok = (
        _check_usbkey(rt, tool, linked, row.id, proof)
        if method is Factor.USBKEY
        else _check_otp(rt, tool, proof.code)
    )
    if not ok or tool.fail_count:  # a tool's row is written only when its state changes
        tool.fail_count = 0 if ok else tool.fail_count + 1
        tool.updated_at = rt.clock.now()
    return ok


def _tool_locked() -> Unprocessable:
    return Unprocessable(
        "tool_locked",
        "This tool has failed too many times. Reset its counter at a branch or use another tool.",
        field="method",
    )


def _check_otp(rt: Runtime, tool: AuthTool, code: str | None) -> bool:
    if not code or tool.secret_enc is None:
        return False
    policy = rt.policy.customer_auth
    secret = base64.b32decode(rt.cipher.decrypt(tool.secret_enc, purpose=TOOL_SECRET_PURPOSE))
    if tool.kind == "hotp":
        next_counter = otp.match_hotp(secret, code, tool.counter, window=policy.hotp_window)
        if next_counter is None:
            return False
        tool.counter = next_counter
        return True
    step = otp.match_totp(
        secret,
        code,
        rt.clock.now(),
        step_s=policy.totp_step_seconds,
        window=policy.totp_window_steps,
        drift_steps=tool.drift_steps,
        last_used_step=tool.last_step,
    )
    if step is None:
        return False
    tool.last_step = step
    return True


def _check_usbkey(
    rt: Runtime, tool: AuthTool, linked: Linked, challenge_id: str, proof: Proof
) -> bool:
    if not proof.signature or not tool.certificate_pem:
        return False
    try:
        signature = base64.b64decode(proof.signature, validate=True)
        certificate = pki.load_certificate(tool.certificate_pem.encode())
        pki.verify_signed_payload(
            bank_ca(rt).certificate,
            certificate,
            linked_payload(linked, challenge_id),
            signature,
            now=rt.clock.now(),
            revoked=lambda _serial: tool.status != "active",
        )
    except (pki.CertificateProblem, ValueError):
        return False
    return True


def _check_passkey(
    session: Session, rt: Runtime, row: AuthChallenge, linked: Linked, proof: Proof
) -> bool:
    if proof.credential is None or row.nonce is None:
        return False
    try:
        credential_id = passkeys.credential_id_of(proof.credential)
    except passkeys.PasskeyProblem:
        return False
    tool = session.execute(
        select(AuthTool).where(AuthTool.credential_id == _b64url(credential_id)).with_for_update()
    ).scalar_one_or_none()
    if tool is None or tool.customer_id != row.customer_id or tool.status != "active":
        return False
    assert tool.public_key is not None
    try:
        tool.sign_count = passkeys.verify_authentication(
            relying_party(rt),
            credential=proof.credential,
            expected_challenge=passkeys.linked_challenge(linked_payload(linked, row.id), row.nonce),
            public_key=tool.public_key,
            sign_count=tool.sign_count,
            credential_id=credential_id,
        )
    except passkeys.PasskeyProblem:
        return False
    tool.updated_at = rt.clock.now()
    return True


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
