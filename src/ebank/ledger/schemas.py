from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ebank.ledger.accounts import Product
from ebank.ledger.clearing import OutboundView
from ebank.ledger.posting import TransferKind
from ebank.web.fields import (
    Amount,
    Code64,
    Currency,
    EntityId,
    OptionalAmount,
    Purpose,
    Reason,
    TransferId,
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOpen(_Request):
    customer_id: EntityId
    product: Product
    currency: Currency | None = None
    parent_account_id: EntityId | None = None
    document_id: EntityId | None = None


class StatusChange(_Request):
    reason: Reason


class TransferIn(_Request):
    id: TransferId
    kind: TransferKind = TransferKind.SINGLE
    debit_account_id: EntityId | None = None
    credit_account_id: EntityId | None = None
    amount: OptionalAmount = None
    currency: Currency | None = None
    pending_id: TransferId | None = None
    timeout_s: int | None = Field(default=None, ge=1, le=366 * 86400)
    linked: bool = False
    code: str = Field(default="transfer", pattern=r"^[a-z][a-z_]{0,31}$")
    purpose: Purpose | None = None
    reference: Code64 | None = None


class TransferBatch(_Request):
    transfers: list[TransferIn] = Field(min_length=1, max_length=1000)


class TransferOut(BaseModel):
    id: str
    kind: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    pending_id: str | None
    reverses_id: str | None
    expires_at: datetime | None
    linked: bool
    code: str
    purpose: str | None
    channel: str
    reference: str | None
    created_by: str
    created_at: datetime
    debit_balance_after: int
    credit_balance_after: int
    pending_state: str | None = None


class TransferResultOut(BaseModel):
    id: str
    result: str  # "ok" or the failure code
    message: str | None = None
    field: str | None = None
    repeated: bool = False
    transfer: TransferOut | None = None


class TransferBatchOut(BaseModel):
    results: list[TransferResultOut]


class CashIn(_Request):
    id: TransferId
    account_id: EntityId
    amount: Amount
    currency: Currency
    purpose: Purpose | None = None


class ReversalIn(_Request):
    id: TransferId
    amount: OptionalAmount = None
    purpose: Purpose | None = None


class InterbankIn(_Request):
    id: TransferId
    account_id: EntityId
    amount: Amount
    currency: Currency
    payee_bank: Code64
    payee_account: str = Field(min_length=1, max_length=40)
    payee_name: Code64
    purpose: Purpose | None = None


class InterbankOut(BaseModel):
    transfer: TransferOut
    outbound: OutboundView | None


class LedgerReportOut(BaseModel):
    ok: bool
    accounts: int
    transfers: int
    totals: dict[str, dict[str, int]]
    problem_count: int
    problems: list[str]


def transfer_out(row: dict[str, Any] | Any) -> TransferOut:
    return TransferOut.model_validate(dict(row))
