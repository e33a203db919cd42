"""files a specialist made: ``files.task_id`` names the card whose deliverable carried them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 22:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_files_task_id_tasks'), 'tasks', ['task_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_files_task_id_tasks'), type_='foreignkey')
        batch_op.drop_column('task_id')
