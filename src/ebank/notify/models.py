"""The notification outbox: written in the transaction of the change it reports, delivered after
the commit (and retried by the worker), kept as the customer's inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ebank.db import ID, Base, UTCDateTime


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_customer", "customer_id", "id"),
        Index("ix_notifications_pending", "status", "id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    params_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    locale: Mapped[str] = mapped_column(String(8), nullable=False)
    inbox: Mapped[bool] = mapped_column(Boolean, nullable=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    recipient_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recipient_masked: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A sender has it until then: the gateway is called outside any transaction.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
