"""the built-in file reader: every account's built-in server carries ``read_file``

Accounts get the built-in server (``web4os``, the web fetch off) and its file reader when
they are made; this gives them to the accounts made before. An account holding an MCP
server named ``web4os`` from before the name was reserved is left alone (turning the web
fetch on asks its owner to rename it first).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 22:45:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As they are in this revision (the live module may change; this must not).
DESCRIPTION = (
    "Read one of the goal's files or the account's knowledge files by its name, one page "
    "(4,000 characters of its text) at a time; the answer says “page N of M”, so ask "
    "again for the next page.")
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "description": "The file's name, as listed."},
                   "page": {"type": "integer", "minimum": 1,
                            "description": "Which page, from 1."}},
    "required": ["name", "page"],
}

accounts = sa.table("accounts", sa.column("id", sa.Integer))
servers = sa.table("mcp_servers", sa.column("id", sa.Integer), sa.column("account_id", sa.Integer),
                   sa.column("name", sa.String), sa.column("url", sa.String),
                   sa.column("stdio_name", sa.String), sa.column("builtin", sa.String),
                   sa.column("enabled", sa.Boolean), sa.column("auth_header", sa.String),
                   sa.column("credential_encrypted", sa.Text), sa.column("status", sa.String),
                   sa.column("last_error", sa.Text), sa.column("listed_at", sa.DateTime(timezone=True)),
                   sa.column("created_at", sa.DateTime(timezone=True)))
tools = sa.table("mcp_tools", sa.column("account_id", sa.Integer),
                 sa.column("server_id", sa.Integer), sa.column("name", sa.String),
                 sa.column("description", sa.Text), sa.column("input_schema", sa.JSON),
                 sa.column("read_only", sa.Boolean), sa.column("destructive", sa.Boolean),
                 sa.column("listed_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    named = {a for (a,) in conn.execute(sa.select(servers.c.account_id)
                                        .where(servers.c.name == "web4os"))}
    for (account_id,) in conn.execute(sa.select(accounts.c.id)).all():
        if account_id in named:
            continue
        conn.execute(servers.insert().values(
            account_id=account_id, name="web4os", url="", stdio_name="", builtin="web4os",
            enabled=False, auth_header="", credential_encrypted="", status="ok",
            last_error="", listed_at=now, created_at=now))
    builtin = conn.execute(sa.select(servers.c.id, servers.c.account_id)
                           .where(servers.c.builtin != "")).all()
    have = {s for (s,) in conn.execute(sa.select(tools.c.server_id)
                                       .where(tools.c.name == "read_file"))}
    for server_id, account_id in builtin:
        if server_id not in have:
            conn.execute(tools.insert().values(
                account_id=account_id, server_id=server_id, name="read_file",
                description=DESCRIPTION, input_schema=SCHEMA, read_only=True,
                destructive=False, listed_at=now))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(tools.delete().where(tools.c.name == "read_file", tools.c.server_id.in_(
        sa.select(servers.c.id).where(servers.c.builtin != ""))))
    conn.execute(servers.delete().where(servers.c.builtin == "web4os", ~sa.exists().where(
        tools.c.server_id == servers.c.id)))
