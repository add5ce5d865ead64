from __future__ import annotations

import pytest

from app import security
from app.settings import Settings


def test_password_hash_round_trip_and_owasp_parameters() -> None:
    stored = security.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    params = stored.split("$")[3]  # m=...,t=...,p=...
    values = dict(part.split("=") for part in params.split(","))
    assert int(values["m"]) >= 19_456 and int(values["t"]) >= 2 and int(values["p"]) >= 1
    assert security.verify_password(stored, "correct horse battery")
    assert not security.verify_password(stored, "correct horse batterz")
    assert not security.verify_password("not-a-hash", "anything")


def test_needs_rehash_when_parameters_change() -> None:
    old = security.hash_password(
        "correct horse battery", Settings(argon2_memory_kib=19_456, argon2_time_cost=2)
    )
    stronger = Settings(argon2_memory_kib=19_456, argon2_time_cost=3)
    assert security.needs_rehash(old, stronger)
    assert not security.needs_rehash(security.hash_password("x" * 12, stronger), stronger)


def test_keyed_hash_depends_on_purpose_and_secret() -> None:
    a = Settings(secret_key="a" * 20 + "bcdefghijklmnopqrstu")
    b = Settings(secret_key="z" * 20 + "bcdefghijklmnopqrstu")
    assert security.keyed_hash("tok", "session", a) != security.keyed_hash("tok", "login-code", a)
    assert security.keyed_hash("tok", "session", a) != security.keyed_hash("tok", "session", b)
    assert security.keyed_hash("tok", "session", a) == security.keyed_hash("tok", "session", a)
    assert len(security.keyed_hash("tok")) == 64


def test_api_key_is_shown_once_and_stored_as_keyed_hash() -> None:
    key = security.generate_api_key()
    assert key.secret.startswith("sk_") and key.secret not in key.key_hash
    assert security.parse_api_key(key.secret) == key.prefix
    assert security.verify_api_key(key.secret, key.key_hash)
    assert not security.verify_api_key(key.secret + "x", key.key_hash)
    for malformed in ("", "sk_", "Bearer sk_x", "sk_short_abc", key.secret.replace("sk_", "pk_")):
        assert security.parse_api_key(malformed) is None


def test_secret_encryption_round_trip_and_wrong_key() -> None:
    a = Settings(secret_key="k" * 8 + "0123456789abcdefghijklmnopqrstuvwx")
    b = Settings(secret_key="q" * 8 + "0123456789abcdefghijklmnopqrstuvwx")
    token = security.encrypt_secret("sk-live-provider-secret", a)
    assert "provider" not in token
    assert security.decrypt_secret(token, a) == "sk-live-provider-secret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        security.decrypt_secret(token, b)


def test_mask_secret_shows_only_last_four() -> None:
    assert security.mask_secret("sk-abcdefgh1234") == "•••• 1234"
    assert security.mask_secret("short") == "••••"
