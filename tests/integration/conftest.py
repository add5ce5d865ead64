"""Fixtures for the scale-out tests that need PostgreSQL only (no SQLite twin)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from app import db as app_db
from tests.conftest import _as_app_role, _postgres_engine, _postgres_engine_admin


@pytest.fixture
def pg() -> Iterator[Engine]:
    """A migrated schema of its own in the machine's PostgreSQL; the app's engine."""
    schema = f"w_{uuid.uuid4().hex[:12]}"
    owner = _postgres_engine(schema)
    app_db.run_migrations(url=owner.url.render_as_string(hide_password=False))
    eng = _as_app_role(owner, schema)
    app_db.set_engine(eng)
    yield eng
    app_db.set_engine(None)
    eng.dispose()
    admin = _postgres_engine_admin()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
