"""the scheduler's knobs: an account's running cap and share weight, a goal's urgent flag

Revision ID: 0106_fair_share
Revises: 0105_notifications
Create Date: 2026-12-04 01:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0106_fair_share"
down_revision: str | None = "0105_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_running", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("share_weight", sa.Integer(), nullable=False,
                                      server_default="1"))
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_column("urgent")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("share_weight")
        batch_op.drop_column("max_running")
