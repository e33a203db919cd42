"""The schema comes from Alembic, and the models match it exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import TEST_DB_URL
from web4os.db import get_engine
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
