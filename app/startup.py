"""What must be true before the app serves: a valid secret and an up-to-date schema."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db import ROOT, get_engine, run_migrations
from app.settings import Settings, SettingsError, get_settings, resolve_secret_key

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


def _data_line(settings: Settings) -> str:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        database = f"SQLite in {settings.data_dir.resolve()}"
    else:
        parts = urlsplit(url)
        database = f"PostgreSQL at {parts.hostname or 'localhost'}{parts.path}"
    vectors = (
        f"Qdrant at {urlsplit(settings.qdrant_url).netloc}"
        if settings.qdrant_url
        else f"Qdrant Edge in {settings.qdrant_path.resolve()}"
    )
    return f"{database}; {vectors}; uploads in {settings.files_dir.resolve()}"


def _answers_line(settings: Settings) -> str:
    instance = [
        name
        for name, key in (
            ("OpenAI", settings.openai_api_key),
            ("Anthropic", settings.anthropic_api_key),
        )
        if key is not None and key.get_secret_value()
    ]
    if instance:
        return f"{' and '.join(instance)} (instance key); workspaces can add their own"
    return (
        "offline: quoted passages from your documents. Connect OpenAI, Anthropic, Gemini "
        "or Ollama in Settings > AI providers"
    )


def banner(settings: Settings) -> str:
    """What a newcomer needs after `make run`: where to go, where data lives, which answers."""
    base = settings.public_url
    rows = [
        ("Open", f"{base}/signup"),
        ("Embed demo", f"{base}/embed/demo.html?widget=<your widget id>"),
        ("Data", _data_line(settings)),
        ("Answers", _answers_line(settings)),
    ]
    width = max(len(label) for label, _ in rows)
    lines = ["", "ChatConnect is running"]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join([*lines, ""])
