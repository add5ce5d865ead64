"""Failure backoff for logins: per account and per IP, in process or in Redis.

After `free_failures` failures inside `window_s`, each further attempt must wait
2^(failures - free_failures) seconds after the last failure (capped), never a permanent
lockout. A success clears the account's counter. When Redis is configured but down,
`check` raises ThrottleUnavailableError so login fails closed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from app.settings import get_settings


class ThrottleUnavailableError(RuntimeError):
    """The shared counter store cannot be reached."""


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    free_failures: int
    window_s: int = 900
    max_delay_s: int = 300

    def delay(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        return min(self.max_delay_s, 2 ** (failures - self.free_failures + 1))


class FailureStore(Protocol):
    def get(self, key: str) -> tuple[int, float]: ...
    def record(self, key: str, window_s: int) -> None: ...
    def clear(self, key: str) -> None: ...


class MemoryFailureStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[int, float]:
        with self._lock:
            count, last, expires = self._data.get(key, (0, 0.0, 0.0))
            if expires and expires < time.time():
                self._data.pop(key, None)
                return 0, 0.0
            return count, last

    def record(self, key: str, window_s: int) -> None:
        now = time.time()
        with self._lock:
            count, _last, expires = self._data.get(key, (0, 0.0, 0.0))
            if expires and expires < now:
                count = 0
            self._data[key] = (count + 1, now, now + window_s)
            if len(self._data) > 100_000:  # bound memory under a credential-stuffing storm
                oldest = sorted(self._data.items(), key=lambda kv: kv[1][1])[:10_000]
                for k, _ in oldest:
                    self._data.pop(k, None)

    def clear(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class RedisFailureStore:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _call(self, fn, *args):  # type: ignore[no-untyped-def]
        import redis

        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise ThrottleUnavailableError("login throttle store unavailable") from exc

    def get(self, key: str) -> tuple[int, float]:
        values = self._call(self._redis.hmget, f"cc:fail:{key}", "n", "t")
        count, last = values if values else (None, None)
        return int(count or 0), float(last or 0.0)

    def record(self, key: str, window_s: int) -> None:
        name = f"cc:fail:{key}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.hincrby(name, "n", 1).hset(name, "t", time.time()).expire(name, window_s)
        self._call(pipe.execute)

    def clear(self, key: str) -> None:
        self._call(self._redis.delete, f"cc:fail:{key}")


class LoginThrottle:
    ACCOUNT = BackoffPolicy(free_failures=5)
    IP = BackoffPolicy(free_failures=20)
    PREFIX = ""

    def __init__(self, store: FailureStore) -> None:
        self.store = store

    def retry_after(self, email: str, ip: str) -> int:
        """Seconds the caller must still wait before another attempt (0 = go ahead)."""
        now = time.time()
        wait = 0.0
        keys = ((f"{self.PREFIX}acct:{email}", self.ACCOUNT), (f"{self.PREFIX}ip:{ip}", self.IP))
        for key, policy in keys:
            count, last = self.store.get(key)
            wait = max(wait, last + policy.delay(count) - now)
        return max(0, int(wait + 0.999))

    def failed(self, email: str, ip: str) -> None:
        self.store.record(f"{self.PREFIX}acct:{email}", self.ACCOUNT.window_s)
        self.store.record(f"{self.PREFIX}ip:{ip}", self.IP.window_s)

    def succeeded(self, email: str) -> None:
        self.store.clear(f"{self.PREFIX}acct:{email}")


class MailThrottle(LoginThrottle):
    """Requests that send mail (password reset, verification resend): every one counts.

    Same backoff as login, tighter: 3 free per address and 10 per IP in an hour, so the
    form cannot be used to flood someone's inbox or our mail server.
    """

    ACCOUNT = BackoffPolicy(free_failures=3, window_s=3600)
    IP = BackoffPolicy(free_failures=10, window_s=3600)
    PREFIX = "mail:"

    def record(self, email: str, ip: str) -> None:
        self.failed(email, ip)


_throttle: LoginThrottle | None = None
_lock = threading.Lock()


def get_login_throttle() -> LoginThrottle:
    global _throttle
    if _throttle is None:
        with _lock:
            if _throttle is None:
                url = get_settings().redis_url
                store: FailureStore = RedisFailureStore(url) if url else MemoryFailureStore()
                _throttle = LoginThrottle(store)
    return _throttle


def get_mail_throttle() -> MailThrottle:
    """Shares the login throttle's counter store (in process or Redis)."""
    return MailThrottle(get_login_throttle().store)


def reset_login_throttle() -> None:
    global _throttle
    _throttle = None
