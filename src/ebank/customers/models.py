"""Customers (individuals and companies), their ID documents and KYC profile.

Personal data is stored encrypted (``*_enc``, AES-GCM) with a keyed hash (``*_hash``) to find it and
a masked form (``*_masked``) to show it without decrypting.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ebank.db import ID, Base, UTCDateTime


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("kind IN ('individual', 'company')", name="kind"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        CheckConstraint("risk_rating IN ('low', 'medium', 'high')", name="risk_rating"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    name_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name_masked: Mapped[str] = mapped_column(String(64), nullable=False)
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_date_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    nationality: Mapped[str] = mapped_column(String(3), nullable=False, default="CHN")
    mobile_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    mobile_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    mobile_masked: Mapped[str] = mapped_column(String(16), nullable=False)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # KYC profile (used by AML): occupation for people, business scope and capital for companies.
    occupation: Mapped[str | None] = mapped_column(String(100))
    business_scope: Mapped[str | None] = mapped_column(String(500))
    registered_capital: Mapped[int | None] = mapped_column(BigInteger)
    expected_monthly_turnover: Mapped[int | None] = mapped_column(BigInteger)
    kyc_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    legal_representative_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    legal_representative_masked: Mapped[str | None] = mapped_column(String(64))
    vulnerable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    vulnerable_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    risk_rating: Mapped[str] = mapped_column(String(8), nullable=False, default="low")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_with_document_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "customer_documents.id", use_alter=True, name="fk_customers_created_with_document"
        )
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class CustomerIdentity(Base):
    """An identity number and the one customer it belongs to. A resident ID card and a temporary
    ID card carry the same number, so they share one identity: both may be the same customer's,
    never two customers'."""

    __tablename__ = "customer_identities"

    identity_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CustomerDocument(Base):
    """An identity document a customer has shown. A customer can hold several; a document number
    belongs to one customer only."""

    __tablename__ = "customer_documents"
    __table_args__ = (
        UniqueConstraint("doc_type", "number_hash", name="uq_customer_documents_type_number"),
        CheckConstraint("status IN ('active', 'expired', 'revoked')", name="status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    doc_type: Mapped[str] = mapped_column(String(24), nullable=False)
    number_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    number_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    number_masked: Mapped[str] = mapped_column(String(32), nullable=False)
    issuing_country: Mapped[str] = mapped_column(String(3), nullable=False, default="CHN")
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    verified_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
