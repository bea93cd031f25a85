"""When a payment must be confirmed again, and when it may skip the second factor. Pure functions
over the payment and the customer's history with the payee.

- ``above_habit`` (S6): far above what this customer usually pays this payee.
- ``repeat_to_new_payee`` (S4): the same amount to a payee first paid only recently, again within
  minutes — the "it failed, pay again" of a phishing payment page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median

from ebank.policy import Policy
from ebank.risk.assessment import Outcome

ABOVE_HABIT = "above_habit"
REPEAT_TO_NEW_PAYEE = "repeat_to_new_payee"
UNVERIFIED_PAYEE = "unverified_payee"


@dataclass(frozen=True)
class PastPayment:
    amount: int
    at: datetime


def payment_warnings(
    policy: Policy,
    *,
    amount: int,
    now: datetime,
    history: Sequence[PastPayment],
    payee_first_paid: datetime | None,
) -> list[str]:
    """Warnings that ask the customer to confirm again (``history``: earlier payments to this
    payee, executed or on their way)."""
    checks = policy.channels.checks
    warnings: list[str] = []
    floor = policy.to_minor(checks.habit_min_amount) or 0
    if history and amount >= floor:
        usual = Decimal(str(median(p.amount for p in history)))
        if Decimal(amount) > usual * checks.habit_ratio:
            warnings.append(ABOVE_HABIT)
    new_payee = payee_first_paid is None or now - payee_first_paid < timedelta(
        days=checks.new_payee_days
    )
    window = timedelta(minutes=checks.duplicate_window_minutes)
    if new_payee and any(p.amount == amount and now - p.at <= window for p in history):
        warnings.append(REPEAT_TO_NEW_PAYEE)
    return warnings


@dataclass(frozen=True)
class ExemptionContext:
    amount: int
    own_account: bool
    trusted_payee: bool
    exempt_count: int  # payments exempted since the last full authentication
    exempt_amount: int
    risk: Outcome
    warnings: Sequence[str]


def exemption_for(policy: Policy, context: ExemptionContext) -> str | None:
    """The exemption from strong authentication that applies, if any. None when the risk
    analysis asks for anything but "allow", or the customer must confirm a warning."""
    if context.risk is not Outcome.ALLOW or context.warnings:
        return None
    exemptions = policy.channels.exemptions
    if exemptions.own_accounts and context.own_account:
        return "own_accounts"
    if exemptions.trusted_payees and context.trusted_payee:
        return "trusted_payee"
    if within_low_value(policy, context.amount, context.exempt_count, context.exempt_amount):
        return "low_value"
    return None


def within_low_value(policy: Policy, amount: int, exempt_count: int, exempt_amount: int) -> bool:
    """Whether one more payment of ``amount`` stays within the low-value exemption, after
    ``exempt_count`` payments of ``exempt_amount`` in all exempted since the last full
    authentication."""
    low = policy.channels.exemptions.low_value
    if low is None:
        return False
    single = policy.to_minor(low.single) or 0
    cumulative = policy.to_minor(low.cumulative) or 0
    return amount <= single and exempt_amount + amount <= cumulative and exempt_count < low.count
