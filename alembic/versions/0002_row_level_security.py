"""row-level security on tenant-owned tables (Postgres only)

The second wall behind ``tenancy.scoped()``: see web4os/tenancy.py for how
tenant, system and unbound transactions behave. A no-op on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:40:00
"""
from collections.abc import Sequence

from alembic import op
from web4os.config import get_settings
from web4os.rls import (
    rls_disable_statements,
    rls_enable_statements,
    rls_role_statements,
)

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table with an account_id that belongs to one tenant. web_sessions is the
# user's (its account_id is only "last viewed"), accounts is the tenant registry.
TENANT_TABLES = (
    "agents", "api_tokens", "credit_ledger", "goals", "invites", "memberships", "notes",
    "task_dependencies", "task_events", "tasks",
)


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in rls_role_statements(_role()):
        op.execute(stmt)
    for table in TENANT_TABLES:
        for stmt in rls_enable_statements(table, _role(), once_per_statement=False):
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        for stmt in rls_disable_statements(table):
            op.execute(stmt)
