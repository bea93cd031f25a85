"""payments: the payee index ordered by time (a customer's last payments to a payee), and room
in each page for the status updates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_payee")
        batch_op.create_index(
            "ix_payments_payee", ["customer_id", "payee_hash", "created_at"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        # A payment's status changes after it is written, and no index holds the status any
        # more: room in each page keeps those updates HOT (no index writes).
        op.execute("ALTER TABLE payments SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE payments RESET (fillfactor)")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_payee")
        batch_op.create_index(
            "ix_payments_payee", ["customer_id", "payee_hash", "status"], unique=False
        )
