"""A real HTTP/1.1 server on loopback serving a dict of routes (for the crawler's tests).

Each route is (status, headers, body) or a callable(handler) -> that tuple, so a test can
change pages between syncs, answer 304 to conditional requests, or trickle a slow body.
Every request is recorded (path, headers), and every accepted TCP connection counted.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = tuple[int, dict[str, str], bytes]
RouteFn = Callable[[BaseHTTPRequestHandler], Route]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, site: HttpSite) -> None:
        self.site = site
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> Any:
        conn = super().get_request()
        self.site.connections += 1
        return conn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        path = self.path
        with site.lock:
            site.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            site.inflight += 1
            site.max_inflight = max(site.max_inflight, site.inflight)
            site.starts.append(time.monotonic())
        try:
            self._answer(site, path)
        finally:
            with site.lock:
                site.inflight -= 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.site.lock:
            self.server.site.posts.append((self.path, body))
        self.do_GET()  # recorded and answered like a GET of the same route

    def _answer(self, site: HttpSite, path: str) -> None:
        route = site.routes.get(path)
        if route is None:
            status, headers, body = 404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>"
        elif callable(route):
            status, headers, body = route(self)
        else:
            status, headers, body = route
        if status == -1:  # slow page: headers, then a trickle
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), 10):
                    self.wfile.write(body[i : i + 10])
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


class HttpSite:
    def __init__(self, routes: dict[str, Route | RouteFn] | None = None) -> None:
        self.routes: dict[str, Route | RouteFn] = dict(routes or {})
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.posts: list[tuple[str, bytes]] = []  # (path, body) of each POST
        self.connections = 0
        self.inflight = 0
        self.max_inflight = 0
        self.starts: list[float] = []
        self.lock = threading.Lock()
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HttpSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)


def html(body: str, status: int = 200, **headers: str) -> Route:
    return status, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode()


def redirect(location: str, status: int = 302) -> Route:
    return status, {"Location": location}, b""
