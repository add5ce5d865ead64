"""The only place configuration and secrets are read.

Every value comes from the environment (or a `.env` file). Defaults give the embedded,
one-process shape: SQLite and a Qdrant Edge shard under DATA_DIR, local embeddings and
the offline answerer. Setting DATABASE_URL / REDIS_URL / QDRANT_URL switches to the
scale-out shape, where a real SECRET_KEY is mandatory.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
# Values people paste from tutorials; refused even when long enough.
_WEAK_SECRETS = {"changeme", "change-me", "secret", "password", "dev", "development", "test"}
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)


class SettingsError(RuntimeError):
    """Configuration that must not be started with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    data_dir: Path = Field(default=Path("data"), description="Where embedded data lives.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite at DATA_DIR/chatconnect.db."
    )
    qdrant_url: str | None = Field(
        default=None, description="Qdrant server URL; default an in-process Edge shard."
    )
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = "chatconnect_chunks"
    redis_url: str | None = Field(default=None, description="Redis for state, caches, limits.")
    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:3000"
    port: int = 3000
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None  # Gemini's native API; None = Google's endpoint
    max_upload_mb: int = Field(default=25, ge=1, le=1024)
    embedding_provider: Literal["local", "openai"] = "local"
    openai_embedding_model: str = "text-embedding-3-small"
    log_level: str = "INFO"
    # Argon2id: OWASP minimum is m=19 MiB, t=2, p=1; 46 MiB, t=2 verifies in ~60-120 ms here.
    argon2_memory_kib: int = Field(default=47_104, ge=19_456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)
    session_days: int = Field(default=14, ge=1, le=365)
    ingest_workers: int = Field(default=1, ge=0, le=16)
    # Chat limits (requests) and monthly budgets (tokens) per tier.
    rate_free_per_hour: int = Field(default=100, ge=1)
    rate_paid_per_hour: int = Field(default=1000, ge=1)
    rate_visitor_per_minute: int = Field(default=20, ge=1)
    rate_widget_per_minute: int = Field(default=120, ge=1)
    budget_free_tokens_month: int = Field(default=1_000_000, ge=0)
    budget_paid_tokens_month: int = Field(default=50_000_000, ge=0)
    # REST API v1: JSON bodies are small; uploads use MAX_UPLOAD_MB.
    api_max_json_kb: int = Field(default=64, ge=1, le=10_240)
    # /metrics answers loopback clients, or anyone sending `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = None

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "PUBLIC_URL must be an absolute http(s) URL, e.g. https://chat.example.com"
            )
        return value.rstrip("/")

    # ---- derived values -------------------------------------------------------------

    @property
    def is_embedded(self) -> bool:
        """True when nothing external is configured: one process owns all the data."""
        return not (self.database_url and not self.database_url.startswith("sqlite")) and not (
            self.redis_url or self.qdrant_url
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            # Heroku-style URLs; psycopg 3 is the driver we ship.
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url.removeprefix("postgres://")
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'chatconnect.db').resolve()}"

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def cookie_secure(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def secret(self) -> bytes:
        """The application secret, validated (see `resolve_secret_key`)."""
        return resolve_secret_key(self).encode()


def _is_weak(value: str) -> bool:
    return (
        len(value) < MIN_SECRET_KEY_LENGTH
        or value.strip().lower() in _WEAK_SECRETS
        or (len(set(value)) < 8)
    )


def resolve_secret_key(settings: Settings) -> str:
    """Return SECRET_KEY, generating and persisting one for the embedded shape only.

    A configured key must be strong. Without one, the embedded shape keeps a generated
    key under DATA_DIR (mode 0600) so sessions survive restarts; the scale-out shape
    refuses to start, since several processes must share one key.
    """
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if _is_weak(value):
            raise SettingsError(
                f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        return value
    if not settings.is_embedded:
        raise SettingsError(
            "SECRET_KEY is not set. It is required when DATABASE_URL, REDIS_URL or QDRANT_URL "
            "is configured, because every process must share it. Generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    path = settings.data_dir / SECRET_KEY_FILE
    if path.exists():
        value = path.read_text().strip()
        if not _is_weak(value):
            return value
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # Create with 0600 from the start: never world-readable, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """For tests that change the environment."""
    get_settings.cache_clear()
