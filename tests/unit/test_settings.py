from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings, SettingsError, resolve_secret_key


def test_embedded_defaults(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, secret_key=None)
    assert s.is_embedded
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'chatconnect.db').resolve()}"
    assert s.qdrant_path == tmp_path / "qdrant"
    assert s.max_upload_bytes == 25 * 1024 * 1024


def test_embedded_generates_and_keeps_a_private_secret(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, secret_key=None)
    first = resolve_secret_key(s)
    assert len(first) >= 32
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_secret_key(Settings(data_dir=tmp_path, secret_key=None)) == first


@pytest.mark.parametrize(
    "env",
    [
        {"database_url": "postgresql://u@db/app"},
        {"redis_url": "redis://cache:6379/0"},
        {"qdrant_url": "http://qdrant:6333"},
    ],
)
def test_scale_out_refuses_missing_secret(tmp_path: Path, env: dict[str, str]) -> None:
    s = Settings(data_dir=tmp_path, secret_key=None, **env)
    assert not s.is_embedded
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        resolve_secret_key(s)
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("weak", ["changeme", "short-secret", "a" * 64, "secret"])
def test_weak_secret_refused_everywhere(tmp_path: Path, weak: str) -> None:
    for extra in ({}, {"database_url": "postgresql://u@db/app"}):
        with pytest.raises(SettingsError, match="too weak"):
            resolve_secret_key(Settings(data_dir=tmp_path, secret_key=weak, **extra))


def test_postgres_urls_use_psycopg3() -> None:
    for given in ("postgres://u:p@h/db", "postgresql://u:p@h/db"):
        assert Settings(database_url=given).resolved_database_url == "postgresql+psycopg://u:p@h/db"


def test_public_url_validation_and_cookie_security() -> None:
    assert Settings(public_url="https://chat.example.com/").public_url == "https://chat.example.com"
    assert Settings(public_url="https://chat.example.com").cookie_secure
    assert not Settings(public_url="http://127.0.0.1:3000").cookie_secure
    with pytest.raises(ValidationError):
        Settings(public_url="chat.example.com")


def test_environment_and_dotenv_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MAX_UPLOAD_MB=7\nPORT=4000\n")
    monkeypatch.setenv("PORT", "5000")
    s = Settings()
    assert s.max_upload_mb == 7  # from .env
    assert s.port == 5000  # the environment wins over .env


def test_secrets_never_appear_in_repr() -> None:
    s = Settings(secret_key="x" * 10 + "abcdefghijklmnopqrstuvwxyz", openai_api_key="sk-top-secret")
    assert "sk-top-secret" not in repr(s) and "abcdefghijklmnop" not in repr(s)
