"""Password hashing, opaque tokens, API keys and secret encryption.

- Passwords: argon2id at or above OWASP's minimum (19 MiB, t=2, p=1), rehashed on login
  when the configured parameters change.
- Session tokens, login codes and API keys: random secrets stored only as a keyed hash
  (HMAC-SHA256 with a key derived from SECRET_KEY), compared in constant time.
- Provider credentials: Fernet (AES-128-CBC + HMAC) with a key derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import Settings, get_settings

API_KEY_PREFIX = "sk_"
_API_KEY_RE = re.compile(r"^sk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{32,64})$")
# A valid argon2 hash of a random password: verified against when the email is unknown,
# so a login for a missing account costs the same time as one for a real account.
_DUMMY_PASSWORD = secrets.token_urlsafe(16)
# The password hash of an account that signs in only through a provider: matches nothing.
NO_PASSWORD = "!"  # noqa: S105 (a marker, not a password)


# ---- passwords ------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)


def password_hasher(settings: Settings | None = None) -> PasswordHasher:
    s = settings or get_settings()
    return _hasher(s.argon2_memory_kib, s.argon2_time_cost, s.argon2_parallelism)


def hash_password(password: str, settings: Settings | None = None) -> str:
    return password_hasher(settings).hash(password)


def verify_password(stored_hash: str, password: str, settings: Settings | None = None) -> bool:
    try:
        return password_hasher(settings).verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, settings: Settings | None = None) -> bool:
    try:
        return password_hasher(settings).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(_DUMMY_PASSWORD)


def burn_password_check(password: str) -> None:
    """Spend one verification's time for an unknown account (no user enumeration by timing)."""
    verify_password(_dummy_hash(), password)


# ---- keyed hashes of opaque secrets ------------------------------------------------------


def _derive(purpose: bytes, settings: Settings | None = None) -> bytes:
    key = (settings or get_settings()).secret()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


@lru_cache(maxsize=8)
def _derived_cached(purpose: bytes, secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def keyed_hash(value: str, purpose: str = "token", settings: Settings | None = None) -> str:
    """HMAC-SHA256 of a secret under a per-purpose key; what the database stores."""
    key = _derived_cached(purpose.encode(), (settings or get_settings()).secret())
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def hashes_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


# ---- API keys -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewApiKey:
    secret: str  # shown once, never stored
    prefix: str  # stored, shown in lists, used for lookup
    key_hash: str  # stored


def generate_api_key(settings: Settings | None = None) -> NewApiKey:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    ident = "".join(secrets.choice(alphabet) for _ in range(12))
    secret = f"{API_KEY_PREFIX}{ident}_{secrets.token_urlsafe(32)}"
    return NewApiKey(
        secret=secret,
        prefix=f"{API_KEY_PREFIX}{ident}",
        key_hash=keyed_hash(secret, "api-key", settings),
    )


def parse_api_key(secret: str) -> str | None:
    """The lookup prefix of a well-formed key, else None (malformed keys never hit the DB)."""
    match = _API_KEY_RE.match(secret or "")
    return f"{API_KEY_PREFIX}{match.group(1)}" if match else None


def verify_api_key(secret: str, stored_hash: str, settings: Settings | None = None) -> bool:
    return hashes_equal(keyed_hash(secret, "api-key", settings), stored_hash)


# ---- secrets at rest ------------------------------------------------------------------


def _fernet(settings: Settings | None = None) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(b"secrets-at-rest", settings)))


def encrypt_secret(plaintext: str, settings: Settings | None = None) -> str:
    return _fernet(settings).encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str, settings: Settings | None = None) -> str:
    try:
        return _fernet(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("stored secret cannot be decrypted (was SECRET_KEY changed?)") from exc


def mask_secret(value: str) -> str:
    """What the UI may show of a stored secret: that it is set, and its last 4 characters."""
    return f"•••• {value[-4:]}" if len(value) >= 8 else "••••"
