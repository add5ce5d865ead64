"""A SQLite file database keeps its connections across busy moments (the backend runs up
to BACKEND_THREADS sessions at once): a second burst reuses them instead of reconnecting."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text

from app.db import make_engine


def test_a_second_burst_of_sessions_reuses_the_first_bursts_connections(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    connects = []
    event.listen(engine, "connect", lambda *_: connects.append(1))
    barrier = threading.Barrier(16)

    def hold_a_connection() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            barrier.wait(timeout=10)  # all 16 open at once

    for _ in range(2):
        threads = [threading.Thread(target=hold_a_connection) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(connects) == 16  # the first burst's; the second reconnected none
    engine.dispose()


def test_in_memory_sqlite_keeps_its_single_connection_pool() -> None:
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert type(engine.pool).__name__ == "SingletonThreadPool"  # not given a file's pool size
    engine.dispose()
