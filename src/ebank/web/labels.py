"""What pages show for the codes the data holds (msgids, translated where shown)."""

from __future__ import annotations

from ebank.common.i18n import N_
from ebank.common.validators import DocumentType
from ebank.ledger.accounts import ACCOUNT_STATUS_NAMES, HOLD_STATE_NAMES, PRODUCT_NAMES
from ebank.staff.permissions import Permission, Role

ROLE_NAMES: dict[str, str] = {
    Role.TELLER: N_("Teller"),
    Role.SUPERVISOR: N_("Branch supervisor"),
    Role.RISK_ANALYST: N_("Fraud / risk analyst"),
    Role.AML_OFFICER: N_("AML compliance officer"),
    Role.DISPUTE_OFFICER: N_("Dispute officer"),
    Role.ADMIN: N_("Administrator"),
    Role.AUDITOR: N_("Auditor"),
}
CUSTOMER_KINDS: dict[str, str] = {"individual": N_("Individual"), "company": N_("Company")}
DOCUMENT_TYPES: dict[str, str] = {
    DocumentType.RESIDENT_ID: N_("Resident identity card"),
    DocumentType.TEMPORARY_ID: N_("Temporary identity card"),
    DocumentType.PASSPORT: N_("Passport"),
    DocumentType.HK_MACAO_PERMIT: N_("Mainland travel permit for Hong Kong and Macao residents"),
    DocumentType.USCC: N_("Unified social credit code"),
}
RISK_RATINGS: dict[str, str] = {"low": N_("Low"), "medium": N_("Medium"), "high": N_("High")}
PERMISSIONS: dict[str, str] = {
    Permission.CUSTOMERS_READ: N_("Look up customers"),
    Permission.CUSTOMERS_WRITE: N_("Onboard customers and update their profile"),
    Permission.ACCOUNTS_READ: N_("See accounts and statements"),
    Permission.ACCOUNTS_OPEN: N_("Open accounts"),
    Permission.ACCOUNTS_FREEZE: N_("Freeze and unfreeze accounts"),
    Permission.ACCOUNTS_CLOSE: N_("Close accounts"),
    Permission.CASH: N_("Counter cash deposits and withdrawals"),
    Permission.INTERBANK_SEND: N_("Send payments to other banks"),
    Permission.TRANSFERS_POST: N_("Post ledger transfers and holds"),
    Permission.TRANSFERS_REVERSE: N_("Reverse transfers"),
    Permission.LEDGER_VERIFY: N_("Verify the ledger"),
    Permission.CLEARING_OPERATE: N_("Run inter-bank clearing"),
    Permission.AUDIT_READ: N_("Read and verify the audit trail"),
    Permission.STAFF_MANAGE: N_("Manage staff users"),
}

LABELS: dict[str, dict[str, str]] = {
    "role": ROLE_NAMES,
    "customer_kind": CUSTOMER_KINDS,
    "document_type": DOCUMENT_TYPES,
    "risk_rating": RISK_RATINGS,
    "permission": PERMISSIONS,
    "product": PRODUCT_NAMES,
    "account_status": ACCOUNT_STATUS_NAMES,
    "hold_state": HOLD_STATE_NAMES,
}
