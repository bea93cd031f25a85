"""Authentication factors, the category each belongs to, and the strength a set of them reaches
(PBoC 2015 No. 43 Art. 24: certificate + another element; two elements; fewer)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Factor(StrEnum):
    LOGIN_PASSWORD = "login_password"  # noqa: S105
    TRANSACTION_PASSWORD = "transaction_password"  # noqa: S105
    SMS = "sms"
    TOTP = "totp"
    HOTP = "hotp"
    USBKEY = "usbkey"
    PASSKEY = "passkey"


class Category(StrEnum):
    KNOWLEDGE = "knowledge"
    POSSESSION = "possession"
    INHERENCE = "inherence"


class Strength(StrEnum):
    CERTIFICATE_PLUS = "certificate_plus"
    TWO_FACTOR = "two_factor"
    ONE_FACTOR = "one_factor"
    NONE = "none"  # an exemption applied: no factor for this payment


CATEGORIES: dict[Factor, frozenset[Category]] = {
    Factor.LOGIN_PASSWORD: frozenset({Category.KNOWLEDGE}),
    Factor.TRANSACTION_PASSWORD: frozenset({Category.KNOWLEDGE}),
    Factor.SMS: frozenset({Category.POSSESSION}),
    Factor.TOTP: frozenset({Category.POSSESSION}),
    Factor.HOTP: frozenset({Category.POSSESSION}),
    Factor.USBKEY: frozenset({Category.POSSESSION}),
    # A platform passkey with user verification: the device, unlocked by biometrics or its PIN.
    Factor.PASSKEY: frozenset({Category.POSSESSION, Category.INHERENCE}),
}


def categories_of(factors: Iterable[Factor]) -> frozenset[Category]:
    return frozenset(category for factor in factors for category in CATEGORIES[factor])


def strength_of(factors: Iterable[Factor]) -> Strength:
    used = frozenset(factors)
    if not used:
        return Strength.NONE
    if Factor.USBKEY in used and len(used) >= 2:
        return Strength.CERTIFICATE_PLUS
    if len(categories_of(used)) >= 2:
        return Strength.TWO_FACTOR
    return Strength.ONE_FACTOR


def is_strong(factors: Iterable[Factor]) -> bool:
    """Two independent categories: what strong customer authentication means."""
    return len(categories_of(factors)) >= 2


def factors_text(factors: Iterable[Factor]) -> str:
    return ",".join(sorted(factor.value for factor in factors))


def parse_factors(text: str | None) -> frozenset[Factor]:
    return frozenset(Factor(part) for part in (text or "").split(",") if part)
