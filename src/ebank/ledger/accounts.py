"""What each kind of account is: its normal side, the balance rule the database enforces, and
which customers may hold it. Pure data and small pure functions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from ebank.common.i18n import N_
from ebank.common.validators import luhn_check_digit


class Product(StrEnum):
    PERSONAL_I = "personal_i"
    PERSONAL_II = "personal_ii"
    PERSONAL_III = "personal_iii"
    CORPORATE_BASIC = "corporate_basic"
    CORPORATE_GENERAL = "corporate_general"
    PRECIOUS_METAL_MARGIN = "precious_metal_margin"
    CASH = "cash"
    SUSPENSE = "suspense"
    COMPENSATION_FUND = "compensation_fund"
    CLEARING = "clearing"
    SETTLEMENT = "settlement"
    FEE_INCOME = "fee_income"
    RECOVERY_RECEIVABLE = "recovery_receivable"
    EQUITY = "equity"


@dataclass(frozen=True)
class ProductRules:
    kind: str  # customer | internal
    normal_side: str  # credit (liabilities, income, equity) | debit (assets)
    no_overdraft: bool  # debits must not exceed credits
    no_negative_asset: bool  # credits must not exceed debits
    holder: str | None  # individual | company | None (internal or either)
    card: bool = False  # numbered as a bank card (BIN + Luhn)
    sub_account: bool = False  # linked to a parent customer account


PRODUCTS: dict[Product, ProductRules] = {
    Product.PERSONAL_I: ProductRules("customer", "credit", True, False, "individual", card=True),
    Product.PERSONAL_II: ProductRules("customer", "credit", True, False, "individual", card=True),
    Product.PERSONAL_III: ProductRules("customer", "credit", True, False, "individual", card=True),
    Product.CORPORATE_BASIC: ProductRules("customer", "credit", True, False, "company"),
    Product.CORPORATE_GENERAL: ProductRules("customer", "credit", True, False, "company"),
    Product.PRECIOUS_METAL_MARGIN: ProductRules(
        "customer", "credit", True, False, None, sub_account=True
    ),
    Product.CASH: ProductRules("internal", "debit", False, True, None),
    Product.SUSPENSE: ProductRules("internal", "credit", False, False, None),
    Product.COMPENSATION_FUND: ProductRules("internal", "credit", True, False, None),
    # What the bank owes other banks: settling or returning more than was sent is impossible.
    Product.CLEARING: ProductRules("internal", "credit", True, False, None),
    Product.SETTLEMENT: ProductRules("internal", "debit", False, False, None),
    Product.FEE_INCOME: ProductRules("internal", "credit", False, False, None),
    Product.RECOVERY_RECEIVABLE: ProductRules("internal", "debit", False, False, None),
    Product.EQUITY: ProductRules("internal", "credit", False, False, None),
}

CUSTOMER_PRODUCTS = frozenset(p for p, r in PRODUCTS.items() if r.kind == "customer")
INTERNAL_PRODUCTS = frozenset(p for p, r in PRODUCTS.items() if r.kind == "internal")

PRODUCT_NAMES: dict[str, str] = {
    Product.PERSONAL_I: N_("Personal class I account"),
    Product.PERSONAL_II: N_("Personal class II account"),
    Product.PERSONAL_III: N_("Personal class III account"),
    Product.CORPORATE_BASIC: N_("Corporate basic account"),
    Product.CORPORATE_GENERAL: N_("Corporate general account"),
    Product.PRECIOUS_METAL_MARGIN: N_("Precious-metal margin sub-account"),
    Product.CASH: N_("Cash vault"),
    Product.SUSPENSE: N_("Suspense"),
    Product.COMPENSATION_FUND: N_("Advance-compensation fund"),
    Product.CLEARING: N_("Inter-bank clearing"),
    Product.SETTLEMENT: N_("Central-bank settlement"),
    Product.FEE_INCOME: N_("Fee income"),
    Product.RECOVERY_RECEIVABLE: N_("Recovery receivable"),
    Product.EQUITY: N_("Equity"),
}
INTERNAL_NAMES = {p: PRODUCT_NAMES[p] for p in Product if PRODUCTS[p].kind == "internal"}
ACCOUNT_STATUS_NAMES: dict[str, str] = {
    "active": N_("Active"),
    "frozen": N_("Frozen"),
    "closed": N_("Closed"),
}
HOLD_STATE_NAMES: dict[str, str] = {
    "pending": N_("Held"),
    "posted": N_("Completed"),
    "voided": N_("Released"),
    "expired": N_("Expired"),
}


def internal_code(product: Product, currency: str) -> str:
    """The stable code of the bank's own account of this kind in this currency: ``CASH-CNY``."""
    return f"{product.value.upper()}-{currency}"


def new_account_number(prefix: str, length: int) -> str:
    """A random account number with the given prefix, ending in a Luhn check digit."""
    body_digits = length - len(prefix) - 1
    body = "".join(secrets.choice("0123456789") for _ in range(body_digits))
    payload = prefix + body
    return payload + luhn_check_digit(payload)
