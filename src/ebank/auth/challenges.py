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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ebank.auth import otp, passkeys, pki
from ebank.auth.authority import bank_ca
from ebank.auth.models import AuthChallenge, AuthTool
from ebank.auth.strength import Factor
from ebank.common.errors import Conflict, TooManyRequests, Unprocessable
from ebank.db import DirectRead, among
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
    tools: Sequence[ActiveTool] | None = None,
    locale: str | None = None,
    add: Callable[[AuthChallenge], None] | None = None,
    unwritten: Sequence[AuthChallenge] = (),
) -> IssuedChallenge:
    """Open a challenge for ``method``; an SMS code is queued with ``sms`` = (kind, params).
    ``tools``: the customer's active tools, when the caller has read them already (a batch reads
    them for all its customers at once with :func:`active_tools`); ``add``: where the new row goes
    (the session by default; a batch writes all of its rows at once); ``unwritten``: the
    challenges ``add`` took earlier in this transaction and has not written yet — they count
    toward the limits on SMS codes as the written ones do."""
    if tools is None:
        tools = active_tools(session, [customer_id]).get(customer_id, [])
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
        issued = _with_sms_code(session, rt, row, sms, locale, unwritten=unwritten)
    elif method is Factor.PASSKEY:
        issued = _with_passkey_options(rt, row, linked, tools)
    else:
        row.tool_id = _newest(tools, TOOL_KINDS[method]).id
        if method is Factor.USBKEY:
            payload = linked_payload(linked, challenge_id).decode()
            issued = IssuedChallenge(
                challenge_id, method.value, row.expires_at, sign_payload=payload
            )
    (add or session.add)(row)
    return issued


def _with_sms_code(
    session: Session,
    rt: Runtime,
    row: AuthChallenge,
    sms: tuple[str, dict[str, Any]] | None,
    locale: str | None,
    *,
    unwritten: Sequence[AuthChallenge],
) -> IssuedChallenge:
    assert sms is not None, "an SMS challenge needs its message"
    _check_sms_rate(session, rt, row, unwritten)
    code = "".join(
        secrets.choice("0123456789") for _ in range(rt.policy.customer_auth.sms_code_digits)
    )
    row.code_hash = _code_hash(rt, row.id, row.linked_digest, code)
    kind, params = sms
    minutes = max(1, rt.policy.customer_auth.sms_code_ttl_seconds // 60)
    notification_id = notify.queue(
        session, rt, row.customer_id, kind, locale=locale, code=code, minutes=minutes, **params
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


def _check_sms_rate(
    session: Session, rt: Runtime, row: AuthChallenge, unwritten: Sequence[AuthChallenge]
) -> None:
    """At most one code a minute for the same login or payment, and a cap per hour (the codes
    of ``unwritten`` challenges count too)."""
    policy = rt.policy.customer_auth
    now = row.created_at
    since = now - timedelta(hours=1)
    written = session.execute(
        select(AuthChallenge.subject, AuthChallenge.created_at).where(
            AuthChallenge.customer_id == row.customer_id,
            AuthChallenge.method == Factor.SMS.value,
            AuthChallenge.created_at > since,
        )
    )
    sent = [(subject, at) for subject, at in written] + [
        (other.subject, other.created_at)
        for other in unwritten
        if other.customer_id == row.customer_id
        and other.method == Factor.SMS.value
        and other.created_at > since
    ]
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
    rt: Runtime, row: AuthChallenge, linked: Linked, active: Sequence[ActiveTool]
) -> IssuedChallenge:
    tools = [tool for tool in active if tool.kind == "passkey"]
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


_ACTIVE_TOOLS = DirectRead(
    select(AuthTool.id, AuthTool.customer_id, AuthTool.kind, AuthTool.credential_id)
    .where(among(AuthTool.customer_id, "ids"), AuthTool.status == "active")
    .order_by(AuthTool.id)
)


@dataclass(frozen=True)
class ActiveTool:
    """What issuing a challenge needs to know of a customer's usable tool."""

    id: int
    customer_id: int
    kind: str
    credential_id: str | None


_LOCKED_CHALLENGES = DirectRead(
    select(AuthChallenge)
    .where(among(AuthChallenge.id, "ids"))
    .order_by(AuthChallenge.id)
    .with_for_update(key_share=True)
)
_LOCKED_TOOLS = DirectRead(
    select(AuthTool)
    .where(or_(among(AuthTool.id, "ids"), among(AuthTool.credential_id, "credential_ids")))
    .order_by(AuthTool.id)
    .with_for_update(key_share=True)
)


def active_tools(session: Session, customer_ids: Sequence[int]) -> dict[int, list[ActiveTool]]:
    """The active tools of these customers, by customer (one query)."""
    found: dict[int, list[ActiveTool]] = {customer_id: [] for customer_id in customer_ids}
    for row in _ACTIVE_TOOLS.rows(session.connection(), {"ids": sorted(set(customer_ids))}):
        found.setdefault(row.customer_id, []).append(ActiveTool(*row))
    return found


def _newest(tools: Sequence[ActiveTool], kind: str) -> ActiveTool:
    usable = [tool for tool in tools if tool.kind == kind]
    if not usable:
        raise _no_tool()
    return max(usable, key=lambda tool: tool.id)


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
    rows = locked_challenges(session, [challenge_id], in_session=True)
    row = rows.get(challenge_id)
    tools = locked_tools(session, [(row, proof)], in_session=True) if row is not None else {}
    return verify_loaded(
        rt,
        row,
        tools,
        customer_id=customer_id,
        purpose=purpose,
        subject=subject,
        linked=linked,
        proof=proof,
    )


def locked_challenges(
    session: Session, ids: Sequence[str], *, in_session: bool
) -> dict[str, AuthChallenge]:
    """These challenges, locked until the transaction ends (one query); ``in_session`` or
    not: see :meth:`ebank.db.DirectRead.objects`."""
    params = {"ids": sorted(set(ids))}
    rows = _LOCKED_CHALLENGES.objects(session, AuthChallenge, params, in_session=in_session)
    return {row.id: row for row in rows}


def locked_tools(
    session: Session, answers: Sequence[tuple[AuthChallenge, Proof]], *, in_session: bool
) -> dict[int | str, AuthTool]:
    """The tools these answers use, locked (one query): an e-token's or USB key's by its id, a
    passkey by the credential id its assertion names. Keyed by tool id and by credential id;
    ``in_session`` or not: see :meth:`ebank.db.DirectRead.objects`."""
    tool_ids = sorted({row.tool_id for row, _proof in answers if row.tool_id is not None})
    credential_ids = sorted(
        {
            _b64url(credential)
            for row, proof in answers
            if row.method == Factor.PASSKEY.value and (credential := _credential_id(proof))
        }
    )
    if not tool_ids and not credential_ids:
        return {}
    params = {"ids": tool_ids, "credential_ids": credential_ids}
    found: dict[int | str, AuthTool] = {}
    for tool in _LOCKED_TOOLS.objects(session, AuthTool, params, in_session=in_session):
        found[tool.id] = tool
        if tool.credential_id:
            found[tool.credential_id] = tool
    return found


def _credential_id(proof: Proof) -> bytes | None:
    if proof.credential is None:
        return None
    try:
        return passkeys.credential_id_of(proof.credential)
    except passkeys.PasskeyProblem:
        return None


def verify_loaded(
    rt: Runtime,
    row: AuthChallenge | None,
    tools: Mapping[int | str, AuthTool],
    *,
    customer_id: int,
    purpose: str,
    subject: str,
    linked: Linked,
    proof: Proof,
) -> Factor | None:
    """:func:`verify` with the challenge and its tool already read and locked
    (:func:`locked_challenges`, :func:`locked_tools`): a batch reads them all at once."""
    row = _usable(rt, row, customer_id=customer_id, purpose=purpose, subject=subject)
    if not hmac.compare_digest(row.linked_digest, linked_digest(linked)):
        row.status = "failed"
        raise Conflict(
            "challenge_invalidated",
            "The details changed after the code was issued, so it no longer applies. Ask for a "
            "new one.",
            field="challenge_id",
        )
    method = Factor(row.method)
    ok = _check_proof(rt, row, tools, method=method, linked=linked, proof=proof)
    if ok:
        row.status = "used"
        return method
    row.attempts += 1
    if row.attempts >= row.max_attempts:
        row.status = "failed"
    return None


def _usable(
    rt: Runtime,
    row: AuthChallenge | None,
    *,
    customer_id: int,
    purpose: str,
    subject: str,
) -> AuthChallenge:
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
    rt: Runtime,
    row: AuthChallenge,
    tools: Mapping[int | str, AuthTool],
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
        return _check_passkey(rt, row, tools, linked, proof)
    tool = tools.get(row.tool_id) if row.tool_id else None
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
    rt: Runtime,
    row: AuthChallenge,
    tools: Mapping[int | str, AuthTool],
    linked: Linked,
    proof: Proof,
) -> bool:
    credential_id = _credential_id(proof)
    if credential_id is None or proof.credential is None or row.nonce is None:
        return False
    tool = tools.get(_b64url(credential_id))
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
