"""cheaper tenant reads: row-level-security settings read once per statement; a goal's
latest events from an index

The policies now read the bound account (and the role check) in scalar subqueries:
Postgres evaluates them once per statement instead of once per row, and can use them in
index conditions. Same rows visible as before. ``task_events`` gets a (goal_id, id)
index in place of the one on goal_id alone: the board's activity feed reads a goal's
15 latest events without sorting the goal's whole history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:40:00
"""
from collections.abc import Sequence

from alembic import op
from web4os.config import get_settings
from web4os.tenancy import forget_role_checks, rls_enable_statements

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "agents", "api_tokens", "credit_ledger", "goals", "invites", "memberships", "notes",
    "task_dependencies", "task_events", "tasks",
)


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def _old_policies(table: str) -> list[str]:
    """The policies as 0002 first made them (per-row settings), for the downgrade."""
    role = _role().replace("'", "''")
    account = "NULLIF(current_setting('web4os.account_id', true), '')::integer"
    only_tenant = f"current_user <> '{role}' OR account_id = {account}"
    stmts = [f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
             f'CREATE POLICY tenant_isolation ON "{table}" USING ({only_tenant}) '
             f"WITH CHECK ({only_tenant})"]
    if table == "memberships":
        user = "NULLIF(current_setting('web4os.user_id', true), '')::integer"
        stmts += ['DROP POLICY IF EXISTS own_memberships ON "memberships"',
                  f'CREATE POLICY own_memberships ON "memberships" FOR SELECT '
                  f"USING (user_id = {user})"]
    return stmts


def upgrade() -> None:
    with op.batch_alter_table('task_events', schema=None) as batch_op:
        batch_op.create_index('ix_task_events_goal_id_id', ['goal_id', 'id'], unique=False)
        batch_op.drop_index('ix_task_events_goal_id')
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        for stmt in rls_enable_statements(table, _role()):
            op.execute(stmt)
    forget_role_checks()


def downgrade() -> None:
    with op.batch_alter_table('task_events', schema=None) as batch_op:
        batch_op.create_index('ix_task_events_goal_id', ['goal_id'], unique=False)
        batch_op.drop_index('ix_task_events_goal_id_id')
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        for stmt in _old_policies(table):
            op.execute(stmt)
