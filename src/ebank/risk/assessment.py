"""The one risk hook the channels call: ``assess(event)`` → allow / challenge / hold / block, with
reasons. Until the risk engine lands the default assessor allows everything it is shown; it is
still called for every event, so the engine can be slotted in without touching the channels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class EventKind(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    PAYMENT = "payment"
    REGISTRATION = "registration"
    NEW_DEVICE = "new_device"
    NEW_PAYEE = "new_payee"
    NEW_SERVICE = "new_service"
    PASSWORD_CHANGE = "password_change"  # noqa: S105
    TOOL_CHANGE = "tool_change"
    LIMIT_CHANGE = "limit_change"


class Outcome(StrEnum):
    ALLOW = "allow"
    CHALLENGE = "challenge"  # step-up: a full strong authentication, no exemption
    HOLD = "hold"  # executed as a pending transfer an analyst releases or voids
    BLOCK = "block"


@dataclass(frozen=True)
class RiskEvent:
    kind: EventKind
    customer_id: int
    at: datetime
    channel: str
    account_id: int | None = None
    amount: int | None = None
    currency: str | None = None
    balance_before: int | None = None
    payee_key: str | None = None  # keyed hash of the payee account: never the number itself
    payee_account_id: int | None = None
    payee_in_bank: bool | None = None
    device_id: int | None = None
    ip: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str  # English msgid, translated at the edge


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    score: float | None = None
    # What the analyst needs (features, rules, shadow rules), kept when the outcome is not
    # "allow" or a shadow rule matched; None otherwise, so an ordinary payment stores nothing.
    evidence: Mapping[str, Any] | None = None


class RiskAssessor(Protocol):
    def assess(self, event: RiskEvent) -> Decision: ...


class PermissiveAssessor:
    """Allows everything: the placeholder until the real-time engine is in place."""

    def assess(self, event: RiskEvent) -> Decision:
        return Decision(Outcome.ALLOW)
