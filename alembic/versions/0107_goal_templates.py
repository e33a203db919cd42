"""goal templates: a goal kept under a name to start again; routines may run one

A new tenant-owned table, with row-level security like the others (web4os/rls.py),
and ``routines.template_id``.

Revision ID: 0107_goal_templates
Revises: 0106_fair_share
Create Date: 2026-12-04 04:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_disable_statements, rls_enable_statements, rls_role_statements

revision: str = '0107_goal_templates'
down_revision: str | None = '0106_fair_share'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("archived_at IS NULL")


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def upgrade() -> None:
    op.create_table('goal_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('brief', sa.Text(), nullable=False),
    sa.Column('require_approval', sa.Boolean(), nullable=False),
    sa.Column('credit_cap', sa.Integer(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_goal_templates_account_id_accounts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                            name=op.f('fk_goal_templates_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_templates'))
    )
    with op.batch_alter_table('goal_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goal_templates_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index('uq_goal_templates_account_id_name_live', ['account_id', 'name'],
                              unique=True, sqlite_where=LIVE, postgresql_where=LIVE)
    with op.batch_alter_table('routines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_routines_template_id_goal_templates'),
                                    'goal_templates', ['template_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_routines_template_id'), ['template_id'],
                              unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_role_statements(_role()):  # grants the role DML on the new table
            op.execute(stmt)
        for stmt in rls_enable_statements('goal_templates', _role(), once_per_statement=True):
            op.execute(stmt)


def downgrade() -> None:
    with op.batch_alter_table('routines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routines_template_id'))
        batch_op.drop_constraint(batch_op.f('fk_routines_template_id_goal_templates'),
                                 type_='foreignkey')
        batch_op.drop_column('template_id')
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls_disable_statements('goal_templates'):
            op.execute(stmt)
    op.drop_table('goal_templates')
