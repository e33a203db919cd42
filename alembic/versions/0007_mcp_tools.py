"""mcp servers, their tools, per-agent tool policies

Three tenant-owned tables, each with row-level security on Postgres like those of 0002
(see web4os/tenancy.py); a no-op for RLS on SQLite.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 21:15:17.349199
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from web4os.config import get_settings
from web4os.rls import rls_disable_statements, rls_enable_statements, rls_role_statements


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("mcp_servers", "mcp_tools", "agent_tool_policies", "tool_calls")


def _role() -> str:
    return get_settings().tenant_db_role or "web4os_app"


def _enable_rls() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in rls_role_statements(_role()):  # grants on the new tables too
        op.execute(stmt)
    for table in TENANT_TABLES:
        for stmt in rls_enable_statements(table, _role(), once_per_statement=True):
            op.execute(stmt)


def upgrade() -> None:
    op.create_table('mcp_servers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('stdio_name', sa.String(length=60), nullable=False),
    sa.Column('auth_header', sa.String(length=80), nullable=False),
    sa.Column('credential_encrypted', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('new', 'ok', 'error', name='mcp_server_status', native_enum=False, length=20), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mcp_servers_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_servers')),
    sa.UniqueConstraint('account_id', 'name', name=op.f('uq_mcp_servers_account_id'))
    )
    with op.batch_alter_table('mcp_servers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mcp_servers_account_id'), ['account_id'], unique=False)

    op.create_table('mcp_tools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('server_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('input_schema', sa.JSON(), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('destructive', sa.Boolean(), nullable=False),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mcp_tools_account_id_accounts')),
    sa.ForeignKeyConstraint(['server_id'], ['mcp_servers.id'], name=op.f('fk_mcp_tools_server_id_mcp_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_tools')),
    sa.UniqueConstraint('server_id', 'name', name=op.f('uq_mcp_tools_server_id'))
    )
    with op.batch_alter_table('mcp_tools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mcp_tools_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mcp_tools_server_id'), ['server_id'], unique=False)

    op.create_table('agent_tool_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=False),
    sa.Column('policy', sa.Enum('allowed', 'ask', 'off', name='tool_policy', native_enum=False, length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_agent_tool_policies_account_id_accounts')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_tool_policies_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tool_id'], ['mcp_tools.id'], name=op.f('fk_agent_tool_policies_tool_id_mcp_tools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_tool_policies')),
    sa.UniqueConstraint('agent_id', 'tool_id', name=op.f('uq_agent_tool_policies_agent_id'))
    )
    with op.batch_alter_table('agent_tool_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_tool_policies_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_tool_policies_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_tool_policies_tool_id'), ['tool_id'], unique=False)

    op.create_table('tool_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=True),
    sa.Column('server_name', sa.String(length=60), nullable=False),
    sa.Column('tool_name', sa.String(length=120), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('status', sa.Enum('awaiting', 'approved', 'started', 'done', 'failed', 'denied', 'in_doubt', name='tool_call_status', native_enum=False, length=20), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('credits', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_tool_calls_account_id_accounts')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_tool_calls_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tool_id'], ['mcp_tools.id'], name=op.f('fk_tool_calls_tool_id_mcp_tools'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tool_calls')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_tool_calls_idempotency_key'))
    )
    with op.batch_alter_table('tool_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tool_calls_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tool_calls_task_id'), ['task_id'], unique=False)

    _enable_rls()



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            for stmt in rls_disable_statements(table):
                op.execute(stmt)
    with op.batch_alter_table('tool_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tool_calls_task_id'))
        batch_op.drop_index(batch_op.f('ix_tool_calls_account_id'))

    op.drop_table('tool_calls')
    with op.batch_alter_table('agent_tool_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_tool_policies_tool_id'))
        batch_op.drop_index(batch_op.f('ix_agent_tool_policies_agent_id'))
        batch_op.drop_index(batch_op.f('ix_agent_tool_policies_account_id'))

    op.drop_table('agent_tool_policies')
    with op.batch_alter_table('mcp_tools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mcp_tools_server_id'))
        batch_op.drop_index(batch_op.f('ix_mcp_tools_account_id'))

    op.drop_table('mcp_tools')
    with op.batch_alter_table('mcp_servers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mcp_servers_account_id'))

    op.drop_table('mcp_servers')
