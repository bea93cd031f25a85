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


class CustomerAuthPolicy(_Section):
    """How customers authenticate: lockout, session, one-time codes, tokens, certificates."""

    max_failed_attempts: int = Field(default=5, ge=1, le=20)
    session_idle_minutes: int = Field(default=5, ge=1, le=60)
    session_max_hours: int = Field(default=12, ge=1, le=72)
    min_password_length: int = Field(default=8, ge=6, le=128)
    sms_code_digits: int = Field(default=6, ge=6, le=8)
    sms_code_ttl_seconds: int = Field(default=120, ge=30, le=900)
    sms_code_max_tries: int = Field(default=3, ge=1, le=10)
    sms_resend_seconds: int = Field(default=60, ge=0, le=3600)
    sms_max_per_hour: int = Field(default=10, ge=1, le=100)
    challenge_ttl_seconds: int = Field(default=300, ge=30, le=1800)
    totp_step_seconds: int = Field(default=30, ge=10, le=120)
    totp_window_steps: int = Field(default=1, ge=0, le=3)
    hotp_window: int = Field(default=10, ge=1, le=100)
    resync_look_ahead: int = Field(default=1000, ge=10, le=10000)
    token_max_failures: int = Field(default=10, ge=1, le=100)
    certificate_days: int = Field(default=730, ge=1, le=3650)
    pin_max_failures: int = Field(default=3, ge=1, le=10)


class StrengthLimits(_Section):
    """Limits for payments authenticated at one strength; ``by_contract`` defers to the contract."""

    by_contract: bool = False
    per_transaction: MajorAmount | None = None
    daily: MajorAmount | None = None
    yearly: MajorAmount | None = None


class ContractLimits(_Section):
    per_transaction: MajorAmount
    daily: MajorAmount
    yearly: MajorAmount


class LowValueExemption(_Section):
    single: MajorAmount
    cumulative: MajorAmount
    count: int = Field(ge=1, le=100)


class ExemptionPolicy(_Section):
    """Where a second factor may be skipped, and only when the risk analysis finds nothing."""

    low_value: LowValueExemption | None = None
    trusted_payees: bool = False
    own_accounts: bool = False


class PaymentChecks(_Section):
    """When a payment must be confirmed again (scenarios S4 and S6)."""

    habit_ratio: Decimal = Field(default=Decimal(5), gt=1)
    habit_min_amount: MajorAmount = Decimal(1000)
    habit_payments: int = Field(default=50, ge=1, le=1000)  # the habit: the last N payments
    duplicate_window_minutes: int = Field(default=15, ge=1, le=1440)
    new_payee_days: int = Field(default=30, ge=0, le=365)


class ChannelPolicy(_Section):
    limits_by_strength: dict[str, StrengthLimits]
    default_contract: ContractLimits
    exemptions: ExemptionPolicy = Field(default_factory=ExemptionPolicy)
    checks: PaymentChecks = Field(default_factory=PaymentChecks)
    draft_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    recall_hold_days: int = Field(default=15, ge=1, le=90)

    @model_validator(mode="after")
    def _all_strengths(self) -> ChannelPolicy:
        missing = {"certificate_plus", "two_factor", "one_factor"} - set(self.limits_by_strength)
        if missing:
            raise ValueError(f"limits_by_strength lacks {sorted(missing)}")
        return self


class RiskPolicy(_Section):
    """How the real-time engine turns a model score into an outcome, and which rules it runs."""

    rules: str = Field(default="starter", pattern=r"^[a-z0-9_-]+$")  # policies/rules/<name>.yaml
    challenge_score: float = Field(default=0.3, gt=0, le=1)
    hold_score: float = Field(default=0.7, gt=0, le=1)
    block_score: float = Field(default=0.95, gt=0, le=1)
    retrain_days: int = Field(default=7, ge=0, le=366)  # 0: no scheduled retraining
    training_days: int = Field(default=28, ge=7, le=366)
    label_delay_days: int = Field(default=7, ge=0, le=90)  # how late confirmed frauds arrive
    event_log_days: int = Field(default=120, ge=70, le=3660)  # risk_events kept (rebuild, training)

    @model_validator(mode="after")
    def _ordered(self) -> RiskPolicy:
        if not self.challenge_score <= self.hold_score <= self.block_score:
            raise ValueError("score bands rise: challenge ≤ hold ≤ block")
        return self


class LargeValueThresholds(_Section):
    """A customer's single or same-day cumulative movements at or above these are reported (in
    major units of one currency)."""

    cash: MajorAmount
    company_transfer: MajorAmount
    individual_domestic: MajorAmount
    individual_cross_border: MajorAmount


class LargeValuePolicy(LargeValueThresholds):
    """PBoC Order [2016] No. 3: the thresholds in the profile's currency, and in ``foreign`` those
    of accounts kept in other currencies (by currency code, in its major units); reports are
    due within ``report_working_days`` working days."""

    report_working_days: int = Field(default=5, ge=1, le=30)
    foreign: dict[str, LargeValueThresholds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_currencies(self) -> LargeValuePolicy:
        for code in self.foreign:
            if normalize_currency(code) != code:
                raise ValueError(f"large_value.foreign: write the currency as {code.upper()!r}")
        return self


class PassThroughParams(_Section):
    """Money in and out again within ``window_days``, little of it retained."""

    window_days: int = Field(default=1, ge=1, le=31)
    min_amount: MajorAmount
    max_retained_ratio: float = Field(default=0.1, ge=0, lt=1)


class FanParams(_Section):
    """Many counterparties on one side of an account within ``window_days``."""

    window_days: int = Field(default=7, ge=1, le=92)
    min_counterparties: int = Field(default=10, ge=2, le=10_000)
    min_total: MajorAmount
    # Movements whose purpose holds one of these do not count (an employer's payroll is not a
    # fan-out; large "salaries" have a typology of their own).
    exclude_purposes: list[str] = Field(default_factory=list)


class GatherScatterParams(_Section):
    """Fan-in and fan-out at the same account within ``window_days`` (or the reverse order)."""

    window_days: int = Field(default=7, ge=1, le=92)
    min_in: int = Field(default=5, ge=2, le=10_000)
    min_out: int = Field(default=5, ge=2, le=10_000)
    min_total: MajorAmount
    max_retained_ratio: float = Field(default=0.2, ge=0, lt=1)


class ConcentratedDispersedParams(_Section):
    """Large sums from a few payers dispersed to many payees within ``window_days`` (集中转入、
    分散转出), or gathered from many and sent on to a few (the reverse), little of it kept."""

    window_days: int = Field(default=7, ge=1, le=92)
    max_concentrated: int = Field(default=2, ge=1, le=10)
    min_dispersed: int = Field(default=3, ge=2, le=10_000)
    min_total: MajorAmount
    max_retained_ratio: float = Field(default=0.2, ge=0, lt=1)


class ScatterGatherParams(_Section):
    """One source spreads money over intermediaries that all pass it to one destination."""

    window_days: int = Field(default=7, ge=1, le=92)
    min_intermediaries: int = Field(default=3, ge=2, le=1000)
    min_amount: MajorAmount  # per leg


class CycleParams(_Section):
    """Money that comes back to where it started through other accounts."""

    window_days: int = Field(default=30, ge=1, le=366)
    max_length: int = Field(default=4, ge=2, le=6)
    min_amount: MajorAmount  # per leg
    min_returned_ratio: float = Field(default=0.5, gt=0, le=1)


class StructuringParams(_Section):
    """Repeated amounts just under a reporting threshold (the large-value ones)."""

    window_days: int = Field(default=7, ge=1, le=92)
    min_count: int = Field(default=3, ge=2, le=1000)
    band: float = Field(default=0.1, gt=0, lt=1)  # "just under": within this share below


class SplitPaymentsParams(_Section):
    """One payer paying one payee in pieces: several transfers within ``window_days``, each far
    below what the payer usually pays (化整为零)."""

    window_days: int = Field(default=2, ge=1, le=366)
    min_transfers: int = Field(default=3, ge=1, le=1000)
    below_usual_ratio: float = Field(default=0.5, gt=0, le=1)
    min_total: MajorAmount


class TurnoverParams(_Section):
    """Turnover far above the scale the customer declared (registered capital, monthly
    turnover)."""

    window_days: int = Field(default=30, ge=1, le=366)
    capital_multiple: float = Field(default=10, gt=0)
    declared_turnover_multiple: float = Field(default=5, gt=0)
    min_turnover: MajorAmount


class PurposeRule(_Section):
    """A purpose (any of ``purpose_keywords``) only fits a business whose scope mentions one of
    ``scope_keywords``."""

    purpose_keywords: list[str] = Field(min_length=1)
    scope_keywords: list[str] = Field(min_length=1)


class PurposeParams(_Section):
    window_days: int = Field(default=30, ge=1, le=366)
    min_amount: MajorAmount
    rules: dict[str, PurposeRule] = Field(min_length=1)


class PayrollParams(_Section):
    """Large "salary" from a company to individuals with no payroll before."""

    purpose_keywords: list[str] = Field(min_length=1)
    min_amount: MajorAmount  # per transfer: far above a salary
    history_days: int = Field(default=90, ge=1, le=3660)
    window_days: int = Field(default=30, ge=1, le=366)


class DormantParams(_Section):
    dormant_days: int = Field(default=180, ge=30, le=3660)
    window_days: int = Field(default=30, ge=1, le=366)
    min_amount: MajorAmount


class SharedIdentifierParams(_Section):
    """One device or one phone number behind several customers."""

    min_customers: int = Field(default=3, ge=2, le=1000)


class TypologyParams(_Section):
    """Each typology's parameters; a typology left out does not run."""

    pass_through: PassThroughParams | None = None
    fan_in: FanParams | None = None
    fan_out: FanParams | None = None
    gather_scatter: GatherScatterParams | None = None
    concentrated_dispersed: ConcentratedDispersedParams | None = None
    scatter_gather: ScatterGatherParams | None = None
    cycle: CycleParams | None = None
    structuring: StructuringParams | None = None
    split_payments: SplitPaymentsParams | None = None
    turnover_vs_profile: TurnoverParams | None = None
    purpose_vs_scope: PurposeParams | None = None
    payroll_without_history: PayrollParams | None = None
    dormant_reactivated: DormantParams | None = None
    shared_identifier: SharedIdentifierParams | None = None


class AmlPolicy(_Section):
    """Anti-money-laundering monitoring (docs/aml.md)."""

    calendar: str = Field(default="cn", pattern=r"^[a-z0-9_-]+$")  # policies/calendars/<name>.yaml
    home_country: str = Field(
        default="CN", pattern=r"^[A-Z]{2}$"
    )  # payee banks elsewhere: cross-border
    large_value: LargeValuePolicy
    suspicious_report_working_days: int = Field(default=5, ge=1, le=30)
    typologies: TypologyParams
    # External datasets whose amounts carry no currency (``ebank aml evaluate-amlsim``).
    evaluation: dict[str, TypologyParams] = Field(default_factory=dict)


class Policy(_Section):
    profile: str
    name: str
    currency: str
    timezone: str
    ledger: LedgerPolicy = Field(default_factory=LedgerPolicy)
    staff: StaffPolicy = Field(default_factory=StaffPolicy)
    customer_auth: CustomerAuthPolicy = Field(default_factory=CustomerAuthPolicy)
    channels: ChannelPolicy
    risk: RiskPolicy = Field(default_factory=RiskPolicy)
    aml: AmlPolicy

    @model_validator(mode="after")
    def _check(self) -> Policy:
        normalize_currency(self.currency)
        if self.currency in self.aml.large_value.foreign:
            raise ValueError(f"aml.large_value.foreign: {self.currency} is the profile's currency")
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
