"""payments: the payee index ordered by time (a customer's last payments to a payee)

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


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_payee")
        batch_op.create_index(
            "ix_payments_payee", ["customer_id", "payee_hash", "status"], unique=False
        )
