"""Roles and what each may do. Every route names the permission it needs."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TELLER = "teller"
    SUPERVISOR = "supervisor"
    RISK_ANALYST = "risk_analyst"
    AML_OFFICER = "aml_officer"
    DISPUTE_OFFICER = "dispute_officer"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    ACCOUNTS_READ = "accounts.read"
    ACCOUNTS_OPEN = "accounts.open"
    ACCOUNTS_FREEZE = "accounts.freeze"
    ACCOUNTS_CLOSE = "accounts.close"
    CHANNELS_SUSPEND = "channels.suspend"
    CASH = "ledger.cash"
    INTERBANK_SEND = "ledger.interbank_send"
    TRANSFERS_POST = "ledger.transfers_post"
    TRANSFERS_REVERSE = "ledger.transfers_reverse"
    LEDGER_VERIFY = "ledger.verify"
    CLEARING_OPERATE = "ledger.clearing_operate"
    RISK_REVIEW = "risk.review"  # the alert queue and its decisions
    RISK_CONFIGURE = "risk.configure"  # rule-set and model versions
    AML_REVIEW = "aml.review"  # AML cases, scans, suspicious and large-value reports
    AUDIT_READ = "audit.read"
    STAFF_MANAGE = "staff.manage"


_READERS = {Permission.CUSTOMERS_READ, Permission.ACCOUNTS_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TELLER: frozenset(
        _READERS
        | {
            Permission.CUSTOMERS_WRITE,
            Permission.ACCOUNTS_OPEN,
            Permission.CASH,
            Permission.INTERBANK_SEND,
        }
    ),
    Role.SUPERVISOR: frozenset(
        _READERS
        | {
            Permission.CUSTOMERS_WRITE,
            Permission.ACCOUNTS_OPEN,
            Permission.ACCOUNTS_FREEZE,
            Permission.ACCOUNTS_CLOSE,
            Permission.CASH,
            Permission.INTERBANK_SEND,
            Permission.TRANSFERS_POST,
            Permission.TRANSFERS_REVERSE,
            Permission.CLEARING_OPERATE,
            Permission.CHANNELS_SUSPEND,
        }
    ),
    Role.RISK_ANALYST: frozenset(
        _READERS | {Permission.CHANNELS_SUSPEND, Permission.RISK_REVIEW, Permission.RISK_CONFIGURE}
    ),
    Role.AML_OFFICER: frozenset(
        _READERS | {Permission.ACCOUNTS_FREEZE, Permission.CHANNELS_SUSPEND, Permission.AML_REVIEW}
    ),
    Role.DISPUTE_OFFICER: frozenset(_READERS),
    Role.ADMIN: frozenset({Permission.STAFF_MANAGE, Permission.CLEARING_OPERATE}),
    Role.AUDITOR: frozenset(_READERS | {Permission.AUDIT_READ, Permission.LEDGER_VERIFY}),
}


def role_allows(role: str | None, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)] if role else False
    except ValueError:
        return False


def permissions_of(role: str) -> list[str]:
    """What a role may do, as sorted permission codes."""
    return sorted(p.value for p in ROLE_PERMISSIONS.get(Role(role), frozenset()))


def roles_with(permission: Permission) -> frozenset[Role]:
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms)
