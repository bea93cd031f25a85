"""Ledger tables. Balances live on the account row as four running totals (TigerBeetle's
debits/credits × pending/posted); transfers are immutable rows that explain every total."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ebank.db import ID, Base, UTCDateTime


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 "
            "AND credits_posted >= 0",
            name="totals_not_negative",
        ),
        # The database itself refuses an overdraft, in the same statement that would cause it.
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted",
            name="no_overdraft",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted",
            name="no_negative_asset",
        ),
        CheckConstraint("status IN ('active', 'frozen', 'closed')", name="status"),
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # customer | internal
    product: Mapped[str] = mapped_column(String(32), nullable=False)
    code: Mapped[str | None] = mapped_column(String(48), unique=True)  # internal accounts
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    number_masked: Mapped[str] = mapped_column(String(32), nullable=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    parent_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    opened_with_document_id: Mapped[int | None] = mapped_column(ForeignKey("customer_documents.id"))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    normal_side: Mapped[str] = mapped_column(String(6), nullable=False)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, nullable=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    debits_pending: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # Outbound totals for the account class's daily / yearly limits, by the bank's local date.
    outbound_day: Mapped[date | None] = mapped_column(Date)
    outbound_day_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    outbound_year: Mapped[int | None] = mapped_column(Integer)
    outbound_year_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transfer(Base):
    """One posting between two accounts. Never updated or deleted (database triggers refuse it)."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
        CheckConstraint("kind IN ('single', 'pending', 'post', 'void')", name="kind"),
        Index("ix_transfers_debit_account_seq", "debit_account_id", "seq"),
        Index("ix_transfers_credit_account_seq", "credit_account_id", "seq"),
        # Few transfers carry these: partial indexes cost nothing for the rest.
        *(
            Index(
                f"ix_transfers_{column}",
                column,
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("pending_id", "reverses_id", "reference")
        ),
    )

    seq: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    pending_id: Mapped[str | None] = mapped_column(String(64))
    reverses_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    linked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(140))
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(64))
    debit_balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PendingTransfer(Base):
    """The state of a hold (a pending transfer): pending until posted, voided or expired."""

    __tablename__ = "pending_transfers"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'posted', 'voided', 'expired')", name="state"),
        Index("ix_pending_transfers_state_expires", "state", "expires_at"),
    )

    transfer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("transfers.id"), primary_key=True
    )
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[str] = mapped_column(String(8), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class RejectedTransfer(Base):
    """A transfer id that failed; retrying it with the same body gives the same failure."""

    __tablename__ = "rejected_transfers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    code: Mapped[str] = mapped_column(String(48), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class OutboundTransfer(Base):
    """A transfer to another bank, waiting in the clearing queue until settled or returned."""

    __tablename__ = "outbound_transfers"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'settled', 'returned')", name="status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    transfer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("transfers.id"), unique=True, nullable=False
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    payee_bank: Mapped[str] = mapped_column(String(64), nullable=False)
    payee_account_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payee_account_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    payee_account_masked: Mapped[str] = mapped_column(String(32), nullable=False)
    payee_name_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payee_name_masked: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", index=True)
    outcome_transfer_id: Mapped[str | None] = mapped_column(String(64))
    return_reason: Mapped[str | None] = mapped_column(String(200))
    # A recall the payer asked for: sent to the counterparty with the next clearing run.
    recall_status: Mapped[str | None] = mapped_column(String(16))  # requested | sent | returned
    recall_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
