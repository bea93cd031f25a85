"""What pages show for the codes the data holds (msgids, translated where shown)."""

from __future__ import annotations

from ebank.aml.reasons import TYPOLOGY_LABELS
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
    Permission.RISK_REVIEW: N_("Review risk alerts and decide held payments"),
    Permission.RISK_CONFIGURE: N_("Manage risk rule sets and models"),
    Permission.AML_REVIEW: N_("Investigate AML cases and file reports to the regulator"),
    Permission.AUDIT_READ: N_("Read and verify the audit trail"),
    Permission.STAFF_MANAGE: N_("Manage staff users"),
}
ALERT_KINDS: dict[str, str] = {
    "hold": N_("Held payment"),
    "block": N_("Blocked payment"),
    "attempt": N_("Risky payment not authorised"),
    "shadow": N_("Shadow rule hit"),
}
ALERT_STATUSES: dict[str, str] = {
    "open": N_("Open"),
    "released": N_("Released to the payee"),
    "voided": N_("Stopped"),
    "closed": N_("Closed"),
}
FRAUD_LABELS: dict[str, str] = {"fraud": N_("Confirmed fraud"), "not_fraud": N_("Not fraud")}
ALERT_ACTIONS_DONE: dict[str, str] = {
    "release": N_("The payment was released."),
    "void": N_("The payment was stopped and the money is available to the customer again."),
    "close": N_("The alert is closed."),
    "label": N_("The label is saved; the engine uses it from now on."),
    "block-payee": N_("The payee is blocked: payments to it are refused."),
    "suspend-channel": N_("The channel is suspended and its sessions ended."),
}
AML_CASE_STATUSES: dict[str, str] = {
    "open": N_("Open"),
    "dismissed": N_("Dismissed"),
    "reported": N_("Reported"),
}
AML_REPORT_STATUSES: dict[str, str] = {
    "draft": N_("Draft"),
    "reviewed": N_("Reviewed"),
    "filed": N_("Filed"),
    "due": N_("Due"),
}
AML_SCAN_STATUSES: dict[str, str] = {
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}
AML_CRITERIA: dict[str, str] = {
    "cash": N_("Cash"),
    "company_transfer": N_("Company transfers"),
    "individual_domestic": N_("Personal domestic transfers"),
    "individual_cross_border": N_("Personal cross-border transfers"),
}
MONEY_DIRECTIONS: dict[str, str] = {
    "in": N_("Money in"),
    "out": N_("Money out"),
    "internal": N_("Between own accounts"),
}
AML_ACTIONS_DONE: dict[str, str] = {
    "note": N_("The note is added."),
    "dismiss": N_("The case is dismissed."),
    "suspend": N_("The customer's e-banking is suspended pending review."),
    "lift": N_("The suspension is lifted."),
    "draft": N_("The report is drafted: check the narrative, then ask a colleague to review it."),
    "edit": N_("The report is saved."),
    "review": N_("The report is reviewed and can be filed."),
    "file": N_("The report is recorded as filed; the case is closed as reported."),
    "scan": N_("The scan is done."),
    "file-large-value": N_("The large-value report is recorded as filed."),
}
VERSION_STATUSES: dict[str, str] = {
    "draft": N_("Draft"),
    "shadow": N_("Shadow"),
    "live": N_("Live"),
    "retired": N_("Retired"),
    "candidate": N_("Candidate"),
}
VERSION_MOVES: dict[str, str] = {
    "shadow": N_("Run in shadow"),
    "live": N_("Put live"),
    "retired": N_("Retire"),
}
RISK_EVENTS: dict[str, str] = {
    "payment": N_("Payment"),
    "login": N_("Log-in"),
    "login_failed": N_("Failed log-in"),
    "registration": N_("E-banking registration"),
    "new_device": N_("New device"),
    "new_payee": N_("New payee"),
    "new_service": N_("New service"),
    "password_change": N_("Password change"),
    "tool_change": N_("Authentication tool change"),
    "limit_change": N_("Limit change"),
}
RISK_OUTCOMES: dict[str, str] = {
    "allow": N_("Allowed"),
    "challenge": N_("Stepped up"),
    "hold": N_("Held for review"),
    "block": N_("Blocked"),
}
PAYMENT_STATUSES: dict[str, str] = {
    "draft": N_("Draft"),
    "awaiting_auth": N_("Awaiting authorisation"),
    "executed": N_("Executed"),
    "held": N_("Held for review"),
    "blocked": N_("Blocked"),
    "failed": N_("Failed"),
    "voided": N_("Stopped"),
    "expired": N_("Hold expired"),
}
CHANNELS: dict[str, str] = {
    "online": N_("Online banking"),
    "mobile": N_("Mobile banking"),
    "phone": N_("Phone banking"),
    "tv": N_("TV banking"),
    "counter": N_("Counter"),
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
    "alert_kind": ALERT_KINDS,
    "alert_status": ALERT_STATUSES,
    "fraud_label": FRAUD_LABELS,
    "alert_action_done": ALERT_ACTIONS_DONE,
    "version_status": VERSION_STATUSES,
    "version_move": VERSION_MOVES,
    "risk_event": RISK_EVENTS,
    "risk_outcome": RISK_OUTCOMES,
    "payment_status": PAYMENT_STATUSES,
    "channel": CHANNELS,
    "typology": TYPOLOGY_LABELS,
    "aml_case_status": AML_CASE_STATUSES,
    "aml_report_status": AML_REPORT_STATUSES,
    "aml_criterion": AML_CRITERIA,
    "aml_scan_status": AML_SCAN_STATUSES,
    "money_direction": MONEY_DIRECTIONS,
    "aml_action_done": AML_ACTIONS_DONE,
}
