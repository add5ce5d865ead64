"""Does a forgot-password request take the same time for a known and an unknown address?

`python -m bench.reset_timing` (SQLite under a temporary DATA_DIR, email on with an SMTP
server that is never contacted: the request only queues). Interleaves the two kinds of
request so machine noise hits both alike; writes bench/results/reset_timing.json with
each kind's percentiles and the ratio of medians (1.0 = indistinguishable).
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="reset-timing-")
os.environ["SMTP_URL"] = "smtp://127.0.0.1:1"
for name in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL"):
    os.environ.pop(name, None)

from app.db import run_migrations, session_scope  # noqa: E402
from app.services import accounts, password_reset  # noqa: E402
from app.services.throttle import MemoryFailureStore, get_login_throttle  # noqa: E402
from app.settings import get_settings  # noqa: E402
from bench.common import log, machine_info, percentiles_ms, utc_now, write_json  # noqa: E402

ROUNDS = int(os.environ.get("RESET_TIMING_ROUNDS", "400"))


def main() -> None:
    run_migrations(get_settings())
    with session_scope() as s:
        accounts.sign_up(s, "known@acme.io", "a-long-password", "Acme")
    store = get_login_throttle().store
    assert isinstance(store, MemoryFailureStore)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for i in range(ROUNDS):
        pair = [("known", "known@acme.io"), ("unknown", "nobody@acme.io")]
        for kind, email in pair if i % 2 else reversed(pair):  # neither always goes first
            store._data.clear()  # time the request's work, not the throttle's refusal
            started = time.perf_counter()
            with session_scope() as s:
                password_reset.request_reset(s, email, f"10.{i // 250}.{i % 250}.1")
            timings[kind].append(time.perf_counter() - started)
    result = {kind: percentiles_ms(values) for kind, values in timings.items()}
    ratio = result["known"]["p50_ms"] / result["unknown"]["p50_ms"]
    log(f"known p50 {result['known']['p50_ms']} ms, unknown p50 {result['unknown']['p50_ms']} ms")
    write_json(
        "reset_timing.json",
        {
            "when": utc_now(),
            "machine": machine_info(),
            "rounds": ROUNDS,
            "request_ms": result,
            "known_over_unknown_p50": round(ratio, 3),
        },
    )


if __name__ == "__main__":
    main()
