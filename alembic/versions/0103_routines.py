"""routines: goals on a schedule, and their runs (started, skipped, failed)

Two tenant-owned tables, with row-level security like the others (web4os/rls.py).

Revision ID: 0103_routines
Revises: 0102_webhooks
Create Date: 2026-12-04 01:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_disable_statements, rls_enable_statements, rls_role_statements

revision: str = '0103_routines'
down_revision: str | None = '0102_webhooks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("routines", "routine_runs")


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def upgrade() -> None:
    op.create_table('routines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('brief', sa.Text(), nullable=False),
    sa.Column('require_approval', sa.Boolean(), nullable=False),
    sa.Column('credit_cap', sa.Integer(), nullable=True),
    sa.Column('preset', sa.String(length=20), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('missed_policy', sa.Enum('skip', 'run_once', name='routine_missed_policy',
                                       native_enum=False, length=20), nullable=False),
    sa.Column('overlap_policy', sa.Enum('skip', 'start', name='routine_overlap_policy',
                                        native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('active', 'paused', 'archived', name='routine_status',
                                native_enum=False, length=20), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_routines_account_id_accounts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                            name=op.f('fk_routines_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routines'))
    )
    with op.batch_alter_table('routines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routines_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_routines_status_next_run_at', ['status', 'next_run_at'],
                              unique=False)
    op.create_table('routine_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('routine_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('started', 'skipped', 'failed', name='routine_run_outcome',
                                 native_enum=False, length=20), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_routine_runs_account_id_accounts')),
    sa.ForeignKeyConstraint(['routine_id'], ['routines.id'],
                            name=op.f('fk_routine_runs_routine_id_routines')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'],
                            name=op.f('fk_routine_runs_goal_id_goals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routine_runs')),
    sa.UniqueConstraint('routine_id', 'due_at', name=op.f('uq_routine_runs_routine_id'))
    )
    with op.batch_alter_table('routine_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routine_runs_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_routine_runs_goal_id'), ['goal_id'], unique=False)
        batch_op.create_index('ix_routine_runs_routine_id_id', ['routine_id', 'id'],
                              unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_role_statements(_role()):  # grants the role DML on the new tables
            op.execute(stmt)
        for table in TABLES:
            for stmt in rls_enable_statements(table, _role(), once_per_statement=True):
                op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for stmt in rls_disable_statements(table):
                op.execute(stmt)
    op.drop_table('routine_runs')
    op.drop_table('routines')
