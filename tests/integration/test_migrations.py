"""The schema comes from Alembic, and the models match it exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from alembic import command
from tests.conftest import IS_POSTGRES, TEST_DB_URL
from web4os.db import get_engine
from web4os.migrate import alembic_config, upgrade
from web4os.models import Base


def test_alembic_head_matches_the_models() -> None:
    engine = get_engine(TEST_DB_URL)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_tenant_table_has_an_indexed_account_id() -> None:
    inspector = inspect(get_engine(TEST_DB_URL))
    for table in Base.metadata.sorted_tables:
        if "account_id" not in table.c or table.name in ("web_sessions",):
            continue
        col = table.c.account_id
        assert not col.nullable, f"{table.name}.account_id must be NOT NULL"
        indexed = any(ix["column_names"][:1] == ["account_id"]
                      for ix in inspector.get_indexes(table.name))
        assert indexed, f"{table.name}.account_id needs an index"


def test_the_latest_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    """The latest migrations can be undone: down to 0002 and up again (SQLite: on a
    database of its own) gives back exactly the models' schema, and on Postgres the
    policies in their current form."""
    url = TEST_DB_URL if IS_POSTGRES else f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    if not IS_POSTGRES:
        upgrade(url)
    config = alembic_config(url)
    engine = get_engine(url)
    try:
        command.downgrade(config, "0008")  # the files table goes
        with engine.connect() as conn:
            assert "files" not in inspect(conn).get_table_names()
        command.downgrade(config, "0007")  # the built-in tools' columns go
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("mcp_servers")}
        assert "name" in columns and not columns & {"builtin", "enabled"}
        command.downgrade(config, "0006")  # the MCP registry's tables go
        with engine.connect() as conn:
            assert not {"mcp_servers", "mcp_tools", "agent_tool_policies", "tool_calls"} & set(
                inspect(conn).get_table_names())
        command.downgrade(config, "0005")
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            user_columns = {c["name"] for c in inspect(conn).get_columns("users")}
        assert "login_attempts" in tables and "rate_events" not in tables
        assert "email_verified_at" not in user_columns
        command.downgrade(config, "0004")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("tasks")}
        assert "attempts" in columns and "finished_attempt" not in columns
        command.downgrade(config, "0003")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("goals")}
        assert "plan_attempts" in columns
        assert not columns & {"plan_round_start", "replans_allowed"}
        command.downgrade(config, "0002")  # and the one before, whose index swap has a way back
        with engine.connect() as conn:
            indexes = {ix["name"] for ix in inspect(conn).get_indexes("task_events")}
        assert "ix_task_events_goal_id" in indexes and "ix_task_events_goal_id_id" not in indexes
    finally:
        command.upgrade(config, "head")
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
        if IS_POSTGRES:
            policies: dict[str, str] = dict(conn.execute(text(
                "SELECT tablename, qual FROM pg_policies WHERE policyname = 'tenant_isolation'")
            ).all())
            assert policies["tasks"] and "SELECT" in policies["tasks"]
    if not IS_POSTGRES:
        engine.dispose()  # the scratch file's pool


def test_older_accounts_get_the_file_reader(tmp_path: Path) -> None:
    """0010 gives every account made before it the built-in server and its file reader,
    beside a web fetch that was on, and leaves an account's own ``web4os`` server alone."""
    url = f"sqlite:///{tmp_path / 'backfill.sqlite3'}"
    config = alembic_config(url)
    engine = get_engine(url)
    try:
        command.upgrade(config, "0009")
        with engine.begin() as conn:
            for n in (1, 2, 3):
                conn.execute(text(
                    "INSERT INTO accounts (id, name, kind, status, credit_balance, plan_notes, "
                    "starting_credits_pending, created_at) VALUES (:n, :name, 'individual', "
                    "'active', 0, '', false, CURRENT_TIMESTAMP)"), {"n": n, "name": f"A{n}"})
            for account, builtin in ((2, "web_fetch"), (3, "")):
                conn.execute(text(
                    "INSERT INTO mcp_servers (account_id, name, url, stdio_name, builtin, "
                    "enabled, auth_header, credential_encrypted, status, last_error, "
                    "created_at) VALUES (:a, 'web4os', '', '', :b, true, '', '', 'ok', '', "
                    "CURRENT_TIMESTAMP)"), {"a": account, "b": builtin})
        command.upgrade(config, "0010")
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT s.account_id, s.builtin, s.enabled, t.name FROM mcp_servers s "
                "LEFT JOIN mcp_tools t ON t.server_id = s.id ORDER BY s.account_id")).all()
        assert [tuple(r) for r in rows] == [(1, "web4os", False, "read_file"),
                                            (2, "web_fetch", True, "read_file"),
                                            (3, "", True, None)]
        command.downgrade(config, "0009")
        with engine.connect() as conn:
            left = conn.execute(text("SELECT account_id FROM mcp_servers ORDER BY 1")).all()
        assert [r[0] for r in left] == [2, 3]
    finally:
        engine.dispose()
