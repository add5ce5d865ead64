"""Embeddable chat figures (make bench-embed -> bench/results/embed.json).

1. Loader size: embed/widget.js raw and gzipped, as the server sends it.
2. The chat page (/embed/<id>) in headless Chromium on localhost: bytes transferred over
   HTTP (encoded = gzipped on the wire, from the DevTools network events) and time to
   interactive (navigation start until the question input is editable, i.e. the page is
   hydrated, the websocket is up and the widget's settings arrived), cold and warm cache.
3. Server memory per connected visitor: RSS of the server's processes before and after
   N visitors (browser pages on the chat page, each hydrated with its own websocket and
   state), divided by N. Goal: <= 1 MB each.

The server is a real `reflex run --env prod` on a free port with a throwaway DATA_DIR,
seeded with one workspace, widget and document (tests/support/embed_world.py).

`--quick` (CI smoke run, well under a minute once the frontend is built): one cold and one
warm load and 5 visitors; writes bench/results/embed_quick.json, leaving embed.json alone.
The headline figures are repeated at the top level: `cold_transfer_kb`, `tti_cold_ms`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, log, machine_info, start_prod_server, utc_now, write_json

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
GOAL_MB_PER_VISITOR = 1.0
GOAL_COLD_KB = 300
GOAL_TTI_COLD_MS = 800


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    data_dir: Path, log_path: Path, secret_key: str | None = None
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL")
    }
    env.update(
        PORT=str(port),
        PUBLIC_URL=base,
        DATA_DIR=str(data_dir),
        # bench/handoff.py passes its own, to mint API keys the server can verify.
        SECRET_KEY=secret_key or secrets.token_urlsafe(48),
        HF_HUB_OFFLINE="1",
        REFLEX_USE_SYSTEM_BUN="1",
        # Limits are not what is measured here.
        RATE_VISITOR_PER_MINUTE="1000",
        RATE_FREE_PER_HOUR="100000",
    )
    proc = start_prod_server(env, base, log_path)
    return proc, base


def server_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the server's process group."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total_kb / 1024


def established_connections(port: int) -> int:
    """TCP connections to the server port in state ESTABLISHED (the visitors' websockets)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                count += 1
    return count


def loader_size(base: str) -> dict[str, Any]:
    raw = (ROOT / "embed" / "widget.js").read_bytes()
    served = httpx.get(f"{base}/embed/widget.js", headers={"accept-encoding": "gzip"})
    wire = int(served.headers.get("content-length") or len(served.content))
    return {
        "raw_bytes": len(raw),
        "gzip_bytes_served": wire,
        "gzip_kb_served": round(wire / 1024, 2),
        "content_encoding": served.headers.get("content-encoding"),
        "goal_kb": 10,
    }


def _page_load(context: Any, url: str) -> dict[str, float]:
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    encoded: dict[str, float] = {}
    decoded: dict[str, int] = {}
    urls: dict[str, str] = {}

    def sent(event: dict) -> None:
        urls[event["requestId"]] = event["request"]["url"].split("?")[0].rsplit("/", 1)[-1]

    def finished(event: dict) -> None:
        encoded[event["requestId"]] = event["encodedDataLength"]

    def received(event: dict) -> None:
        decoded[event["requestId"]] = decoded.get(event["requestId"], 0) + event["dataLength"]

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.dataReceived", received)
    page.goto(url, wait_until="commit")
    page.wait_for_selector("#cc-input:not([readonly])", timeout=120_000)
    tti_ms = page.evaluate("performance.now()")
    # CPU time the page's main thread spent until then: less sensitive than wall time to a
    # busy shared machine (the wall-clock TTI there is mostly waiting for a core).
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    page.wait_for_load_state("networkidle")
    result = {
        "tti_ms": round(tti_ms, 1),
        "main_thread_ms": round(metrics.get("TaskDuration", 0) * 1000, 1),
        "script_ms": round(metrics.get("ScriptDuration", 0) * 1000, 1),
        "requests": len(encoded),
        "transferred_kb": round(sum(encoded.values()) / 1024, 1),
        "decoded_kb": round(sum(decoded.values()) / 1024, 1),
        # Where the bytes go: the ten largest responses (file name, KB on the wire).
        "largest": [
            [urls.get(rid, rid), round(size / 1024, 1)]
            for rid, size in sorted(encoded.items(), key=lambda kv: -kv[1])[:40]
        ],
    }
    page.close()
    return result


def page_figures(browser: Any, base: str, widget_id: str, runs: int) -> dict[str, Any]:
    url = f"{base}/embed/{widget_id}?mode=inline&host=https%3A%2F%2Fshop.example%2F"
    cold = []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 400, "height": 640})
        cold.append(_page_load(context, url))
        context.close()
    context = browser.new_context(viewport={"width": 400, "height": 640})
    _page_load(context, url)
    warm = [_page_load(context, url) for _ in range(runs)]
    context.close()

    def summary(rows: list[dict[str, float]]) -> dict[str, float]:
        return {
            "tti_ms_median": statistics.median(r["tti_ms"] for r in rows),
            "tti_ms_all": [r["tti_ms"] for r in rows],
            "main_thread_ms_median": statistics.median(r["main_thread_ms"] for r in rows),
            "script_ms_median": statistics.median(r["script_ms"] for r in rows),
            "transferred_kb": statistics.median(r["transferred_kb"] for r in rows),
            "decoded_kb": statistics.median(r["decoded_kb"] for r in rows),
            "requests": statistics.median(r["requests"] for r in rows),
            "largest": rows[0]["largest"],
        }

    return {
        "url": url,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cold_cache": summary(cold),
        "warm_cache": summary(warm),
    }


def memory_per_visitor(browser: Any, base: str, widget_id: str, pgid: int, n: int) -> dict:
    url = f"{base}/embed/{widget_id}?mode=inline&host=https%3A%2F%2Fshop.example%2F"
    # Warm up: imports, caches and the first state instance are not per-visitor costs.
    warm = browser.new_context()
    page = warm.new_page()
    page.goto(url)
    page.wait_for_selector("#cc-input:not([readonly])", timeout=120_000)
    time.sleep(3)
    before = server_rss_mb(pgid)
    contexts = []
    for i in range(n):
        # A context per visitor: its own localStorage, visitor token and websocket.
        context = browser.new_context(viewport={"width": 400, "height": 640})
        visitor = context.new_page()
        visitor.goto(url)
        visitor.wait_for_selector("#cc-input:not([readonly])", timeout=120_000)
        contexts.append(context)
        if (i + 1) % 25 == 0:
            log(f"  {i + 1} visitors connected, server RSS {server_rss_mb(pgid):.0f} MB")
    time.sleep(5)
    after = server_rss_mb(pgid)
    open_connections = established_connections(int(base.rsplit(":", 1)[1]))
    connected = len(contexts)
    for context in contexts:
        context.close()
    warm.close()
    per = (after - before) / connected
    return {
        "visitors": connected,
        "established_connections_at_measurement": open_connections,
        "server_rss_before_mb": round(before, 1),
        "server_rss_after_mb": round(after, 1),
        "mb_per_visitor": round(per, 3),
        "goal_mb_per_visitor": GOAL_MB_PER_VISITOR,
        "meets_goal": per <= GOAL_MB_PER_VISITOR,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 run, 5 visitors (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.visitors = 1, 5

    from playwright.sync_api import sync_playwright

    from tests.support.embed_world import seed, wait_ready

    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    proc, base = start_server(work / "data", work / "server.log")
    pgid = os.getpgid(proc.pid)
    try:
        log(f"server at {base}")
        world = seed(work / "data", ["shop.example"])
        wait_ready(world)
        loader = loader_size(base)
        log(f"loader: {loader['gzip_bytes_served']} B gzipped")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--renderer-process-limit=8"],
            )
            page = page_figures(browser, base, world.widget_id, args.runs)
            log(
                f"page: {page['cold_cache']['transferred_kb']} KB cold, "
                f"TTI {page['cold_cache']['tti_ms_median']} ms cold / "
                f"{page['warm_cache']['tti_ms_median']} ms warm"
            )
            memory = memory_per_visitor(browser, base, world.widget_id, pgid, args.visitors)
            log(f"memory: {memory['mb_per_visitor']} MB per visitor ({memory['visitors']})")
            browser.close()
        world.engine.dispose()
    finally:
        os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    path = write_json(
        "embed_quick.json" if args.quick else "embed.json",
        {
            "when": utc_now(),
            "quick": args.quick,
            "cold_transfer_kb": page["cold_cache"]["transferred_kb"],
            "tti_cold_ms": page["cold_cache"]["tti_ms_median"],
            "load_average_1m": page["load_average_1m"],
            "goals": {"cold_transfer_kb": GOAL_COLD_KB, "tti_cold_ms": GOAL_TTI_COLD_MS},
            "machine": machine_info(),
            "loader": loader,
            "chat_page": page,
            "memory": memory,
            "notes": (
                "transferred_kb = encoded (gzipped) bytes incl. headers from DevTools "
                "Network.loadingFinished; TTI = performance.now() when #cc-input is editable; "
                "main_thread_ms / script_ms = the page's main-thread task / script CPU time "
                "until then (DevTools Performance metrics). load_average_1m: the machine's "
                "load when the page figures were taken (2 cores shared with other work). "
                "Memory = server process-group RSS delta / visitors, each visitor a separate "
                "browser context with its own websocket and Reflex state (memory state "
                "manager, embedded shape)."
            ),
        },
    )
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
