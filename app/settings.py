"""The only place configuration and secrets are read.

Every value comes from the environment (or a `.env` file). Defaults give the embedded,
one-process shape: SQLite and a Qdrant Edge shard under DATA_DIR, local embeddings and
the offline answerer. Setting DATABASE_URL / REDIS_URL / QDRANT_URL switches to the
scale-out shape, where a real SECRET_KEY is mandatory.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
# Values people paste from tutorials; refused even when long enough.
_WEAK_SECRETS = {"changeme", "change-me", "secret", "password", "dev", "development", "test"}
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)


class SettingsError(RuntimeError):
    """Configuration that must not be started with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # Errors must not echo values: SMTP_URL and keys carry passwords.
        hide_input_in_errors=True,
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
    # Unset: derived from PORT (http://127.0.0.1:PORT), so `PORT=8080 make run` just works.
    public_url: str = ""
    port: int = Field(default=3000, ge=1, le=65535)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None  # Gemini's native API; None = Google's endpoint
    max_upload_mb: int = Field(default=25, ge=1, le=1024)
    embedding_provider: Literal["local", "openai"] = "local"
    openai_embedding_model: str = "text-embedding-3-small"
    # LlamaIndex node postprocessors applied to every retrieval, in order (see README).
    retrieval_postprocessors: str = ""
    log_level: str = "INFO"
    # Argon2id: OWASP minimum is m=19 MiB, t=2, p=1; 46 MiB, t=2 verifies in ~60-120 ms here.
    argon2_memory_kib: int = Field(default=47_104, ge=19_456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)
    session_days: int = Field(default=14, ge=1, le=365)
    ingest_workers: int = Field(default=1, ge=0, le=16)
    # Threads for the web process's blocking work (app/process_tuning.py).
    backend_threads: int = Field(default=32, ge=4, le=256)
    # Chat limits (requests) and monthly budgets (tokens) per tier.
    rate_free_per_hour: int = Field(default=100, ge=1)
    rate_paid_per_hour: int = Field(default=1000, ge=1)
    rate_visitor_per_minute: int = Field(default=20, ge=1)
    rate_widget_per_minute: int = Field(default=120, ge=1)
    # The offline answerer streams its sentences this far apart (0 = at once; benchmarks).
    extractive_pause_ms: int = Field(default=60, ge=0, le=2000)
    budget_free_tokens_month: int = Field(default=1_000_000, ge=0)
    budget_paid_tokens_month: int = Field(default=50_000_000, ge=0)
    # REST API v1: JSON bodies are small; uploads use MAX_UPLOAD_MB.
    api_max_json_kb: int = Field(default=64, ge=1, le=10_240)
    # /metrics answers loopback clients, or anyone sending `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = None
    # Transactional email (password reset, verification, invitations). Unset: no email is
    # sent and invitation links are shown on screen. smtp:// (add ?starttls=true to
    # upgrade), smtps:// for implicit TLS; user and password in the URL, percent-encoded.
    smtp_url: SecretStr | None = None
    email_from: str | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Audit events older than this are purged once a day (the only delete of the trail).
    audit_retention_days: int = Field(default=365, ge=1, le=3650)
    # Social sign-in: each provider is on when its client id and secret are set. The
    # endpoints are configurable (tests point them at local servers).
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_issuer: str = "https://accounts.google.com"
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = None
    # "common" accepts work and personal accounts; the id token's issuer names the tenant.
    microsoft_issuer: str = "https://login.microsoftonline.com/common/v2.0"
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    # Local runs and tests only: TXT records to believe instead of asking DNS, as JSON
    # {"_chatconnect.example.com": ["chatconnect-verify=..."]}, or "@file.json" (re-read
    # on each check). Never set in production.
    sso_dns_test_records: str = ""
    # Requests to URLs a tenant typed: crawls and webhooks (app/services/outbound.py enforces
    # the SSRF rules). Private networks (loopback, 10.x, 192.168.x ...) are refused unless a
    # self-hoster allows them.
    crawl_allow_private_networks: bool = False
    crawl_max_page_mb: int = Field(default=10, ge=1, le=100)
    crawl_timeout_s: float = Field(default=20.0, gt=0, le=120)
    crawl_concurrency_per_host: int = Field(default=2, ge=1, le=8)
    crawl_max_pages_free: int = Field(default=500, ge=1)
    crawl_max_pages_paid: int = Field(default=5000, ge=1)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.strip():
            return ""  # filled in from PORT by _default_public_url
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "PUBLIC_URL must be an absolute http(s) URL, e.g. https://chat.example.com"
            )
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_smtp_url(value.get_secret_value())  # raises ValueError with a clear message
        return value

    @field_validator("email_from")
    @classmethod
    def _check_email_from(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        _name, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError('EMAIL_FROM must be an address, e.g. "ChatConnect <no-reply@x.com>"')
        return value

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://127.0.0.1:{self.port}"
        return self

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

    @property
    def email_enabled(self) -> bool:
        """True when SMTP_URL is set: mail is sent; otherwise links are shown on screen."""
        return self.smtp_url is not None

    @property
    def smtp(self) -> SmtpConfig | None:
        return parse_smtp_url(self.smtp_url.get_secret_value()) if self.smtp_url else None

    @property
    def resolved_email_from(self) -> str:
        """EMAIL_FROM, else no-reply@ the PUBLIC_URL host (what most relays accept)."""
        if self.email_from:
            return self.email_from
        host = urlsplit(self.public_url).hostname or "localhost"
        if "." not in host or host.replace(".", "").isdigit():
            host = "localhost.localdomain"
        return f"ChatConnect <no-reply@{host}>"

    def secret(self) -> bytes:
        """The application secret, validated (see `resolve_secret_key`)."""
        return resolve_secret_key(self).encode()


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool  # smtps://
    starttls: bool
    username: str | None
    password: str | None = field(repr=False, default=None)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


_TRUE = {"1", "true", "yes", "on", "required"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_smtp_url(url: str) -> SmtpConfig:
    """smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://, e.g. smtp://mail:587")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host, e.g. smtp://user:pass@mail.example.com:587")
    try:
        port = parts.port or (465 if scheme == "smtps" else 25)
    except ValueError as exc:
        raise ValueError("SMTP_URL has an invalid port") from exc
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"SMTP_URL: unknown option(s) {', '.join(sorted(unknown))}")
    flag = (query.get("starttls") or [""])[-1].strip().lower()
    if flag not in _TRUE | _FALSE:
        raise ValueError("SMTP_URL: starttls must be true or false")
    starttls = flag in _TRUE
    if starttls and scheme == "smtps":
        raise ValueError("SMTP_URL: smtps:// is already TLS; drop ?starttls")
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=scheme == "smtps",
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


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
