"""tasks.waits: runs that stopped for the operator, which are not tries

Revision ID: 0109_task_waits
Revises: 0108_admin_tokens
Create Date: 2026-12-04 14:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0109_task_waits"
down_revision: str | None = "0108_admin_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("waits", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("waits")
