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


def test_public_url_follows_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setenv("PORT", "8080")
    assert Settings().public_url == "http://127.0.0.1:8080"
    assert Settings().public_origin == "http://127.0.0.1:8080"
    monkeypatch.setenv("PUBLIC_URL", "https://chat.example.com/")
    assert Settings().public_url == "https://chat.example.com"  # an explicit URL wins
    monkeypatch.setenv("PUBLIC_URL", "")
    assert Settings().public_url == "http://127.0.0.1:8080"  # empty = unset
    monkeypatch.delenv("PUBLIC_URL")
    monkeypatch.delenv("PORT")
    assert Settings().public_url == "http://127.0.0.1:3000"
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()


def test_startup_banner_says_where_to_go_and_what_answers(tmp_path: Path) -> None:
    from app.startup import banner

    text = banner(Settings(port=8080, data_dir=tmp_path))
    assert "http://127.0.0.1:8080/signup" in text
    assert "http://127.0.0.1:8080/embed/demo.html?widget=" in text
    assert f"SQLite in {tmp_path.resolve()}" in text
    assert "offline: quoted passages" in text
    scaled = banner(
        Settings(
            public_url="https://chat.example.com",
            database_url="postgresql://u:secret@db.internal/chat",
            qdrant_url="http://qdrant:6333",
            openai_api_key="sk-test-0123456789",
        )
    )
    assert "PostgreSQL at db.internal/chat" in scaled and "Qdrant at qdrant:6333" in scaled
    assert "OpenAI (instance key)" in scaled
    assert "secret" not in scaled and "sk-test" not in scaled  # never a credential
