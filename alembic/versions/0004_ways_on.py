"""ways on: a goal whose planning failed can be planned again with a fresh budget

``goals.plan_round_start`` is ``plan_attempts`` when the current round of planning
began: an operator's *plan again* starts a new round, with a fresh budget of tries,
while each attempt keeps its own credit key (so nothing is charged twice).
``goals.replans_allowed`` is how many re-plans the goal may use: one by itself, one
more each time the operator asks to plan a stuck goal again.

Both columns have a server default, so existing goals keep their behaviour (a round
that started at attempt 0, one re-plan). On Postgres adding a column with a constant
default changes only the catalogue, but it still needs the table to itself for a
moment: under a lock timeout, as in 0003, so a long transaction cannot make every
request queue behind the migration. If the timeout hits, run it again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "10s"


def _lock_timeout() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def upgrade() -> None:
    _lock_timeout()
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replans_allowed', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.add_column(sa.Column('plan_round_start', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    _lock_timeout()
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_column('plan_round_start')
        batch_op.drop_column('replans_allowed')
