"""notifications: the record, read state, members' choices, the mail outbox; the
account's low-credit threshold

New tenant-owned tables, with row-level security like the others (web4os/rls.py).

Revision ID: 0105_notifications
Revises: 0104_topup_requests
Create Date: 2026-12-04 01:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_disable_statements, rls_enable_statements, rls_role_statements

revision: str = '0105_notifications'
down_revision: str | None = '0104_topup_requests'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("notifications", "notification_reads", "notification_settings", "notification_mails")


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def _account(table: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column('account_id', sa.Integer(),
                     sa.ForeignKey('accounts.id', name=f'fk_{table}_account_id_accounts'),
                     nullable=False)


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('low_credit_threshold', sa.Integer(), nullable=False,
                                      server_default='100'))
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    _account('notifications'),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('once_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_notifications_goal_id_goals')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_notifications_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('account_id', 'once_key', name=op.f('uq_notifications_account_id'))
    )
    op.create_table('notification_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    _account('notification_reads'),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_reads_user_id_users')),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_notification_reads_notification_id_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_reads')),
    sa.UniqueConstraint('user_id', 'notification_id', name=op.f('uq_notification_reads_user_id'))
    )
    op.create_table('notification_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    _account('notification_settings'),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('mail_events', sa.JSON(), nullable=True),
    sa.Column('digest_minutes', sa.Integer(), nullable=False),
    sa.Column('last_mailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_up_to', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_settings_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_settings')),
    sa.UniqueConstraint('account_id', 'user_id', name=op.f('uq_notification_settings_account_id'))
    )
    op.create_table('notification_mails',
    sa.Column('id', sa.Integer(), nullable=False),
    _account('notification_mails'),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sending', 'sent', 'failed', name='notification_mail_state', native_enum=False, length=20), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_mails_user_id_users')),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_notification_mails_notification_id_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_mails')),
    sa.UniqueConstraint('user_id', 'notification_id', name=op.f('uq_notification_mails_user_id'))
    )
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_account_id'), ['account_id'], unique=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_account_id_id', ['account_id', 'id'], unique=False)
    with op.batch_alter_table('notification_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_reads_notification_id'), ['notification_id'], unique=False)
    with op.batch_alter_table('notification_mails', schema=None) as batch_op:
        batch_op.create_index('ix_notification_mails_state_account_id', ['state', 'account_id'], unique=False)
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
    for table in reversed(TABLES):
        op.drop_table(table)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('low_credit_threshold')
