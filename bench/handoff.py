"""Human handoff delivery latency (make bench-handoff -> bench/results/handoff.json).

A staff message posted through the REST API (`POST /api/v1/conversations/<id>/
staff-messages`, scope `inbox`) until it is on the visitor's screen: the chat page
(/embed/<id>) open in headless Chromium, a MutationObserver stamping `Date.now()` when
the reply's bubble appears, minus the wall-clock time just before the POST (same machine,
same clock). The path measured is the real one: API -> inbox service -> commit -> live
event -> `App.modify_state` on the visitor's state -> websocket delta -> React render.
Messages are sent one after another (each waits for the previous to arrive).

Server: a real `reflex run --env prod` on loopback with embedded defaults (one process,
memory state manager), seeded like bench/embed.py. Goal: p95 <= 500 ms over 50 messages.

`--quick`: 10 messages, writes bench/results/handoff_quick.json (handoff.json untouched).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import load_avg, log, machine_info, percentiles_ms, utc_now, write_json
from bench.embed import CHROMIUM, start_server

GOAL_P95_MS = 500.0

OBSERVER_JS = """() => {
  window.__arrivals = {};
  const seen = new Set();
  const scan = () => document.querySelectorAll('.cc-staff').forEach(el => {
    const text = el.textContent || '';
    const m = text.match(/bench-msg-\\d+/);
    if (m && !seen.has(m[0])) { seen.add(m[0]); window.__arrivals[m[0]] = Date.now(); }
  });
  new MutationObserver(scan).observe(document.body,
    {subtree: true, childList: true, characterData: true});
  scan();
}"""


def _seed(data_dir: Path):  # type: ignore[no-untyped-def]
    from app.db import session_scope
    from app.models import User
    from app.services import widgets
    from app.services.api_keys import create_key
    from tests.support.embed_world import seed

    world = seed(data_dir, ["shop.example"], email="bench-handoff@acme-coffee.io")
    with session_scope(world.engine) as s:
        widgets.update_widget(s, world.tenant_id, world.widget_id, escalation={"button": "always"})
        owner = s.query(User).filter(User.email == "bench-handoff@acme-coffee.io").one()
        key = create_key(s, world.tenant_id, "bench", ["inbox"], created_by=owner.id).secret
    return world, key


def run(base: str, widget_id: str, key: str, messages: int) -> dict:
    from playwright.sync_api import sync_playwright

    latencies: list[float] = []
    api_s: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(f"{base}/embed/{widget_id}?mode=inline")
        page.wait_for_selector("#cc-person", timeout=120_000)
        page.click("#cc-person")
        page.wait_for_selector("#cc-handoff-line", timeout=30_000)
        conversation_id = page.evaluate(
            "JSON.parse(localStorage.getItem('cc_conversations') || '{}')"
        )[widget_id]
        page.evaluate(OBSERVER_JS)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for i in range(messages + 1):  # the first one warms up (not counted)
                tag = f"bench-msg-{i}"
                t0 = time.time()
                response = client.post(
                    f"/api/v1/conversations/{conversation_id}/staff-messages",
                    json={"text": f"{tag} Thanks for waiting, here is the answer."},
                )
                api_done = time.time()
                response.raise_for_status()
                page.wait_for_function(f"() => !!window.__arrivals['{tag}']", timeout=30_000)
                arrived_ms = page.evaluate(f"window.__arrivals['{tag}']")
                if i > 0:
                    latencies.append(max(0.0, arrived_ms / 1000.0 - t0))
                    api_s.append(api_done - t0)
        browser.close()
    return {
        "delivery": percentiles_ms(latencies),
        "api_response": percentiles_ms(api_s),
        "messages": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="10 messages (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.messages = 10
    work = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    # The API key is minted here: hashed with the server's secret, so share it.
    secret = secrets.token_urlsafe(48)
    os.environ["SECRET_KEY"] = secret
    from app.settings import reset_settings_cache

    reset_settings_cache()
    proc, base = start_server(work / "data", work / "server.log", secret_key=secret)
    pgid = os.getpgid(proc.pid)
    try:
        log(f"server at {base}")
        world, key = _seed(work / "data")
        figures = run(base, world.widget_id, key, args.messages)
        world.engine.dispose()
    finally:
        os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    delivery = figures["delivery"]
    log(f"delivery p50 {delivery.get('p50_ms')} ms, p95 {delivery.get('p95_ms')} ms")
    path = write_json(
        "handoff_quick.json" if args.quick else "handoff.json",
        {
            "when": utc_now(),
            "quick": args.quick,
            "p50_ms": delivery.get("p50_ms"),
            "p95_ms": delivery.get("p95_ms"),
            "goal_p95_ms": GOAL_P95_MS,
            "load_average": load_avg(),
            "machine": machine_info(),
            **figures,
            "notes": (
                "delivery = Date.now() in the visitor's page when the staff bubble appears "
                "minus time.time() just before the API POST (one machine, one clock); "
                "sequential messages, the first as warm-up; api_response = the POST's own "
                "round trip. One process, memory state manager (embedded shape)."
            ),
        },
    )
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
