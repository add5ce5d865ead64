"""Tiny origins for the loader test: an app (widget.js, widget configs + a stub chat page),
a host site and a foreign site, each a ThreadingHTTPServer on its own 127.0.0.1 port (= its
own origin)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
WIDGET_JS = ROOT / "embed" / "widget.js"

# path -> (content type, body) or (content type, body, status)
Route = Callable[[str], tuple[str, str] | tuple[str, str, int] | None]


class Origin:
    """Serves `route(path)`; `{{APP}}`, `{{HOST}}`, `{{EVIL}}` in bodies become origins."""

    def __init__(self, route: Route, origins: dict[str, str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = route(urlsplit(self.path).path)
                if found is None:
                    self.send_error(404)
                    return
                ctype, body, *rest = found
                for name, url in origins.items():
                    body = body.replace("{{" + name + "}}", url)
                data = body.encode()
                self.send_response(rest[0] if rest else 200)
                self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Messages a page in a frame can post to its parent; shared by the stub, rogue and evil pages.
MESSAGES_JS = """
const MESSAGES = {
  ready: {type: 'chatconnect:ready'},
  config: {type: 'chatconnect:config', color: '#16a34a', position: 'left', title: 'Acme help'},
  message: {type: 'chatconnect:message', role: 'assistant'},
  close: {type: 'chatconnect:close'},
};
window.received = [];
addEventListener('message', (e) => {
  received.push({origin: e.origin, data: e.data});
  document.getElementById('log').textContent += e.origin + ' ' + JSON.stringify(e.data) + '\\n';
});
"""

# The app's /embed/<id> page, reduced to the protocol: it posts to the origin of its `host`
# query parameter (never "*") and logs what the loader sends it.
STUB_CHAT = (
    """<!doctype html><html><head><meta charset="utf-8"><title>stub chat</title>
<style>body{margin:0;font:15px system-ui,sans-serif;background:#f8fafc;color:#0f172a}
header{background:#0f172a;color:#fff;padding:14px 16px;font-weight:600}
main{padding:16px}button{margin:4px;padding:8px 12px;font:inherit}
pre{white-space:pre-wrap;font-size:11px;background:#e2e8f0;padding:8px}</style></head>
<body><header>Stub chat · <span id="wid"></span></header><main>
<p>Mode <b id="mode"></b>, host <b id="host"></b></p>
<button data-msg="config">config</button><button data-msg="message">assistant message</button>
<button data-msg="close" id="close">close</button>
<p><a id="leave" href="{{EVIL}}/spy.html">leave to a foreign origin</a></p>
<pre id="log"></pre></main>
<script>"""
    + MESSAGES_JS
    + """
const params = new URLSearchParams(location.search);
const parentOrigin = new URL(params.get('host')).origin;
document.getElementById('wid').textContent = decodeURIComponent(location.pathname.split('/')[2]);
document.getElementById('mode').textContent = params.get('mode');
document.getElementById('host').textContent = params.get('host');
window.send = (name) => parent.postMessage(MESSAGES[name], parentOrigin);
for (const b of document.querySelectorAll('button')) b.onclick = () => send(b.dataset.msg);
send('ready');
</script></body></html>"""
)

# A frame that spoofs the protocol: posts with "*" from whatever origin serves it.
SPOOF = (
    """<!doctype html><html><body><pre id="log"></pre><script>"""
    + MESSAGES_JS
    + """window.send = (name) => parent.postMessage(MESSAGES[name], '*');</script></body></html>"""
)

HOSTILE_CSS = """
* { all: unset !important; font-size: 40px !important; line-height: 3 !important;
    color: #9a3412 !important; }
html, body, p, h1, header, main { display: block !important; }
head, script, style { display: none !important; }
/* A transformed body is the containing block of its position:fixed children (so the widget
   attaches to <html>); body scrolls, so the banner below still sits at the viewport bottom. */
body { margin: 0 !important; padding: 0 24px !important; background: #fff7ed !important;
       transform: translateZ(0) !important; height: 100vh !important; overflow: auto !important;
       box-sizing: border-box !important; }
button, svg { display: none !important; }
iframe { display: none !important; width: 1px !important; height: 1px !important; }
div, span { position: static !important; z-index: 1 !important;
            box-sizing: content-box !important; }
chatconnect-widget { display: none !important; opacity: 0 !important; }
.banner { display: block !important; position: fixed !important; left: 0 !important;
          right: 0 !important; bottom: 0 !important; height: 140px !important;
          background: #fde68a !important; z-index: 2147483646 !important; }
"""

LOREM = "<p>Fresh roasted beans, delivered weekly. Our baristas answer questions.</p>" * 12


def snippet(widget_id: str, **attrs: str) -> str:
    extra = "".join(f' data-{k}="{v}"' for k, v in attrs.items())
    return (
        f'<script src="{{{{APP}}}}/embed/widget.js" data-widget-id="{widget_id}"{extra} async>'
        "</script>"
    )


def host_page(body: str, head: str = "", css: str = HOSTILE_CSS) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>host</title><style>{css}</style>{head}</head><body>{body}</body></html>"
    )


# What GET /embed/<id>/config.json answers per widget id (the real one: app/api/embed_assets).
CONFIG_CYAN = "#0891b2"
CONFIGS: dict[str, tuple[int, dict[str, object]]] = {
    "acme_42": (
        200,
        {
            "allowed": True,
            "title": "Acme support",
            "color": CONFIG_CYAN,
            "position": "right",
            "avatar_url": "",
        },
    ),
    "avatar_7": (
        200,
        {
            "allowed": True,
            "title": "Ada",
            "color": "#be123c",
            "position": "left",
            "avatar_url": "https://avatars.example/ada.png",
        },
    ),
    "legacy": (200, {"allowed": True, "title": "Legacy", "color": CONFIG_CYAN}),
    "elsewhere": (200, {"allowed": False}),
    "gone": (404, {"error": "not_found"}),
    "broken": (500, {"error": "boom"}),
    "slow_9": (200, {"allowed": True, "title": "Slow", "color": CONFIG_CYAN}),
}
SLOW_CONFIG_S = 1.5  # how long slow_9's config takes


def app_route(path: str) -> tuple[str, str] | tuple[str, str, int] | None:
    if path == "/embed/widget.js":
        return "text/javascript", WIDGET_JS.read_text()
    if path.startswith("/embed/") and path.endswith("/config.json"):
        widget_id = path.split("/")[2]
        if widget_id == "slow_9":
            time.sleep(SLOW_CONFIG_S)
        status, config = CONFIGS.get(widget_id, (404, {"error": "not_found"}))
        return "application/json", json.dumps(config), status
    if path == "/rogue.html":
        return "text/html", SPOOF
    if path == "/embed/legacy":  # a chat page that does not speak the protocol
        return "text/html", "<!doctype html><title>legacy</title><p>Chat without postMessage"
    if path.startswith("/embed/") and path.count("/") == 2:
        return "text/html", STUB_CHAT
    return None


def evil_route(path: str) -> tuple[str, str] | None:
    if path in ("/evil.html", "/spy.html"):
        return "text/html", SPOOF
    return None


def host_route(widget_id: str) -> Route:
    pages = {
        "/blank.html": host_page("<h1>Nothing here</h1>"),
        # Two identical snippets: the loader must still add exactly one bubble.
        "/hostile.html": host_page(
            "<h1>Acme Coffee</h1>"
            + LOREM
            + '<div class="banner">Cookie banner</div>'
            + snippet(widget_id, color="#7c3aed")
            + snippet(widget_id, color="#7c3aed")
        ),
        "/foreign.html": host_page(
            "<h1>Acme Coffee</h1>"
            + snippet(widget_id)
            + '<iframe id="evil" src="{{EVIL}}/evil.html"></iframe>'
            + '<iframe id="rogue" src="{{APP}}/rogue.html"></iframe>'
        ),
        "/legacy.html": host_page("<h1>Acme Coffee</h1>" + snippet("legacy")),
        # Config says no (origin not allowed / widget gone), or cannot be fetched.
        "/elsewhere.html": host_page("<h1>Acme Coffee</h1>" + snippet("elsewhere")),
        "/gone.html": host_page("<h1>Acme Coffee</h1>" + snippet("gone")),
        "/broken.html": host_page(
            "<h1>Acme Coffee</h1>" + snippet("broken", color="#7c3aed", position="left")
        ),
        "/avatar.html": host_page("<h1>Acme Coffee</h1>" + snippet("avatar_7")),
        "/slow.html": host_page("<h1>Acme Coffee</h1>" + snippet("slow_9")),
        # The snippet sits in <head>, before its target exists (the async-loader race).
        "/inline.html": host_page(
            "<h1>Help center</h1>"
            '<div id="chat-box" style="display:block!important;width:640px!important;'
            'height:480px!important;margin:20px!important;outline:2px dashed #999!important">'
            "</div>" + LOREM,
            head=snippet(widget_id, mode="inline", target="#chat-box"),
        ),
    }

    def route(path: str) -> tuple[str, str] | None:
        body = pages.get(path)
        return None if body is None else ("text/html", body)

    return route
