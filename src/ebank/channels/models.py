"""Channel enrolments with their signed accounts, payees, payments and recall requests.

Payee account numbers and names are personal data: encrypted, with a keyed hash and a masked copy.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ebank.db import ID, Base, UTCDateTime


class ChannelEnrolment(Base):
    """A customer's service in one channel (online, mobile, phone, tv) and its contract limits."""

    __tablename__ = "channel_enrolments"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # active | suspended | closed
    status_reason: Mapped[str | None] = mapped_column(String(200))
    registered_via: Mapped[str] = mapped_column(
        String(12), nullable=False
    )  # counter | self_service
    per_transaction_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    daily_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    yearly_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SignedAccount(Base):
    """An account signed to a channel enrolment, with the functions it may use there."""

    __tablename__ = "signed_accounts"
    __table_args__ = (UniqueConstraint("enrolment_id", "account_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("channel_enrolments.id"), nullable=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False, index=True)
    can_query: Mapped[bool] = mapped_column(Boolean, nullable=False)
    can_transfer: Mapped[bool] = mapped_column(Boolean, nullable=False)
    can_pay: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Payee(Base):
    """A saved payee. For an account of this bank the name was checked against the account."""

    __tablename__ = "payees"
    __table_args__ = (
        UniqueConstraint("customer_id", "account_hash"),
        Index("ix_payees_customer", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    name_masked: Mapped[str] = mapped_column(String(64), nullable=False)
    account_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    account_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    account_masked: Mapped[str] = mapped_column(String(40), nullable=False)
    bank_code: Mapped[str] = mapped_column(String(64), nullable=False)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False)
    trusted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    nickname: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # active | deleted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Payment(Base):
    """A payment order through its life: draft → confirmed → authorised → executed (or held,
    blocked, failed, cancelled). ``version`` changes with every edit; a challenge is bound to the
    payment's digest, so an edit invalidates it."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("customer_id", "request_id"),
        Index("ix_payments_customer", "customer_id", "created_at"),
        Index("ix_payments_payee", "customer_id", "payee_hash", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False)
    body_hash: Mapped[str] = mapped_column(String(32), nullable=False)  # the request as first sent
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    session_id: Mapped[int | None] = mapped_column(BigInteger)
    device_id: Mapped[int | None] = mapped_column(BigInteger)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    payee_id: Mapped[int | None] = mapped_column(ForeignKey("payees.id"))
    payee_name_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payee_name_masked: Mapped[str] = mapped_column(String(64), nullable=False)
    payee_account_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payee_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    payee_account_masked: Mapped[str] = mapped_column(String(40), nullable=False)
    payee_bank: Mapped[str] = mapped_column(String(64), nullable=False)
    payee_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    payee_verified: Mapped[bool] = mapped_column(Boolean, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    purpose: Mapped[str | None] = mapped_column(String(140))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    warnings: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    warnings_acknowledged: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    exemption: Mapped[str | None] = mapped_column(String(16))
    risk_outcome: Mapped[str | None] = mapped_column(String(10))
    risk_reasons: Mapped[str | None] = mapped_column(Text)
    risk_score: Mapped[float | None] = mapped_column(Float)
    risk_evidence: Mapped[str | None] = mapped_column(Text)  # JSON, when not plainly allowed
    risk_assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its event time
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # the risk engine's key for the IP
    strength: Mapped[str | None] = mapped_column(String(20))
    factors: Mapped[str | None] = mapped_column(String(64))
    transfer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Recall(Base):
    """A customer's request to recall an erroneous transfer (scenario S6)."""

    __tablename__ = "recalls"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    route: Mapped[str] = mapped_column(String(10), nullable=False)  # in_bank | clearing
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    held_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    hold_transfer_id: Mapped[str | None] = mapped_column(String(64))
    outbound_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
