"""the built-in web fetch tool: built-in servers and an account's on/off switch

An account's built-in tools live in ``mcp_servers`` like its MCP servers (so policies,
recorded calls and approvals are the same), marked by ``builtin``; ``enabled`` is the
account's switch (web fetch is off until an owner turns it on). The table already has
row-level security (0005).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 22:05:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('mcp_servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('builtin', sa.String(length=40), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('enabled', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('mcp_servers', schema=None) as batch_op:
        batch_op.drop_column('enabled')
        batch_op.drop_column('builtin')
