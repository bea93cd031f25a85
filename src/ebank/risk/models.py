"""The risk engine's records: alerts for the analysts' queue, rule-set and model versions,
blocked payees, and the security events the feature store is rebuilt from after a restart.

Payments are their own event log (the ``payments`` table); the other events the engine sees
(logins, security changes) are kept in ``risk_events``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ebank.db import ID, Base, UTCDateTime


class RiskAlert(Base):
    """A held or blocked payment, a risky payment left unauthorised, or a shadow rule's hit, for
    an analyst to look at."""

    __tablename__ = "risk_alerts"
    __table_args__ = (
        Index("ix_risk_alerts_status", "status", "id"),
        Index("ix_risk_alerts_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # hold|block|attempt|shadow
    status: Mapped[str] = mapped_column(
        String(10), nullable=False
    )  # open | released | voided | closed
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    payee_hash: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    rules: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of rule ids
    reasons: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of reason codes
    features: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    label: Mapped[str | None] = mapped_column(String(10))  # fraud | not_fraud
    labelled_by: Mapped[str | None] = mapped_column(String(64))
    labelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(200))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RiskRuleSetVersion(Base):
    """One version of the rule set: a draft until checked and promoted to shadow or live."""

    __tablename__ = "risk_rule_sets"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(String(8), nullable=False)  # draft|shadow|live|retired
    body: Mapped[str] = mapped_column(Text, nullable=False)  # the rule set as submitted
    note: Mapped[str] = mapped_column(String(200), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RiskModelVersion(Base):
    """A trained model with the window it learnt from and how well it did on held-out days."""

    __tablename__ = "risk_models"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # candidate | live | retired
    trained_from: Mapped[date] = mapped_column(Date, nullable=False)
    trained_to: Mapped[date] = mapped_column(Date, nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    frauds: Mapped[int] = mapped_column(Integer, nullable=False)
    metrics: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object
    body: Mapped[str] = mapped_column(Text, nullable=False)  # RiskModel.dump()
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BlockedPayee(Base):
    """A payee the bank refuses to pay (by the keyed hash of its account, never the number)."""

    __tablename__ = "risk_blocked_payees"

    payee_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    payee_masked: Mapped[str] = mapped_column(String(40), nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("risk_alerts.id"))
    blocked_by: Mapped[str] = mapped_column(String(64), nullable=False)
    blocked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RiskEventRecord(Base):
    """A login or security change as the engine saw it (payments are in ``payments``)."""

    __tablename__ = "risk_events"
    __table_args__ = (Index("ix_risk_events_at", "at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    device_id: Mapped[int | None] = mapped_column(BigInteger)
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
