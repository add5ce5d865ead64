"""What must be true before the app serves: a valid secret and an up-to-date schema."""

from __future__ import annotations

import logging

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db import ROOT, get_engine, run_migrations
from app.settings import SettingsError, get_settings, resolve_secret_key

log = logging.getLogger("chatconnect.startup")


def schema_is_current() -> bool:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with get_engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def prepare() -> None:
    settings = get_settings()
    resolve_secret_key(settings)  # raises SettingsError with a clear message
    if settings.is_embedded:
        # One process owns the SQLite file: migrating here is safe and saves a step.
        run_migrations(settings)
    elif not schema_is_current():
        # Several processes may start at once; migrations are a release step.
        raise SettingsError(
            "The database schema is not up to date. Run `python -m app.manage migrate` once "
            "before starting the app processes."
        )
