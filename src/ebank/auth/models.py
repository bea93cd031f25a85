"""Sessions, customer credentials and authentication tools.

Secrets are never stored in the clear: passwords and PINs as argon2id hashes, token seeds and the
CA key encrypted (AES-GCM, ``common/crypto.py``), one-time codes as keyed hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
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


class AuthSession(Base):
    """A logged-in session. Only a SHA-256 of the bearer token is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    csrf_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    principal_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    principal_id: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    role: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    idle_timeout_s: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("customer_devices.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    factors: Mapped[str | None] = mapped_column(String(64))


class CustomerCredential(Base):
    """A customer's e-banking login: login name, login and transaction passwords, and the one
    failure counter every factor shares (RTS Art. 4: five failures block)."""

    __tablename__ = "customer_credentials"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    login_name: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    login_password_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    transaction_password_hash: Mapped[str | None] = mapped_column(String(128))
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_full_auth_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last strong login
    exempt_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    exempt_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CardPin(Base):
    """The PIN of a bank card (an account), set at the counter; proves possession of the card at
    self-service registration."""

    __tablename__ = "card_pins"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AuthTool(Base):
    """An authentication tool: e-token (TOTP/HOTP), USB key (certificate) or passkey."""

    __tablename__ = "auth_tools"
    __table_args__ = (Index("ix_auth_tools_customer", "customer_id", "status"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # totp | hotp | usbkey | passkey
    serial: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    voucher_no: Mapped[str | None] = mapped_column(String(24))
    label: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    counter: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    drift_steps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    certificate_serial: Mapped[str | None] = mapped_column(String(40), unique=True)
    certificate_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credential_id: Mapped[str | None] = mapped_column(String(512), unique=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    fail_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("auth_tools.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthChallenge(Base):
    """One authentication challenge, bound (``linked_digest``) to what it authorises: a login, a
    payment's amount and payee, or a security change. Any change to the subject changes the digest
    and the challenge no longer verifies (dynamic linking)."""

    __tablename__ = "auth_challenges"
    __table_args__ = (Index("ix_auth_challenges_customer", "customer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str] = mapped_column(String(64), nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    tool_id: Mapped[int | None] = mapped_column(ForeignKey("auth_tools.id"))
    linked_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # open | used | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CustomerDevice(Base):
    """A device a customer has used; sessions are bound to one. Only a keyed hash of the device
    identifier is kept."""

    __tablename__ = "customer_devices"
    __table_args__ = (UniqueConstraint("customer_id", "device_hash"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    device_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # active | revoked
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BankAuthority(Base):
    """The bank's own certificate authority for USB keys (one row); its key is encrypted."""

    __tablename__ = "bank_authority"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    certificate_pem: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
