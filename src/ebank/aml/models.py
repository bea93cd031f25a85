"""Anti-money-laundering records: scans, typology alerts grouped into cases per customer, the
officers' notes, large-value transaction reports and suspicious transaction reports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ebank.db import ID, Base, UTCDateTime


class AmlScanRun(Base):
    """One run of ``ebank aml scan`` over a span of the bank's local days."""

    __tablename__ = "aml_scan_runs"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    first_day: Mapped[date] = mapped_column(Date, nullable=False)
    last_day: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(8), nullable=False)  # running | done | failed
    flows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    alerts_created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reports_created: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_by: Mapped[str] = mapped_column(String(64), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AmlCase(Base):
    """A customer's alerts, investigated together. One open case per customer at a time."""

    __tablename__ = "aml_cases"
    __table_args__ = (
        Index("ix_aml_cases_status", "status", "id"),
        # One open case per customer, whatever runs concurrently.
        Index(
            "uq_aml_cases_open_customer",
            "customer_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # open | dismissed | reported
    score: Mapped[float] = mapped_column(Float, nullable=False)
    typologies: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # E-banking suspended pending review (and when it was lifted).
    suspended_by: Mapped[str | None] = mapped_column(String(64))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_channels: Mapped[str | None] = mapped_column(Text)  # JSON list
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class AmlAlert(Base):
    """A typology's hit: who, when, how much, why, which transfers."""

    __tablename__ = "aml_alerts"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    # The same pattern found again by a later (overlapping) scan is the same alert.
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("aml_scan_runs.id"), nullable=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("aml_cases.id"), nullable=False, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    typology: Mapped[str] = mapped_column(String(32), nullable=False)
    first_day: Mapped[date] = mapped_column(Date, nullable=False)
    last_day: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    transfer_count: Mapped[int] = mapped_column(Integer, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    facts: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    members: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of account nodes
    transfer_ids: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AmlNote(Base):
    """An officer's note on a case (encrypted: notes name people)."""

    __tablename__ = "aml_notes"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("aml_cases.id"), nullable=False, index=True)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class LargeValueReport(Base):
    """A customer's movements of one day, one criterion and one direction at or above the
    large-value threshold, due to the regulator by ``deadline``."""

    __tablename__ = "aml_large_value_reports"
    __table_args__ = (Index("ix_aml_lvr_status_deadline", "status", "deadline"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("aml_scan_runs.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False, index=True)
    transaction_day: Mapped[date] = mapped_column(Date, nullable=False)
    criterion: Mapped[str] = mapped_column(String(32), nullable=False)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)  # in | out
    total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    largest: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    transfer_count: Mapped[int] = mapped_column(Integer, nullable=False)
    accounts: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    transfer_ids: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)  # due | filed
    report_ref: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    filed_by: Mapped[str | None] = mapped_column(String(64))
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SuspiciousReport(Base):
    """A suspicious transaction report on a case: drafted, reviewed by another officer, filed."""

    __tablename__ = "aml_suspicious_reports"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    report_ref: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("aml_cases.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # draft | reviewed | filed
    determined_on: Mapped[date] = mapped_column(Date, nullable=False)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    typologies: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    narrative_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    measures: Mapped[str] = mapped_column(String(500), nullable=False)
    prepared_by: Mapped[str] = mapped_column(String(64), nullable=False)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filed_by: Mapped[str | None] = mapped_column(String(64))
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
