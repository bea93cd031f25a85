"""Sessions for every kind of principal: opaque bearer tokens (API) that the pages carry in a
cookie, an idle timeout and an absolute lifetime, and a CSRF token per session for cookie posts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ebank.auth.models import AuthSession, CustomerDevice
from ebank.db import Database

# ``last_seen_at`` is rewritten at most once per this fraction of the idle timeout (15 s of 5 min),
# so a busy session does not write on every request. The stored time can only lag the real last
# activity, so the idle timeout errs early, never late.
TOUCH_FRACTION = 20


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedSession:
    session_id: int
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    session_id: int
    principal_kind: str
    principal_id: int
    role: str | None
    csrf_hash: str
    device_id: int | None = None
    channel: str | None = None
    factors: str | None = None
    device_hash: str | None = None  # the bound device's keyed hash, while the device is active

    def csrf_matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(
            token_digest(candidate or ""), self.csrf_hash
        )


def open_session(
    session: Session,
    *,
    principal_kind: str,
    principal_id: int,
    role: str | None,
    now: datetime,
    idle_timeout: timedelta,
    lifetime: timedelta,
    user_agent: str | None,
) -> IssuedSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    row = AuthSession(
        token_hash=token_digest(token),
        csrf_hash=token_digest(csrf),
        principal_kind=principal_kind,
        principal_id=principal_id,
        role=role,
        created_at=now,
        last_seen_at=now,
        idle_timeout_s=int(idle_timeout.total_seconds()),
        expires_at=now + lifetime,
        user_agent=(user_agent or "")[:256] or None,
    )
    session.add(row)
    session.flush()
    return IssuedSession(row.id, token, csrf, row.expires_at)


_LIVE_COLUMNS = (
    AuthSession.id,
    AuthSession.principal_kind,
    AuthSession.principal_id,
    AuthSession.role,
    AuthSession.csrf_hash,
    AuthSession.device_id,
    AuthSession.channel,
    AuthSession.factors,
    AuthSession.last_seen_at,
    AuthSession.idle_timeout_s,
    AuthSession.expires_at,
    AuthSession.revoked_at,
    CustomerDevice.device_hash,
    CustomerDevice.status,
)


def touch_session(db: Database, token: str, now: datetime) -> ActiveSession | None:
    """The live session for ``token`` (its idle clock restarted), or None if absent or expired.

    One read on the usual path; a write only to end a session that timed out, or to move its
    idle clock on (see :data:`TOUCH_FRACTION`)."""
    with db.read() as session:
        row = session.execute(
            select(*_LIVE_COLUMNS)
            .outerjoin(CustomerDevice, CustomerDevice.id == AuthSession.device_id)
            .where(AuthSession.token_hash == token_digest(token))
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    idle = timedelta(seconds=row.idle_timeout_s)
    ended = (
        "expired" if now >= row.expires_at else "idle" if now - row.last_seen_at >= idle else None
    )
    if ended is not None:
        with db.write() as session:
            revoke_session(session, row.id, now, ended)
        return None
    if now - row.last_seen_at >= idle / TOUCH_FRACTION:
        with db.write() as session:
            session.execute(
                update(AuthSession).where(AuthSession.id == row.id).values(last_seen_at=now)
            )
    return ActiveSession(
        row.id,
        row.principal_kind,
        row.principal_id,
        row.role,
        row.csrf_hash,
        row.device_id,
        row.channel,
        row.factors,
        row.device_hash if row.status == "active" else None,
    )


def revoke_session(session: Session, session_id: int, now: datetime, reason: str) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


def revoke_all_for(
    session: Session, principal_kind: str, principal_id: int, now: datetime, reason: str
) -> None:
    session.execute(
        update(AuthSession)
        .where(
            AuthSession.principal_kind == principal_kind,
            AuthSession.principal_id == principal_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason=reason)
    )
