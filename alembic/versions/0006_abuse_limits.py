"""abuse limits: counted events for rate limits, verified emails, pending starting credits

``rate_events`` replaces ``login_attempts``: one table counts failed and successful
sign-ins, signups and verification emails, per subject (an email) and per client
address, so every web process applies the same limits (``accounts/throttle.py``). The
old rows only mattered for 15 minutes and are not carried over.

``users.email_verified_at`` is when the person opened a verification link (existing
users: never). ``accounts.starting_credits_pending`` marks a self-serve account whose
starting credits wait for that (existing accounts: none wait).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "10s"


def _lock_timeout() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def upgrade() -> None:
    _lock_timeout()
    op.create_table('rate_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_events'))
    )
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.create_index('ix_rate_events_kind_subject', ['kind', 'subject', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_rate_events_kind_address', ['kind', 'address', 'created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_rate_events_created_at'), ['created_at'],
                              unique=False)
    op.drop_table('login_attempts')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starting_credits_pending', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade() -> None:
    _lock_timeout()
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('starting_credits_pending')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempts_created_at'), ['created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempts_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempts_ip'), ['ip'], unique=False)
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_events_created_at'))
        batch_op.drop_index('ix_rate_events_kind_address')
        batch_op.drop_index('ix_rate_events_kind_subject')
    op.drop_table('rate_events')
