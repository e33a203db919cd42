"""an account's data lifecycle: deletion after a grace period, and retention of history

Revision ID: 0101_data_lifecycle
Revises: 0100_budget_monthly
Create Date: 2026-12-04 01:35:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0101_data_lifecycle'
down_revision: str | None = '0100_budget_monthly'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deletion_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retention_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retention_checked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('retention_checked_at')
        batch_op.drop_column('retention_months')
        batch_op.drop_column('deletion_due_at')
