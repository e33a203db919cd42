"""cheaper tenant reads: row-level-security settings read once per statement; a goal's
latest events from an index

The policies now read the bound account (and the role check) in scalar subqueries:
Postgres works them out once per statement (InitPlans) instead of once per row it
looks at. The same rows are visible as before. ``task_events`` gets a (goal_id, id)
index in place of the one on goal_id alone, so a goal's latest events (the board's
activity feed) can be read from the index's end without sorting the goal's history.

On Postgres the index is built ``CONCURRENTLY`` (outside the migration's transaction:
writes to the events go on meanwhile), and the policies are replaced under a lock
timeout: each ``CREATE POLICY`` needs its table to itself for a moment, and a migration
that waited behind a long transaction would hold up every request queued behind it.
If the timeout hits, the migration stops with the error and can simply be run again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:40:00
"""
from collections.abc import Sequence

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_enable_statements

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0002's tables, copied on purpose rather than shared: what a migration touches must
# stay as it was written, whatever tables later migrations add.
TENANT_TABLES = (
    "agents", "api_tokens", "credit_ledger", "goals", "invites", "memberships", "notes",
    "task_dependencies", "task_events", "tasks",
)
LOCK_TIMEOUT = "10s"


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def _swap_index(create: tuple[str, list[str]], drop: str) -> None:
    """Create one index on task_events and drop another (concurrently on Postgres)."""
    name, columns = create
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table('task_events', schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
            batch_op.drop_index(drop)
        return
    with op.get_context().autocommit_block():
        # A run stopped half-way may have left it behind, perhaps invalid: build it anew.
        op.drop_index(name, table_name='task_events', postgresql_concurrently=True,
                      if_exists=True)
        op.create_index(name, 'task_events', columns, unique=False,
                        postgresql_concurrently=True)
        op.drop_index(drop, table_name='task_events', postgresql_concurrently=True,
                      if_exists=True)


def _policies(once_per_statement: bool) -> None:
    op.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    for table in TENANT_TABLES:
        for stmt in rls_enable_statements(table, _role(),
                                          once_per_statement=once_per_statement):
            op.execute(stmt)


def upgrade() -> None:
    _swap_index(('ix_task_events_goal_id_id', ['goal_id', 'id']), 'ix_task_events_goal_id')
    if op.get_bind().dialect.name == "postgresql":
        _policies(once_per_statement=True)


def downgrade() -> None:
    _swap_index(('ix_task_events_goal_id', ['goal_id']), 'ix_task_events_goal_id_id')
    if op.get_bind().dialect.name == "postgresql":
        _policies(once_per_statement=False)
