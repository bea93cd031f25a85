"""Staff users: creation and administration, password login with lockout, sessions."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ebank.audit import service as audit
from ebank.audit.service import AuditEntry
from ebank.auth.passwords import hash_password, verify_password
from ebank.auth.sessions import IssuedSession, open_session, revoke_all_for, revoke_session
from ebank.common.actor import Actor
from ebank.common.errors import Conflict, Locked, NotAuthenticated, NotFound, Unprocessable
from ebank.common.validation import require_text
from ebank.runtime import Runtime
from ebank.staff.models import StaffUser
from ebank.staff.permissions import Role, permissions_of

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")


@dataclass(frozen=True)
class StaffView:
    id: int
    username: str
    display_name: str
    role: str
    status: str
    locked: bool


@dataclass(frozen=True)
class StaffMe(StaffView):
    """A staff user as they see themselves: with what their role allows."""

    permissions: list[str]


def me(rt: Runtime, staff_id: int) -> StaffMe:
    view = get_staff(rt, staff_id)
    return StaffMe(**asdict(view), permissions=permissions_of(view.role))


def _view(user: StaffUser) -> StaffView:
    return StaffView(
        user.id,
        user.username,
        user.display_name,
        user.role,
        user.status,
        user.locked_at is not None,
    )


def _audit_state(user: StaffUser) -> dict[str, object]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "locked": user.locked_at is not None,
    }


def check_password_rules(rt: Runtime, username: str, password: str) -> None:
    minimum = rt.policy.staff.min_password_length
    if len(password) < minimum:
        raise Unprocessable(
            "password_too_weak",
            "The password must have at least {minimum} characters.",
            field="password",
            minimum=minimum,
        )
    if len(password) > 128:
        raise Unprocessable(
            "password_too_long", "The password must have at most 128 characters.", field="password"
        )
    if username.lower() in password.lower() or not (
        any(c.isalpha() for c in password) and any(c.isdigit() for c in password)
    ):
        raise Unprocessable(
            "password_too_weak",
            "The password must mix letters and digits and must not contain the user name.",
            field="password",
        )


def create_staff(
    rt: Runtime, actor: Actor, *, username: str, display_name: str, role: Role, password: str
) -> StaffView:
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise Unprocessable(
            "invalid_username",
            "A user name is 3-32 lower-case letters, digits, '.', '_' or '-', starting with a letter.",
            field="username",
        )
    check_password_rules(rt, username, password)
    now = rt.clock.now()
    with rt.db.write() as session:
        if session.execute(select(StaffUser.id).where(StaffUser.username == username)).first():
            raise Conflict("username_taken", "This user name is already taken.", field="username")
        user = StaffUser(
            username=username,
            display_name=require_text("display_name", display_name, max_length=64),
            role=role.value,
            password_hash=hash_password(password),
            status="active",
            failed_logins=0,
            created_at=now,
            updated_at=now,
            password_changed_at=now,
        )
        session.add(user)
        session.flush()
        _audit(session, rt, actor, "staff.create", user, before=None, after=_audit_state(user))
        return _view(user)


def _audit(
    session: Session,
    rt: Runtime,
    actor: Actor,
    action: str,
    user: StaffUser,
    *,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    audit.record(
        session,
        AuditEntry(actor, action, "staff_user", str(user.id), before, after),
        rt.clock.now(),
    )


@dataclass(frozen=True)
class LoginResult:
    staff: StaffView
    session: IssuedSession


def login(rt: Runtime, *, username: str, password: str, user_agent: str | None) -> LoginResult:
    """Password login. The error never says whether the user name or the password was wrong, and
    a locked or disabled account says so only to the right password; the last attempt before the
    lock is announced, and the lock holds until an administrator lifts it.

    The slow password hash is checked outside any transaction (a flood of attempts must not hold
    the database's write lock); the outcome is then recorded under the user's row lock."""
    name = username.strip().lower()
    with rt.db.read() as session:
        known_hash = session.execute(
            select(StaffUser.password_hash).where(StaffUser.username == name)
        ).scalar_one_or_none()
    password_ok = verify_password(known_hash, password)
    now = rt.clock.now()
    with rt.db.write() as session:
        user = session.execute(
            select(StaffUser).where(StaffUser.username == name).with_for_update(key_share=True)
        ).scalar_one_or_none()
        if user is None or user.password_hash != known_hash:  # unknown, or changed meanwhile
            failure: Exception = _invalid_credentials()
        elif not password_ok:
            failure = _count_failure(session, rt, user, now)
        elif user.status != "active":
            failure = Locked("account_disabled", "This account is disabled. Ask an administrator.")
        elif user.locked_at is not None:
            failure = _locked()
        else:
            return LoginResult(_view(user), _open(session, rt, user, now, user_agent))
    raise failure


def _count_failure(session: Session, rt: Runtime, user: StaffUser, now: datetime) -> Exception:
    if user.status != "active" or user.locked_at is not None:
        return _invalid_credentials()  # nothing to count, nothing to reveal
    before = _audit_state(user)
    user.failed_logins += 1
    user.updated_at = now
    remaining = rt.policy.staff.max_failed_logins - user.failed_logins
    if remaining > 0:
        return _invalid_credentials(remaining)
    user.locked_at = now
    _audit(session, rt, _self(user), "staff.locked", user, before=before, after=_audit_state(user))
    return _locked()


def _open(
    session: Session, rt: Runtime, user: StaffUser, now: datetime, user_agent: str | None
) -> IssuedSession:
    policy = rt.policy.staff
    user.failed_logins = 0
    issued = open_session(
        session,
        principal_kind="staff",
        principal_id=user.id,
        role=user.role,
        now=now,
        idle_timeout=timedelta(minutes=policy.session_idle_minutes),
        lifetime=timedelta(hours=policy.session_max_hours),
        user_agent=user_agent,
    )
    _audit(
        session,
        rt,
        _self(user),
        "staff.login",
        user,
        before=None,
        after={"session": issued.session_id},
    )
    return issued


def _self(user: StaffUser) -> Actor:
    return Actor("staff", str(user.id), user.role)


def _invalid_credentials(remaining: int | None = None) -> NotAuthenticated:
    if remaining == 1:
        return NotAuthenticated(
            "invalid_credentials",
            "The user name or password is incorrect. One attempt left before the account is locked.",
            remaining_attempts=1,
        )
    return NotAuthenticated("invalid_credentials", "The user name or password is incorrect.")


def _locked() -> Locked:
    return Locked(
        "account_locked",
        "This account is locked after too many failed attempts. Ask an administrator to unlock it.",
    )


def logout(rt: Runtime, actor: Actor, session_id: int) -> None:
    with rt.db.write() as session:
        revoke_session(session, session_id, rt.clock.now(), "logout")
        audit.record(
            session,
            AuditEntry(actor, "staff.logout", "auth_session", str(session_id)),
            rt.clock.now(),
        )


def get_staff(rt: Runtime, staff_id: int) -> StaffView:
    with rt.db.read() as session:
        user = session.get(StaffUser, staff_id)
        if user is None:
            raise NotFound("staff_not_found", "No such staff user.", field="staff_id")
        return _view(user)


def list_staff(rt: Runtime) -> list[StaffView]:
    with rt.db.read() as session:
        users = session.execute(select(StaffUser).order_by(StaffUser.username)).scalars().all()
        return [_view(user) for user in users]


def update_staff(
    rt: Runtime,
    actor: Actor,
    staff_id: int,
    *,
    role: Role | None = None,
    active: bool | None = None,
    unlock: bool = False,
    password: str | None = None,
) -> StaffView:
    now = rt.clock.now()
    with rt.db.write() as session:
        user = session.get(StaffUser, staff_id, with_for_update={"key_share": True})
        if user is None:
            raise NotFound("staff_not_found", "No such staff user.", field="staff_id")
        if actor.kind == "staff" and actor.id == str(user.id) and (role or active is False):
            raise Unprocessable(
                "cannot_change_own_access",
                "You cannot change your own role or disable yourself.",
                field="role" if role else "active",
            )
        before = _audit_state(user)
        if role is not None:
            user.role = role.value
        if active is not None:
            user.status = "active" if active else "disabled"
        if unlock:
            user.locked_at = None
            user.failed_logins = 0
        if password is not None:
            check_password_rules(rt, user.username, password)
            user.password_hash = hash_password(password)
            user.password_changed_at = now
        user.updated_at = now
        if role is not None or active is False or password is not None:
            revoke_all_for(session, "staff", user.id, now, "access_changed")
        _audit(session, rt, actor, "staff.update", user, before=before, after=_audit_state(user))
        return _view(user)
