"""finished attempt: a redelivered finish of a card's attempt records nothing twice

``tasks.finished_attempt`` is the last attempt whose result was recorded (its charge,
model calls and next state). Existing cards start at 0; a card that finished before
the upgrade is recorded once more only if its finish is redelivered after it. Added
under a lock timeout, as in 0003 and 0004.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "10s"


def _lock_timeout() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def upgrade() -> None:
    _lock_timeout()
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('finished_attempt', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    _lock_timeout()
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('finished_attempt')
