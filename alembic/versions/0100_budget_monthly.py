"""monthly budgets per account and per agent, with a once-a-month warning

Revision ID: 0100_budget_monthly
Revises: 0012
Create Date: 2026-12-04 01:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0100_budget_monthly'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_budget', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('budget_warn_percent', sa.Integer(), nullable=False,
                                      server_default='80'))
        batch_op.add_column(sa.Column('budget_warned', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('budget_month', sa.String(length=7), nullable=True))
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_budget', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('budget_warned', sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('budget_warned')
        batch_op.drop_column('monthly_budget')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('budget_month')
        batch_op.drop_column('budget_warned')
        batch_op.drop_column('budget_warn_percent')
        batch_op.drop_column('monthly_budget')
