"""Policy profiles: the regulatory figures a bank selects and adjusts (``policies/<profile>.yaml``).

Amounts in a profile are written in major units of the profile's currency (``10000`` or
``"10000.00"``) and held here in integer minor units.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ebank.common.money import currency_exponent, normalize_currency


def _decimal_amount(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError("write amounts as integers or quoted decimals, never floats")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"amounts are finite and not negative: {value!r}")
    return amount


MajorAmount = Annotated[Decimal, BeforeValidator(_decimal_amount)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountClassLimits(_Section):
    """Statutory limits of an account class (major units in the file, minor units after loading)."""

    max_balance: MajorAmount | None = None
    outbound_daily_limit: MajorAmount | None = None
    outbound_yearly_limit: MajorAmount | None = None


class ClassLimitsMinor(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_balance: int | None = None
    outbound_daily_limit: int | None = None
    outbound_yearly_limit: int | None = None


class LedgerPolicy(_Section):
    account_classes: dict[str, AccountClassLimits] = Field(default_factory=dict)
    card_bin: str = Field(default="621999", pattern=r"^\d{6,8}$")
    card_number_length: int = Field(default=19, ge=16, le=19)
    corporate_account_prefix: str = Field(default="3100", pattern=r"^\d{2,8}$")
    bank_code: str = Field(default="EBANK", min_length=2, max_length=16)


class StaffPolicy(_Section):
    session_idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=10, ge=1, le=72)
    max_failed_logins: int = Field(default=5, ge=1, le=20)
    min_password_length: int = Field(default=12, ge=8, le=128)


class Policy(_Section):
    profile: str
    name: str
    currency: str
    timezone: str
    ledger: LedgerPolicy = Field(default_factory=LedgerPolicy)
    staff: StaffPolicy = Field(default_factory=StaffPolicy)

    @model_validator(mode="after")
    def _check(self) -> Policy:
        normalize_currency(self.currency)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_minor(self, amount: Decimal | None) -> int | None:
        if amount is None:
            return None
        scaled = amount.scaleb(currency_exponent(self.currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more decimals than {self.currency} allows")
        return int(scaled)

    def class_limits(self, account_class: str) -> ClassLimitsMinor:
        limits = self.ledger.account_classes.get(account_class)
        if limits is None:
            return ClassLimitsMinor()
        return ClassLimitsMinor(
            max_balance=self.to_minor(limits.max_balance),
            outbound_daily_limit=self.to_minor(limits.outbound_daily_limit),
            outbound_yearly_limit=self.to_minor(limits.outbound_yearly_limit),
        )


class PolicyError(Exception):
    pass


def load_policy_file(path: Path) -> Policy:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read policy {path}: {exc}") from exc
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(f"policy {path} is invalid:\n{exc}") from exc


@lru_cache(maxsize=8)
def load_policy(policy_dir: Path, profile: str) -> Policy:
    if not profile.replace("_", "").isalnum():
        raise PolicyError(f"bad profile name {profile!r}")
    return load_policy_file(policy_dir / f"{profile}.yaml")
