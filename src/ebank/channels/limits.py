"""Which limits apply to a payment, from the strength of the authentication used (PBoC 2015 No. 43
Art. 24) and the customer's contract, and whether a payment stays within them. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from ebank.auth.strength import Strength
from ebank.policy import Policy


@dataclass(frozen=True)
class Limits:
    per_transaction: int | None
    daily: int | None
    yearly: int | None


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def limits_for(policy: Policy, strength: Strength, contract: Limits) -> Limits:
    """The contract's limits, tightened by what the strength allows. An exempted payment (no
    factor) is held to the one-factor figures."""
    key = Strength.ONE_FACTOR if strength is Strength.NONE else strength
    tier = policy.channels.limits_by_strength[key.value]
    if tier.by_contract:
        return contract
    return Limits(
        per_transaction=_min(contract.per_transaction, policy.to_minor(tier.per_transaction)),
        daily=_min(contract.daily, policy.to_minor(tier.daily)),
        yearly=_min(contract.yearly, policy.to_minor(tier.yearly)),
    )


def breached_limit(
    limits: Limits, *, amount: int, used_today: int, used_this_year: int
) -> str | None:
    """The first limit ``amount`` would exceed, given what was already paid; None if none."""
    if limits.per_transaction is not None and amount > limits.per_transaction:
        return "per_transaction"
    if limits.daily is not None and used_today + amount > limits.daily:
        return "daily"
    if limits.yearly is not None and used_this_year + amount > limits.yearly:
        return "yearly"
    return None
