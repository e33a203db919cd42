"""topup_requests: an owner's request for credits, shown to the platform admin

A new tenant-owned table, with row-level security like the others (web4os/rls.py).

Revision ID: 0104_topup_requests
Revises: 0103_routines
Create Date: 2026-12-04 01:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_disable_statements, rls_enable_statements, rls_role_statements

revision: str = '0104_topup_requests'
down_revision: str | None = '0103_routines'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def upgrade() -> None:
    op.create_table('topup_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_topup_requests_account_id_accounts')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                            name=op.f('fk_topup_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topup_requests'))
    )
    with op.batch_alter_table('topup_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topup_requests_account_id'), ['account_id'],
                              unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_role_statements(_role()):  # grants the role DML on the new table
            op.execute(stmt)
        for stmt in rls_enable_statements("topup_requests", _role(), once_per_statement=True):
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_disable_statements("topup_requests"):
            op.execute(stmt)
    op.drop_table('topup_requests')
