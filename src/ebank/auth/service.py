"""Customers' e-banking authentication: credentials, login with a second factor, the shared
failure counter and lockout, devices and sessions.

Every factor shares one failure counter (RTS Art. 4): the fourth failure warns, the fifth locks,
and the error never says which factor was wrong. Slow password hashes are checked outside any
transaction; the outcome is counted under the credential's row lock.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.auth import challenges, passkeys
from ebank.auth.challenges import IssuedChallenge, Proof
from ebank.auth.models import AuthSession, CustomerCredential, CustomerDevice
from ebank.auth.passwords import hash_password, verify_password
from ebank.auth.sessions import IssuedSession, open_session, revoke_session
from ebank.auth.strength import Factor, factors_text
from ebank.channels.models import ChannelEnrolment
from ebank.common.actor import Actor
from ebank.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Locked,
    NotAuthenticated,
    NotFound,
    Unprocessable,
)
from ebank.notify import service as notify
from ebank.notify.messages import CHANGE_DEVICE_REMOVED, CHANGE_UNLOCKED
from ebank.risk.assessment import EventKind, Outcome, RiskEvent
from ebank.runtime import Runtime

LOGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{3,31}$")
LOGIN_CHANNELS = ("online", "mobile")
DEVICE_PURPOSE = "device.id"
DECOY_PURPOSE = "login.decoy"
SECOND_FACTORS = (Factor.SMS, Factor.TOTP, Factor.HOTP, Factor.USBKEY)


def customer_actor(customer_id: int) -> Actor:
    return Actor("customer", str(customer_id), "customer")


@dataclass(frozen=True)
class CustomerSession:
    """Who is calling through a channel: the customer, the session and the device it is bound to."""

    customer_id: int
    session_id: int
    channel: str
    device_id: int | None
    factors: frozenset[Factor]
    ip: str | None = None

    @property
    def actor(self) -> Actor:
        return customer_actor(self.customer_id)


# --- credentials --------------------------------------------------------------------------------


def normalize_login_name(value: str) -> str:
    name = (value or "").strip().lower()
    if not LOGIN_NAME.match(name):
        raise Unprocessable(
            "invalid_login_name",
            "A login name is 4-32 letters, digits or underscores, starting with a letter.",
            field="login_name",
        )
    return name


def check_password_rules(rt: Runtime, password: str, *, field: str, login_name: str) -> None:
    minimum = rt.policy.customer_auth.min_password_length
    if len(password or "") < minimum or len(password) > 128:
        raise Unprocessable(
            "weak_password",
            "A password has at least {minimum} characters.",
            field=field,
            minimum=minimum,
        )
    if password.isdigit() or password.isalpha() or login_name in password.lower():
        raise Unprocessable(
            "weak_password",
            "Mix letters and digits, and do not use your login name in the password.",
            field=field,
        )


@dataclass(frozen=True)
class NewCredentials:
    login_name: str
    login_password_hash: str
    transaction_password_hash: str


def prepare_credentials(
    rt: Runtime, *, login_name: str, login_password: str, transaction_password: str
) -> NewCredentials:
    """Validate and hash (slowly, outside any transaction) a registration's credentials."""
    name = normalize_login_name(login_name)
    check_password_rules(rt, login_password, field="login_password", login_name=name)
    check_password_rules(rt, transaction_password, field="transaction_password", login_name=name)
    if login_password == transaction_password:
        raise Unprocessable(
            "same_passwords",
            "The transaction password must differ from the login password.",
            field="transaction_password",
        )
    return NewCredentials(name, hash_password(login_password), hash_password(transaction_password))


def store_credentials(
    session: Session, rt: Runtime, customer_id: int, credentials: NewCredentials
) -> None:
    taken = session.execute(
        select(CustomerCredential.customer_id).where(
            CustomerCredential.login_name == credentials.login_name
        )
    ).scalar_one_or_none()
    if taken is not None and taken != customer_id:
        raise Conflict("login_name_taken", "This login name is taken.", field="login_name")
    now = rt.clock.now()
    row = session.get(CustomerCredential, customer_id, with_for_update={"key_share": True})
    if row is None:
        row = CustomerCredential(customer_id=customer_id, created_at=now, failed_attempts=0)
        session.add(row)
    row.login_name = credentials.login_name
    row.login_password_hash = credentials.login_password_hash
    row.transaction_password_hash = credentials.transaction_password_hash
    row.failed_attempts, row.locked_at, row.updated_at = 0, None, now
    session.flush()


def has_credentials(session: Session, customer_id: int) -> bool:
    return session.get(CustomerCredential, customer_id) is not None


# --- failures and lockout -----------------------------------------------------------------------


def invalid_credentials(remaining: int | None = None) -> NotAuthenticated:
    if remaining == 1:
        return NotAuthenticated(
            "invalid_credentials",
            "The details you entered are incorrect. One attempt left before your e-banking is "
            "locked.",
            remaining_attempts=1,
        )
    return NotAuthenticated("invalid_credentials", "The details you entered are incorrect.")


def customer_locked() -> Locked:
    return Locked(
        "customer_locked",
        "Your e-banking is locked after too many failed attempts. Visit a branch to unlock it.",
    )


def count_failure(session: Session, rt: Runtime, credential: CustomerCredential) -> Exception:
    """One more failed attempt; the error to show (the warning before the lock, or the lock)."""
    if credential.locked_at is not None:
        return customer_locked()
    now = rt.clock.now()
    credential.failed_attempts += 1
    credential.updated_at = now
    remaining = rt.policy.customer_auth.max_failed_attempts - credential.failed_attempts
    if remaining > 0:
        return invalid_credentials(remaining)
    credential.locked_at = now
    actor = customer_actor(credential.customer_id)
    audit.record(
        session,
        AuditEntry(actor, "customer.locked", "customer", str(credential.customer_id)),
        now,
    )
    notify.queue(session, rt, credential.customer_id, "locked")
    return customer_locked()


def credential_for_update(session: Session, customer_id: int) -> CustomerCredential:
    row = session.get(CustomerCredential, customer_id, with_for_update={"key_share": True})
    if row is None:
        raise NotFound("not_registered", "This customer has no e-banking registration.")
    return row


def unlock(rt: Runtime, actor: Actor, customer_id: int) -> None:
    """Lift a lock (staff at the counter, after checking the customer's identity)."""
    with rt.db.write() as session:
        row = credential_for_update(session, customer_id)
        before = {"locked": row.locked_at is not None, "failed_attempts": row.failed_attempts}
        row.locked_at, row.failed_attempts, row.updated_at = None, 0, rt.clock.now()
        audit.record(
            session,
            AuditEntry(
                actor,
                "customer.unlocked",
                "customer",
                str(customer_id),
                before=before,
                after={"locked": False, "failed_attempts": 0},
            ),
            rt.clock.now(),
        )
        notify.queue(session, rt, customer_id, "security_change", change_msgid=CHANGE_UNLOCKED)
    rt.courier.wake()


# --- login --------------------------------------------------------------------------------------


def _login_linked(login_name: str) -> dict[str, str | int]:
    return {"action": "login", "login_name": login_name}


def _customer_by_login(session: Session, login_name: str) -> CustomerCredential | None:
    return session.execute(
        select(CustomerCredential).where(CustomerCredential.login_name == login_name)
    ).scalar_one_or_none()


def request_login_challenge(rt: Runtime, *, login_name: str, method: Factor) -> IssuedChallenge:
    """Send a login code (SMS) or open a USB-key / passkey challenge. An unknown login name gets a
    challenge-shaped answer too, so the answer does not tell which names exist."""
    if method not in (Factor.SMS, Factor.USBKEY, Factor.PASSKEY):
        raise Unprocessable(
            "invalid_method", "Choose SMS code, USB key or passkey.", field="method"
        )
    name = (login_name or "").strip().lower()
    with rt.db.write() as session:
        credential = _customer_by_login(session, name)
        if credential is None:
            return _decoy(rt, name, method)
        try:
            issued = challenges.issue(
                session,
                rt,
                customer_id=credential.customer_id,
                purpose="login",
                subject=f"login:{credential.customer_id}",
                method=method,
                linked=_login_linked(name),
                sms=("otp_login", {}) if method is Factor.SMS else None,
            )
        except DomainError as refusal:
            if refusal.code != "tool_unavailable":
                raise
            return _decoy(rt, name, method)  # nor which customers hold which tools
    if issued.notification_id is not None:
        rt.courier.send_now([issued.notification_id])
    return IssuedChallenge(
        issued.id, issued.method, issued.expires_at, None, issued.sign_payload, issued.webauthn
    )


def _decoy(rt: Runtime, name: str, method: Factor) -> IssuedChallenge:
    """An answer shaped as a real challenge of ``method`` for ``name``, that nothing can pass:
    a USB key gets a payload to sign, a passkey request the options with a credential id that is
    the same each time for the same name, as a real customer's would be."""
    policy = rt.policy.customer_auth
    ttl = policy.sms_code_ttl_seconds if method is Factor.SMS else policy.challenge_ttl_seconds
    expires = rt.clock.now() + timedelta(seconds=ttl)
    challenge_id = secrets.token_urlsafe(18)
    linked = _login_linked(name)
    if method is Factor.USBKEY:
        payload = challenges.linked_payload(linked, challenge_id).decode()
        return IssuedChallenge(challenge_id, method.value, expires, sign_payload=payload)
    if method is Factor.PASSKEY:
        credential_id = bytes.fromhex(rt.cipher.lookup_hash(name, purpose=DECOY_PURPOSE))[:32]
        options = passkeys.authentication_options(
            challenges.relying_party(rt),
            challenge=passkeys.linked_challenge(
                challenges.linked_payload(linked, challenge_id), secrets.token_bytes(16)
            ),
            allow_credential_ids=[credential_id],
        )
        return IssuedChallenge(challenge_id, method.value, expires, webauthn=options)
    return IssuedChallenge(challenge_id, method.value, expires)


@dataclass(frozen=True)
class LoginAttempt:
    login_name: str
    password: str | None
    method: Factor
    channel: str
    device_ref: str
    device_label: str
    challenge_id: str | None = None
    proof: Proof = field(default_factory=Proof)
    ip: str | None = None


@dataclass(frozen=True)
class CustomerLogin:
    customer_id: int
    session: IssuedSession
    device_id: int
    new_device: bool
    factors: frozenset[Factor]


def login(rt: Runtime, attempt: LoginAttempt) -> CustomerLogin:
    """Log in with password + a second factor, or a passkey alone (possession + inherence)."""
    if attempt.channel not in LOGIN_CHANNELS:
        raise Unprocessable("invalid_channel", "Choose online or mobile banking.", field="channel")
    if attempt.method not in (*SECOND_FACTORS, Factor.PASSKEY):
        raise Unprocessable("invalid_method", "Choose a verification method.", field="method")
    name = (attempt.login_name or "").strip().lower()
    with rt.db.read() as session:
        known = _customer_by_login(session, name)
        known_hash = known.login_password_hash if known else None
    password_ok = attempt.method is Factor.PASSKEY or verify_password(
        known_hash, attempt.password or ""
    )
    with rt.db.write() as session:
        outcome = _login_in_transaction(session, rt, attempt, name, password_ok=password_ok)
    if known is not None:
        rt.courier.wake()
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _login_in_transaction(
    session: Session, rt: Runtime, attempt: LoginAttempt, name: str, *, password_ok: bool
) -> CustomerLogin | Exception:
    credential = session.execute(
        select(CustomerCredential)
        .where(CustomerCredential.login_name == name)
        .with_for_update(key_share=True)
    ).scalar_one_or_none()
    if credential is None:
        return invalid_credentials()
    factor = _second_factor(session, rt, attempt, credential.customer_id, name)
    if isinstance(factor, Unprocessable):  # the tool cannot be used: no code was checked
        if password_ok:  # nothing to count, and the customer is told why
            return customer_locked() if credential.locked_at is not None else factor
        factor = None
    if not (password_ok and factor is not None):
        _risk(rt, EventKind.LOGIN_FAILED, credential.customer_id, attempt)
        return count_failure(session, rt, credential)
    if credential.locked_at is not None:
        return customer_locked()
    refused = _enrolment_refusal(session, credential.customer_id, attempt.channel)
    if refused is not None:
        return refused  # returned, not raised: the spent code stays spent
    factors = frozenset({factor} if factor is Factor.PASSKEY else {Factor.LOGIN_PASSWORD, factor})
    decision = _risk(rt, EventKind.LOGIN, credential.customer_id, attempt)
    if decision is Outcome.BLOCK:
        return Forbidden("login_blocked", "This login was stopped for your safety. Call the bank.")
    return _open_customer_session(session, rt, credential, attempt, factors)


TOOL_REFUSALS = frozenset({"tool_locked", "tool_unavailable"})


def _second_factor(
    session: Session, rt: Runtime, attempt: LoginAttempt, customer_id: int, name: str
) -> Factor | Unprocessable | None:
    """The factor verified; None when it was not; the refusal when the customer's tool cannot be
    used at all (none of the kind, or locked by its own failures), which only a caller who gave
    the right password is told."""
    subject = f"login:{customer_id}"
    linked = _login_linked(name)
    try:
        challenge_id = attempt.challenge_id
        if challenge_id is None and attempt.method in (Factor.TOTP, Factor.HOTP):
            challenge_id = challenges.issue(
                session,
                rt,
                customer_id=customer_id,
                purpose="login",
                subject=subject,
                method=attempt.method,
                linked=linked,
            ).id
        if challenge_id is None:
            return None
        return challenges.verify(
            session,
            rt,
            challenge_id=challenge_id,
            customer_id=customer_id,
            purpose="login",
            subject=subject,
            linked=linked,
            proof=attempt.proof,
        )
    except (Conflict, Unprocessable) as refusal:
        if isinstance(refusal, Unprocessable) and refusal.code in TOOL_REFUSALS:
            return refusal
        return None  # a used, expired or unknown challenge is a failed attempt like any other


def _enrolment_refusal(session: Session, customer_id: int, channel: str) -> Forbidden | None:
    status = session.execute(
        select(ChannelEnrolment.status).where(
            ChannelEnrolment.customer_id == customer_id, ChannelEnrolment.channel == channel
        )
    ).scalar_one_or_none()
    if status == "suspended":
        return Forbidden(
            "channel_suspended",
            "This e-banking service is suspended. Visit a branch or call the bank.",
        )
    if status != "active":
        return Forbidden(
            "channel_not_registered", "You are not registered for this channel.", field="channel"
        )
    return None


def _risk(rt: Runtime, kind: EventKind, customer_id: int, attempt: LoginAttempt) -> Outcome:
    event = RiskEvent(
        kind=kind,
        customer_id=customer_id,
        at=rt.clock.now(),
        channel=attempt.channel,
        ip=attempt.ip,
        details={"method": attempt.method.value},
    )
    return rt.risk.assess(event).outcome


def _open_customer_session(
    session: Session,
    rt: Runtime,
    credential: CustomerCredential,
    attempt: LoginAttempt,
    factors: frozenset[Factor],
) -> CustomerLogin:
    now = rt.clock.now()
    credential.failed_attempts, credential.last_full_auth_at = 0, now
    credential.exempt_count, credential.exempt_amount = 0, 0
    customer_id = credential.customer_id
    device, new_device = _device(session, rt, customer_id, attempt)
    policy = rt.policy.customer_auth
    issued = open_session(
        session,
        principal_kind="customer",
        principal_id=customer_id,
        role="customer",
        now=now,
        idle_timeout=timedelta(minutes=policy.session_idle_minutes),
        lifetime=timedelta(hours=policy.session_max_hours),
        user_agent=attempt.device_label,
    )
    row = session.get(AuthSession, issued.session_id)
    assert row is not None
    row.device_id, row.channel, row.factors = device.id, attempt.channel, factors_text(factors)
    audit.record(
        session,
        AuditEntry(
            customer_actor(customer_id),
            "customer.login",
            "auth_session",
            str(issued.session_id),
            after={
                "channel": attempt.channel,
                "factors": factors_text(factors),
                "device": device.id,
            },
        ),
        now,
    )
    return CustomerLogin(customer_id, issued, device.id, new_device, factors)


def device_hash(rt: Runtime, device_ref: str) -> str:
    return rt.cipher.lookup_hash(device_ref, purpose=DEVICE_PURPOSE)


def _device(
    session: Session, rt: Runtime, customer_id: int, attempt: LoginAttempt
) -> tuple[CustomerDevice, bool]:
    now = rt.clock.now()
    digest = device_hash(rt, attempt.device_ref)
    device = session.execute(
        select(CustomerDevice).where(
            CustomerDevice.customer_id == customer_id, CustomerDevice.device_hash == digest
        )
    ).scalar_one_or_none()
    label = (attempt.device_label or "unknown device")[:128]
    if device is not None and device.status == "active":
        device.last_seen_at = now
        return device, False
    if device is None:
        device = CustomerDevice(
            customer_id=customer_id,
            device_hash=digest,
            label=label,
            status="active",
            first_seen_at=now,
            last_seen_at=now,
        )
        session.add(device)
    else:  # a device the customer removed comes back as new: notify again
        device.status, device.revoked_at, device.last_seen_at = "active", None, now
    session.flush()
    notify.queue(session, rt, customer_id, "new_device", device=label)
    rt.risk.assess(
        RiskEvent(
            kind=EventKind.NEW_DEVICE,
            customer_id=customer_id,
            at=now,
            channel=attempt.channel,
            device_id=device.id,
            ip=attempt.ip,
        )
    )
    return device, True


def logout(rt: Runtime, customer_id: int, session_id: int) -> None:
    with rt.db.write() as session:
        revoke_session(session, session_id, rt.clock.now(), "logout")
        audit.record(
            session,
            AuditEntry(
                customer_actor(customer_id), "customer.logout", "auth_session", str(session_id)
            ),
            rt.clock.now(),
        )


# --- devices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceView:
    id: int
    label: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    current: bool


def list_devices(rt: Runtime, customer_id: int, current_device_id: int | None) -> list[DeviceView]:
    with rt.db.read() as session:
        rows = session.execute(
            select(CustomerDevice)
            .where(CustomerDevice.customer_id == customer_id)
            .order_by(CustomerDevice.last_seen_at.desc())
        ).scalars()
        return [
            DeviceView(
                row.id,
                row.label,
                row.status,
                row.first_seen_at,
                row.last_seen_at,
                row.id == current_device_id,
            )
            for row in rows
        ]


def revoke_device(rt: Runtime, customer_id: int, device_id: int) -> None:
    """Forget a device and end every session on it at once."""
    now = rt.clock.now()
    with rt.db.write() as session:
        device = session.get(CustomerDevice, device_id, with_for_update={"key_share": True})
        if device is None or device.customer_id != customer_id:
            raise NotFound("device_not_found", "No such device.", field="device_id")
        device.status, device.revoked_at = "revoked", now
        session.execute(
            update(AuthSession)
            .where(AuthSession.device_id == device_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason="device_revoked")
        )
        notify.queue(
            session, rt, customer_id, "security_change", change_msgid=CHANGE_DEVICE_REMOVED
        )
        audit.record(
            session,
            AuditEntry(
                customer_actor(customer_id), "customer.device_revoked", "device", str(device_id)
            ),
            now,
        )
    rt.courier.wake()
