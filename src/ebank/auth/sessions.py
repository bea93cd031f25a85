"""Sessions for every kind of principal: opaque bearer tokens (API) that the pages carry in a
cookie, an idle timeout and an absolute lifetime, and a CSRF token per session for cookie posts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ebank.auth.models import AuthSession, CustomerDevice
from ebank.batching import Batcher
from ebank.db import Database, DirectRead, among, one_of

if TYPE_CHECKING:
    from ebank.runtime import Runtime

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


_BY_TOKEN = DirectRead(
    select(AuthSession.token_hash, *_LIVE_COLUMNS)
    .outerjoin(CustomerDevice, CustomerDevice.id == AuthSession.device_id)
    .where(among(AuthSession.token_hash, "digests"))
)
_TOUCH = (
    update(AuthSession)
    .where(among(AuthSession.id, "ids"))
    .values(last_seen_at=bindparam("now", type_=AuthSession.last_seen_at.type))
)


def touch_session(db: Database, token: str, now: datetime) -> ActiveSession | None:
    """The live session for ``token`` (its idle clock restarted), or None if absent or expired."""
    return touch_sessions(db, [token], now)[0]


def touch_sessions(
    db: Database, tokens: Sequence[str], now: datetime
) -> list[ActiveSession | None]:
    """:func:`touch_session` for many tokens at once: one read on the usual path; one write to end
    the sessions that timed out and move the idle clock of the others on (see
    :data:`TOUCH_FRACTION`)."""
    digests = [token_digest(token) for token in tokens]
    with db.read_connection() as conn:
        rows = {row.token_hash: row for row in _BY_TOKEN.rows(conn, {"digests": digests})}
    found: list[ActiveSession | None] = []
    ended: dict[str, set[int]] = {}
    touched: set[int] = set()
    for digest in digests:
        row = rows.get(digest)
        if row is None or row.revoked_at is not None:
            found.append(None)
            continue
        idle = timedelta(seconds=row.idle_timeout_s)
        reason = (
            "expired"
            if now >= row.expires_at
            else "idle"
            if now - row.last_seen_at >= idle
            else None
        )
        if reason is not None:
            ended.setdefault(reason, set()).add(row.id)
            found.append(None)
            continue
        if now - row.last_seen_at >= idle / TOUCH_FRACTION:
            touched.add(row.id)
        found.append(_active(row))
    if ended or touched:
        with db.write() as session:
            for reason, ids in ended.items():
                _revoke_ids(session, ids, now, reason)
            if touched:
                session.execute(_TOUCH, {"ids": sorted(touched), "now": now})
    return found


def _active(row: Any) -> ActiveSession:  # a row of _LIVE_COLUMNS
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


class SessionLookup:
    """Resolves the session tokens of a process's requests in batches (:mod:`ebank.batching`):
    every request that arrives while one batch is read waits for the next, which reads them all
    with one statement."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._batcher: Batcher[str, ActiveSession | None] = Batcher(
            "sessions", self._lookup, max_size=256, hold=rt.db
        )

    def start(self) -> None:
        self._batcher.start()

    def stop(self) -> None:
        self._batcher.stop()

    async def find(self, token: str) -> ActiveSession | None:
        return await self._batcher.acall(token)

    def _lookup(self, tokens: list[str]) -> list[ActiveSession | None]:
        return touch_sessions(self._rt.db, tokens, self._rt.clock.now())


def revoke_session(session: Session, session_id: int, now: datetime, reason: str) -> None:
    _revoke_ids(session, {session_id}, now, reason)


def _revoke_ids(session: Session, ids: set[int], now: datetime, reason: str) -> None:
    session.execute(
        update(AuthSession)
        .where(one_of(AuthSession.id, sorted(ids)))
        .where(AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


def revoke_all_for(
    session: Session,
    principal_kind: str,
    principal_id: int,
    now: datetime,
    reason: str,
    *,
    channel: str | None = None,
) -> None:
    """End the principal's open sessions (only those of ``channel``, when given)."""
    query = update(AuthSession).where(
        AuthSession.principal_kind == principal_kind,
        AuthSession.principal_id == principal_id,
        AuthSession.revoked_at.is_(None),
    )
    if channel is not None:
        query = query.where(AuthSession.channel == channel)
    session.execute(query.values(revoked_at=now, revoked_reason=reason))
