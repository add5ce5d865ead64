"""Load with locust: live widget visitors and API clients against a real server
(make bench-load -> bench/results/load.json).

    python -m bench.load [--quick] [--shape embedded|postgres_redis|both]

The server is a real `reflex run --env prod` (as bench/embed.py starts it; the load is on
the backend: the websocket and the API, not the compiled frontend's static files) on a
free loopback port, seeded with one workspace, a widget, a widget-scoped
API key and a small knowledge base (SciFact-mini documents, ingested by the server
itself). The answers come from the offline extractive answerer with its sentence pacing
off (EXTRACTIVE_PAUSE_MS=0): there is no LLM, so a turn's time is the server's own
overhead (limits, conversation, query embedding, hybrid retrieval, the answerer's few
milliseconds, sanitizing, persisting, and for the widget the Reflex state push). It is
timed by the client on loopback, from sending the question to holding the whole answer.

Phases, each a `python -m locust --headless` process of its own (bench/load_locustfile.py;
the app is never imported into it):

0. Idle: `visitors` widget visitors open the chat (websocket, state, on_load) and ask
   nothing: server RSS once they are connected minus before, per connection
   (`rss_mb_per_idle_visitor`).
1. Steady: `visitors` users (8 widget visitors over the websocket : 1 REST JSON : 1 REST
   SSE) for `duration`, each asking a question every 20-40 s (uniform). Reports turns/s,
   p50/p95/p99 per transport and overall, errors, RSS of each server process, and RSS
   per connected visitor (`rss_mb_per_visitor`: server RSS with everyone connected minus
   before, divided by the established connections to the server port; this one includes
   what the turns leave in memory).
2. Saturation: a step-load ramp of users asking about once a second (0.5-1.5 s pauses),
   each visitor leaving after 5 questions for a new one. Per step: achieved turns/s and
   p95; `saturation_turns_per_s` is the highest achieved turns/s of a step whose p95 is
   still <= 1 s.

Shapes: `embedded` (SQLite + Qdrant Edge + memory state, one process) and
`postgres_redis` (DATABASE_URL = a database of its own, `chatconnect_load`, on the shared
127.0.0.1:5432, recreated per run; REDIS_URL = redis://127.0.0.1:6379/14, FLUSHDB of that
db only; vectors stay in the Edge shard: no Qdrant server on this machine).

`--quick`: 20 visitors for 30 s with 3-6 s pacing and a 3-step ramp; writes
bench/results/load_quick.json (load.json untouched). A full run merges its shapes into
load.json; the top-level figures are the embedded shape's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.common import (
    RESULTS,
    ROOT,
    load_avg,
    load_corpus,
    load_queries,
    log,
    start_prod_server,
    utc_now,
    write_json,
)
from bench.embed import _free_port, established_connections

PG_ADMIN = os.environ.get("LOAD_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "chatconnect_load"
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
GOALS = {
    "errors": 0,
    "overhead_p95_ms": 150.0,
    "saturation_turns_per_s": 60.0,
    "rss_mb_per_visitor": 1.0,
}
LIMITS = (
    "RATE_FREE_PER_HOUR",
    "RATE_PAID_PER_HOUR",
    "RATE_VISITOR_PER_MINUTE",
    "RATE_WIDGET_PER_MINUTE",
    "BUDGET_FREE_TOKENS_MONTH",
)


# ---- server --------------------------------------------------------------------------


def _pg_url(db: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + db


def _prepare_postgres_redis() -> dict[str, str]:
    import redis
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    redis.Redis.from_url(REDIS_URL).flushdb()  # db 14 only: this benchmark's own
    url = _pg_url(PG_DB)
    from app.db import run_migrations

    run_migrations(url=url)
    return {"DATABASE_URL": url, "REDIS_URL": REDIS_URL}


def start_server(shape: str, data_dir: Path, log_path: Path, secret: str):  # type: ignore[no-untyped-def]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL")
    }
    env.update(
        PORT=str(port),
        PUBLIC_URL=base,
        DATA_DIR=str(data_dir),
        SECRET_KEY=secret,
        HF_HUB_OFFLINE="1",
        REFLEX_USE_SYSTEM_BUN="1",
        EXTRACTIVE_PAUSE_MS="0",  # no pacing: the answerer's time is its compute alone
        LOG_LEVEL="WARNING",
        **dict.fromkeys(LIMITS, "1000000000"),  # limits are checked, never reached
    )
    if shape == "postgres_redis":
        env.update(_prepare_postgres_redis())
        # One backend worker: the Edge shard belongs to one process (README, Scale-out);
        # several need a Qdrant server, which this machine does not have.
        env["GRANIAN_WORKERS"] = "1"
    proc = start_prod_server(env, base, log_path)
    return proc, base, env


def stop_server(proc: subprocess.Popen) -> None:
    pgid = os.getpgid(proc.pid)
    os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)


def server_processes(pgid: int) -> list[dict[str, Any]]:
    """Every process of the server's process group: pid, what it is, RSS."""
    rows = []
    for p in psutil.process_iter(["pid", "cmdline", "memory_info"]):
        try:
            if os.getpgid(p.pid) != pgid:
                continue
        except OSError:
            continue
        cmd = " ".join(p.info["cmdline"] or [])
        rows.append(
            {
                "pid": p.pid,
                "cmd": cmd.replace(str(ROOT), ".")[-90:],
                "rss_mb": round(p.info["memory_info"].rss / 2**20, 1),
            }
        )
    return sorted(rows, key=lambda r: -r["rss_mb"])


def total_rss(pgid: int) -> float:
    return round(sum(r["rss_mb"] for r in server_processes(pgid)), 1)


def server_cpu_s(pgid: int) -> float:
    total = 0.0
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid:
                t = p.cpu_times()
                total += t.user + t.system
        except (OSError, psutil.Error):
            continue
    return total


# ---- seeding -------------------------------------------------------------------------


def seed(data_dir: Path, n_docs: int) -> tuple[str, str, Any]:
    from sqlmodel import select

    from app.db import session_scope
    from app.models import Document, DocumentStatus, User
    from app.services import documents
    from app.services.api_keys import create_key
    from app.settings import Settings
    from tests.support.embed_world import seed as seed_world

    world = seed_world(data_dir, ["shop.example"], email="bench-load@acme-coffee.io")
    settings = Settings(data_dir=data_dir)
    with session_scope(world.engine) as s:
        for doc in load_corpus(n_docs):
            documents.create_text_document(
                s, world.tenant_id, title=doc.title or doc.id, text=doc.full_text, settings=settings
            )
        owner = s.exec(select(User).where(User.email == "bench-load@acme-coffee.io")).one()
        key = create_key(
            s, world.tenant_id, "load", ["chat"], widget_id=world.widget_id, created_by=owner.id
        ).secret
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with session_scope(world.engine) as s:
            statuses = list(s.exec(select(Document.status)).all())
        if all(st == DocumentStatus.ready for st in statuses):
            break
        if any(st == DocumentStatus.failed for st in statuses):
            raise SystemExit("a knowledge-base document failed to ingest")
        time.sleep(2)
    else:
        raise SystemExit("knowledge base not ingested in 600 s")
    log(f"seeded: {len(statuses)} documents ready")
    return world.widget_id, key, world.engine


def questions(n: int) -> list[str]:
    qs = list(load_queries().values())
    return [q.rstrip(".") + "?" for q in qs[:n]]


# ---- locust --------------------------------------------------------------------------


def run_locust(
    base: str,
    env_extra: dict[str, str],
    args: list[str],
    out: Path,
    limit_s: float,
    on_tick=None,  # type: ignore[no-untyped-def]
) -> tuple[list[tuple], float, float]:
    """One locust run in its own process; returns (turn records, its CPU seconds, wall s)."""
    env = {**os.environ, **env_extra, "LOAD_OUT": str(out)}
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "bench" / "load_locustfile.py"),
        "--headless",
        "--only-summary",
        "--stop-timeout",
        "70",
        "--loglevel",
        "WARNING",
        "-H",
        base,
        *args,
    ]
    started = time.monotonic()
    with (out.parent / f"{out.stem}.locust.log").open("wb") as logf:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        cpu = 0.0
        while proc.poll() is None:
            if time.monotonic() - started > limit_s:
                # The records are written when the test stops; a locust that does not
                # exit by itself after that is ended.
                log(f"locust still running after {limit_s:.0f} s: ended")
                proc.terminate()
                proc.wait(30)
                break
            try:
                t = ps.cpu_times()
                cpu = t.user + t.system
            except psutil.Error:
                pass
            if on_tick is not None:
                on_tick(time.monotonic() - started)
            time.sleep(1)
    rows = []
    for line in out.read_text().splitlines() if out.exists() else []:
        with contextlib.suppress(ValueError):  # the last line of an ended locust may be cut
            rows.append(tuple(json.loads(line)))
    if not rows:
        tail = (out.parent / f"{out.stem}.locust.log").read_text()[-3000:]
        raise SystemExit(f"locust wrote no records (exit {proc.returncode}):\n{tail}")
    return rows, cpu, time.monotonic() - started


def pct(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {
        "n": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "p99_ms": round(float(np.percentile(a, 99)), 1),
        "max_ms": round(float(a.max()), 1),
    }


def error_summary(rows: list[tuple]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, kind, _, ok, err in rows:
        if not ok:
            key = f"{kind}: {err[:100]}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:10])


# ---- phases --------------------------------------------------------------------------


def steady(base: str, common: dict[str, str], pgid: int, port: int, cfg: dict, work: Path):
    visitors, duration = cfg["visitors"], cfg["duration_s"]
    low, high = cfg["pacing"]
    before = total_rss(pgid)
    cpu0 = server_cpu_s(pgid)
    samples: list[tuple[float, float, int]] = []

    def tick(elapsed: float) -> None:
        # After everyone arrived (first pacing window): RSS and connections every 5 s.
        if elapsed > (low + high) / 2 + 5 and int(elapsed) % 5 == 0 and elapsed < duration:
            samples.append((elapsed, total_rss(pgid), established_connections(port)))

    t0 = time.time()
    rows, locust_cpu, wall = run_locust(
        base,
        {**common, "LOAD_PACING": f"{low},{high}", "LOAD_TURNS_PER_VISITOR": "0"},
        ["-u", str(visitors), "-r", str(visitors), "-t", f"{duration}s"],
        work / "steady.jsonl",
        duration + 120,
        tick,
    )
    server_cpu = server_cpu_s(pgid) - cpu0
    procs = server_processes(pgid)
    turns = [r for r in rows if r[1].endswith("turn")]
    connects = [r for r in rows if r[1] == "ws connect"]
    # Turns/s over the window where every visitor had arrived.
    window = [r for r in turns if r[0] >= t0 + low + high]
    window_s = max(1.0, max((r[0] for r in window), default=t0) - (t0 + low + high))
    ok_ms = [r[2] for r in turns if r[3]]
    peak = max(samples, key=lambda s: s[1]) if samples else (0, before, 0)
    connected = max((s[2] for s in samples), default=0)
    rss_at_full = samples[-1][1] if samples else before
    per_visitor = (rss_at_full - before) / connected if connected else None
    by_kind = {
        kind: pct([r[2] for r in turns if r[1] == kind and r[3]])
        for kind in sorted({r[1] for r in turns})
    }
    return {
        "visitors": visitors,
        "duration_s": duration,
        "pacing_s": [low, high],
        "turns": len(turns),
        "turns_ok": len(ok_ms),
        "turns_per_s": round(len(window) / window_s, 2),
        "errors": sum(1 for r in rows if not r[3]),
        "error_kinds": error_summary(rows),
        "overhead": pct(ok_ms),
        "overhead_by_transport": by_kind,
        "ws_connect": pct([r[2] for r in connects if r[3]]),
        "connected_at_measurement": connected,
        "server_rss_before_mb": before,
        "server_rss_with_visitors_mb": rss_at_full,
        "server_rss_peak_mb": peak[1],
        "rss_mb_per_visitor": round(per_visitor, 3) if per_visitor is not None else None,
        "server_processes": procs,
        "server_cpu_s": round(server_cpu, 1),
        "locust_cpu_s": round(locust_cpu, 1),
        "wall_s": round(wall, 1),
        "load_average_after": load_avg(),
    }


def idle_visitors(base: str, common: dict[str, str], pgid: int, port: int, n: int, work: Path):
    """`n` visitors open the chat (websocket, state, on_load) and stay, asking nothing:
    server RSS after they are all connected minus before, per connection."""
    time.sleep(3)
    before = total_rss(pgid)
    samples: list[tuple[float, int]] = []

    def tick(elapsed: float) -> None:
        if elapsed > 20:
            samples.append((total_rss(pgid), established_connections(port)))

    rows, _, _ = run_locust(
        base,
        {**common, "LOAD_ASK": "0", "LOAD_WEIGHTS": "1,0,0", "LOAD_PACING": "10,10"},
        ["-u", str(n), "-r", str(n), "-t", "30s"],
        work / "idle.jsonl",
        150,
        tick,
    )
    rss, connected = max(samples, key=lambda s: s[1]) if samples else (before, 0)
    return {
        "visitors": n,
        "connected": connected,
        "connect_errors": sum(1 for r in rows if not r[3]),
        "server_rss_before_mb": before,
        "server_rss_connected_mb": rss,
        "rss_mb_per_idle_visitor": round((rss - before) / connected, 3) if connected else None,
    }


def saturation(base: str, common: dict[str, str], pgid: int, cfg: dict, work: Path):
    steps = cfg["steps"]
    spec = ",".join(f"{u}:{s}" for u, s in steps)
    t0 = time.time()
    cpu0 = server_cpu_s(pgid)
    rows, locust_cpu, wall = run_locust(
        base,
        {**common, "LOAD_STEPS": spec, "LOAD_PACING": "0.5,1.5", "LOAD_TURNS_PER_VISITOR": "5"},
        ["-t", f"{sum(s for _, s in steps) + 2:.0f}s"],
        work / "ramp.jsonl",
        sum(s for _, s in steps) + 120,
    )
    server_cpu = server_cpu_s(pgid) - cpu0
    table, start = [], t0
    for users, seconds in steps:
        # Skip each step's first third: users arriving, the previous step's queue draining.
        lo, hi = start + seconds / 3, start + seconds
        inside = [r for r in rows if lo <= r[0] < hi and r[1].endswith("turn")]
        ok = [r[2] for r in inside if r[3]]
        table.append(
            {
                "users": users,
                "turns_per_s": round(len(ok) / (hi - lo), 2),
                "errors": len(inside) - len(ok),
                **pct(ok),
            }
        )
        start += seconds
    good = [s for s in table if s.get("p95_ms", 1e9) <= 1000 and s["n"]]
    passed = any(s.get("p95_ms", 0) > 1000 for s in table)
    return {
        "steps": table,
        "saturation_turns_per_s": max((s["turns_per_s"] for s in good), default=0.0),
        "p95_passed_1s": passed,
        "errors": sum(1 for r in rows if not r[3]),
        "error_kinds": error_summary(rows),
        "server_cpu_s": round(server_cpu, 1),
        "locust_cpu_s": round(locust_cpu, 1),
        "wall_s": round(wall, 1),
        "load_average_after": load_avg(),
    }


def run_shape(shape: str, cfg: dict) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-load-{shape}-"))
    secret = secrets.token_urlsafe(48)
    os.environ["SECRET_KEY"] = secret
    saved_env = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL")}
    proc = None
    try:
        proc, base, env = start_server(shape, work / "data", work / "server.log", secret)
        for name in ("DATABASE_URL", "REDIS_URL"):  # the seeding writes where the server reads
            if name in env:
                os.environ[name] = env[name]
            else:
                os.environ.pop(name, None)
        from app.settings import reset_settings_cache

        reset_settings_cache()
        pgid, port = os.getpgid(proc.pid), int(base.rsplit(":", 1)[1])
        log(f"{shape}: server at {base}")
        widget_id, key, engine = seed(work / "data", cfg["documents"])
        from app.state.embed import EmbedState

        qfile = work / "questions.json"
        qfile.write_text(json.dumps(questions(cfg["questions"])))
        common = {
            "LOAD_EMBED_STATE": EmbedState.get_full_name(),
            "LOAD_WIDGET_ID": widget_id,
            "LOAD_API_KEY": key,
            "LOAD_QUESTIONS": str(qfile),
        }
        # Warm-up: imports, the embedder, the first state instances (not measured).
        run_locust(
            base,
            {**common, "LOAD_PACING": "0.2,0.5"},
            ["-u", "4", "-r", "4", "-t", "15s"],
            work / "warm.jsonl",
            120,
        )
        idle = idle_visitors(base, common, pgid, port, cfg["visitors"], work)
        log(f"{shape}: {idle['rss_mb_per_idle_visitor']} MB per idle connected visitor")
        log(f"{shape}: steady, {cfg['visitors']} visitors for {cfg['duration_s']} s")
        steady_fig = steady(base, common, pgid, port, cfg, work)
        log(
            f"{shape}: {steady_fig['turns_per_s']} turns/s, p95 "
            f"{steady_fig['overhead'].get('p95_ms')} ms, errors {steady_fig['errors']}, "
            f"{steady_fig['rss_mb_per_visitor']} MB/visitor"
        )
        log(f"{shape}: saturation ramp {cfg['steps']}")
        sat = saturation(base, common, pgid, cfg, work)
        log(f"{shape}: saturation {sat['saturation_turns_per_s']} turns/s")
        engine.dispose()
        server_log_tail = (work / "server.log").read_text(errors="replace")[-2000:]
    finally:
        if proc is not None:
            stop_server(proc)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(work, ignore_errors=True)
    return {
        "shape": shape,
        "visitors": steady_fig["visitors"],
        "errors": steady_fig["errors"] + sat["errors"],
        "turns_per_s": steady_fig["turns_per_s"],
        "overhead_p50_ms": steady_fig["overhead"].get("p50_ms"),
        "overhead_p95_ms": steady_fig["overhead"].get("p95_ms"),
        "overhead_p99_ms": steady_fig["overhead"].get("p99_ms"),
        "saturation_turns_per_s": sat["saturation_turns_per_s"],
        "rss_mb_per_visitor": steady_fig["rss_mb_per_visitor"],
        "rss_mb_per_idle_visitor": idle["rss_mb_per_idle_visitor"],
        "idle": idle,
        "steady": steady_fig,
        "saturation": sat,
        "server_log_tail": server_log_tail if "Traceback" in server_log_tail else "",
    }


HEADLINE = (
    "visitors",
    "errors",
    "turns_per_s",
    "overhead_p50_ms",
    "overhead_p95_ms",
    "overhead_p99_ms",
    "saturation_turns_per_s",
    "rss_mb_per_visitor",
    "rss_mb_per_idle_visitor",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 visitors, 30 s, short ramp")
    parser.add_argument(
        "--shape", choices=("embedded", "postgres_redis", "both"), default="embedded"
    )
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--duration", type=int, default=300)
    args = parser.parse_args()
    if args.quick:
        cfg = {
            "visitors": 20,
            "duration_s": 30,
            "pacing": (3.0, 6.0),
            "steps": [(5, 10), (10, 10), (20, 10)],
            "documents": 10,
            "questions": 300,
        }
    else:
        cfg = {
            "visitors": args.visitors,
            "duration_s": args.duration,
            "pacing": (20.0, 40.0),
            "steps": [(10, 24), (20, 24), (30, 24), (45, 24), (60, 24), (80, 24), (100, 24)],
            "documents": 60,
            "questions": 300,
        }
    shapes = ["embedded", "postgres_redis"] if args.shape == "both" else [args.shape]
    name = "load_quick.json" if args.quick else "load.json"
    previous = RESULTS / name
    data: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    data.setdefault("shapes", {})
    for shape in shapes:
        data["shapes"][shape] = {**run_shape(shape, cfg), "when": utc_now()}
    top = data["shapes"].get("embedded") or next(iter(data["shapes"].values()))
    data.update({k: top[k] for k in HEADLINE})
    data.update(
        {
            "headline_shape": top["shape"],
            "goals": GOALS,
            "quick": args.quick,
            "when": utc_now(),
            "load_average": load_avg(),
            "cpu_count": os.cpu_count(),
            "notes": (
                "Client-observed turn time on loopback (question sent -> whole answer held) "
                "with the offline answerer unpaced (EXTRACTIVE_PAUSE_MS=0): no LLM, so it is "
                "the server's overhead plus the answerer's few ms of compute. Locust runs on "
                "the same 2 cores (its CPU seconds are in each phase). Steady: 8 websocket "
                "visitors : 1 REST JSON : 1 REST SSE, a question every 20-40 s each; every "
                "question unique (no answer-cache hits); turns/s counted after all arrived. "
                "rss_mb_per_visitor = (server RSS with everyone connected - before) / "
                "established connections to the server port; it includes what the turns "
                "themselves leave behind (answer and query-embedding caches, transcripts in "
                "the visitors' states). rss_mb_per_idle_visitor: the same with websocket "
                "visitors that open the chat and ask nothing (phase before steady). "
                "Saturation: step ramp, users asking about once "
                "a second, visitors leaving after 5 questions; highest achieved turns/s "
                "of a step with p95 <= 1 s."
            ),
        }
    )
    path = write_json(name, data)
    print(
        f"\n{'shape':<16}{'visitors':>9}{'errors':>7}{'turns/s':>9}{'p50':>8}{'p95':>8}"
        f"{'p99':>8}{'sat/s':>8}{'MB/vis':>8}"
    )
    for shape, s in data["shapes"].items():
        print(
            f"{shape:<16}{s['visitors']:>9}{s['errors']:>7}{s['turns_per_s']:>9}"
            f"{s['overhead_p50_ms']!s:>8}{s['overhead_p95_ms']!s:>8}{s['overhead_p99_ms']!s:>8}"
            f"{s['saturation_turns_per_s']:>8}{s['rss_mb_per_visitor']!s:>8}"
        )
    print(f"written: {path}")
    if args.quick:
        # Quick mode is CI's check that the benchmark still works end to end: a run where
        # visitors cannot connect or turns fail is broken, not merely slow.
        failed = {
            shape: (s["errors"], s.get("idle", {}).get("connect_errors", 0))
            for shape, s in data["shapes"].items()
            if s["errors"] or s.get("idle", {}).get("connect_errors", 0)
        }
        if failed:
            raise SystemExit(f"load benchmark had errors (turns, idle connects): {failed}")


if __name__ == "__main__":
    main()
