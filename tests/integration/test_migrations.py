"""The Alembic history builds exactly the schema of app.models, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.models import TENANT_TABLES


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []


def test_every_tenant_table_has_indexed_tenant_and_timestamps(engine: Engine) -> None:
    inspector = inspect(engine)
    for model in TENANT_TABLES:
        table = model.__tablename__
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert {"tenant_id", "created_at", "updated_at"} <= columns, table
        indexed = {col for ix in inspector.get_indexes(table) for col in ix["column_names"]}
        indexed |= {
            col for uq in inspector.get_unique_constraints(table) for col in uq["column_names"][:1]
        }
        assert "tenant_id" in indexed, table
