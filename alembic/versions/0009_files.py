"""files: goal attachments and account knowledge (bytes live in the store)

A new tenant-owned table, with row-level security like the others (web4os/rls.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_disable_statements, rls_enable_statements, rls_role_statements

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def upgrade() -> None:
    op.create_table('files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('unreadable_reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_files_account_id_accounts')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_files_goal_id_goals')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_files_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_files_storage_key'))
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_files_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_files_account_id_goal_id', ['account_id', 'goal_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_role_statements(_role()):  # grants the role DML on the new table
            op.execute(stmt)
        for stmt in rls_enable_statements("files", _role(), once_per_statement=True):
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_disable_statements("files"):
            op.execute(stmt)
    op.drop_table('files')
