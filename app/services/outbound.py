"""The one outbound-HTTP helper for every URL a tenant typed (crawl, sitemaps, robots.txt,
webhook deliveries, widget actions).

Safety rules (SSRF), all enforced here and nowhere else:
- only http(s); user:password@ in a URL is refused (it would leak into logs and Referers);
- the host is resolved and refused when ANY of its addresses is loopback, private,
  link-local, multicast, reserved, unspecified, shared (CGN) or a cloud metadata address;
- redirects are followed by hand, at most `max_redirects`, each hop checked again;
- the connection itself is made by a guarded network backend that resolves and vets the
  host once more and connects to exactly the address it vetted (the URL's host stays in the
  Host header and TLS SNI/certificate check), so DNS rebinding between check and connect
  finds nothing to exploit;
- connect/read timeouts, a total deadline per request and a response size cap.

`CRAWL_ALLOW_PRIVATE_NETWORKS=true` lets self-hosters (and the tests, which serve sites and
receivers on loopback) reach private addresses, for crawls and webhooks alike; metadata,
multicast and unspecified addresses stay refused.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba): never reachable.
METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_BLOCKED = "blocked: "


class OutboundError(Exception):
    """A request that was not made or did not complete; `reason` is fit for an owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BlockedURLError(OutboundError):
    """Refused by the SSRF rules, before any connection to the refused address."""


class TooLargeError(OutboundError):
    pass


class TooManyRedirectsError(OutboundError):
    pass


class FetchTimeoutError(OutboundError):
    pass


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"The host {host} could not be resolved.") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why this address may not be contacted, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_IPS:
        return "a cloud metadata address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL; raises BlockedURLError otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BlockedURLError("The URL is not valid.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedURLError("Only http:// and https:// URLs can be fetched.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BlockedURLError("URLs with a user name or password are refused.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedURLError("The URL has no host.")
    return scheme, host, port or (443 if scheme == "https" else 80)


def vetted_addresses(
    host: str, port: int, *, allow_private: bool, resolver: Resolver = system_resolver
) -> list[str]:
    """Every address of `host`, or BlockedURLError when any of them is refused."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal else resolver(host, port)
    if not addresses:
        raise OutboundError(f"The host {host} could not be resolved.")
    for raw in addresses:
        ip = ipaddress.ip_address(raw.split("%", 1)[0])
        why = address_refusal(ip, allow_private=allow_private)
        if why:
            raise BlockedURLError(f"{host} points to {why}; it is not fetched.")
    return addresses


MAX_URL_CHARS = 2000


def vet_url(
    url: str, *, allow_private: bool | None = None, resolver: Resolver = system_resolver
) -> str:
    """The URL (stripped) when a request to it would be allowed now, for forms that store a
    URL (webhook endpoints); the request itself is checked again when it is made."""
    if len(url) > MAX_URL_CHARS:
        raise BlockedURLError(f"The URL is too long ({MAX_URL_CHARS} characters at most).")
    _scheme, host, port = check_url(url)
    if allow_private is None:
        from app.settings import get_settings

        allow_private = get_settings().crawl_allow_private_networks
    vetted_addresses(host, port, allow_private=allow_private, resolver=resolver)
    return url.strip()


class GuardedBackend(SyncBackend):
    """httpcore's socket backend, connecting only to addresses vetted at connect time."""

    def __init__(self, *, allow_private: bool, resolver: Resolver) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.connects: list[tuple[str, int]] = []  # what was dialled (tests read it)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = vetted_addresses(
                host, port, allow_private=self.allow_private, resolver=self.resolver
            )
        except OutboundError as exc:
            # httpx re-wraps the error without its cause: the marker carries the verdict.
            marker = _BLOCKED if isinstance(exc, BlockedURLError) else ""
            raise httpcore.ConnectError(marker + exc.reason) from exc
        last: Exception | None = None
        for ip in addresses:
            self.connects.append((ip, port))
            try:
                return super().connect_tcp(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(host)


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *, allow_private: bool, resolver: Resolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = GuardedBackend(allow_private=allow_private, resolver=resolver)
        ssl_context = self._pool._ssl_context  # the verified context httpx just built
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=kwargs.get("limits", httpx.Limits()).max_connections,
            network_backend=self.backend,
        )


@dataclass
class FetchResult:
    url: str  # the final URL, after redirects
    status: int
    headers: dict[str, str]
    content: bytes
    redirects: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class OutboundPolicy:
    allow_private: bool = False
    user_agent: str = "ChatConnectBot/0.1"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 20.0
    max_redirects: int = 5
    max_bytes: int = DEFAULT_MAX_BYTES


class OutboundClient:
    """A pooled, guarded HTTP client. Thread-safe (httpx.Client is)."""

    def __init__(self, policy: OutboundPolicy, *, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver
        self.transport = GuardedTransport(
            allow_private=policy.allow_private,
            resolver=resolver,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._client = httpx.Client(
            transport=self.transport,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the address checks
            timeout=httpx.Timeout(
                policy.read_timeout_s,
                connect=policy.connect_timeout_s,
                pool=policy.connect_timeout_s,
            ),
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    @property
    def connects(self) -> list[tuple[str, int]]:
        return self.transport.backend.connects

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self, url: str) -> None:
        """Refuse a URL up front (scheme, credentials, every resolved address)."""
        _scheme, host, port = check_url(url)
        vetted_addresses(
            host, port, allow_private=self.policy.allow_private, resolver=self.resolver
        )

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> FetchResult:
        """GET with hand-followed redirects; every hop is checked before it is requested."""
        started = time.monotonic()
        deadline = started + self.policy.total_timeout_s
        redirects: list[str] = []
        seen = set()
        current = url
        while True:
            self.check(current)
            response = self._one(current, headers or {}, deadline)
            if response.status in REDIRECT_CODES and "location" in response.headers:
                if len(redirects) >= self.policy.max_redirects:
                    raise TooManyRedirectsError(f"More than {self.policy.max_redirects} redirects.")
                nxt = urljoin(current, response.headers["location"]).split("#", 1)[0]
                if nxt in seen or nxt == current:
                    raise TooManyRedirectsError("The redirects loop.")
                seen.add(current)
                redirects.append(current)
                current = nxt
                continue
            response.redirects = redirects
            response.elapsed_s = time.monotonic() - started
            return response

    def post(self, url: str, body: bytes, *, headers: dict[str, str] | None = None) -> FetchResult:
        """POST once (a redirect is returned, not followed); the response body is read up to
        the size cap and cut there (a receiver's answer is only logged)."""
        self.check(url)
        started = time.monotonic()
        result = self._one(
            url, headers or {}, started + self.policy.total_timeout_s, method="POST",
            content=body, truncate=True,
        )  # fmt: skip
        result.elapsed_s = time.monotonic() - started
        return result

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> FetchResult:
        """One request with any method (a tenant's action): a redirect is returned, not
        followed, so the request stays on the vetted host; the body is cut at the cap."""
        self.check(url)
        started = time.monotonic()
        result = self._one(
            url, headers or {}, started + self.policy.total_timeout_s, method=method.upper(),
            content=body, truncate=True,
        )  # fmt: skip
        result.elapsed_s = time.monotonic() - started
        return result

    def _one(
        self,
        url: str,
        headers: dict[str, str],
        deadline: float,
        *,
        method: str = "GET",
        content: bytes | None = None,
        truncate: bool = False,
    ) -> FetchResult:
        cap = self.policy.max_bytes
        try:
            with self._client.stream(method, url, headers=headers, content=content) as resp:
                declared = resp.headers.get("content-length", "")
                if not truncate and declared.isdigit() and int(declared) > cap:
                    raise TooLargeError(f"The response is larger than {cap // 1024 // 1024} MB.")
                body = bytearray()
                if resp.status_code not in REDIRECT_CODES:
                    for chunk in resp.iter_bytes():
                        body.extend(chunk)
                        if len(body) > cap and truncate:
                            del body[cap:]
                            break
                        if len(body) > cap:
                            raise TooLargeError(
                                f"The response is larger than {cap // 1024 // 1024} MB."
                            )
                        if time.monotonic() > deadline:
                            raise FetchTimeoutError("The page took too long to download.")
                return FetchResult(
                    url=url,
                    status=resp.status_code,
                    headers={k.lower(): v for k, v in resp.headers.items()},
                    content=bytes(body),
                )
        except httpx.TimeoutException as exc:
            raise FetchTimeoutError("The server did not answer in time.") from exc
        except httpx.ConnectError as exc:
            if str(exc).startswith(_BLOCKED):
                raise BlockedURLError(str(exc).removeprefix(_BLOCKED)) from exc
            raise OutboundError("The server could not be reached.") from exc
        except httpx.HTTPError as exc:
            raise OutboundError(f"The request failed ({type(exc).__name__}).") from exc


def policy_from_settings(settings: Any, **overrides: Any) -> OutboundPolicy:
    """The policy the settings ask for (CRAWL_ALLOW_PRIVATE_NETWORKS, PUBLIC_URL)."""
    from app import __version__

    values: dict[str, Any] = {
        "allow_private": settings.crawl_allow_private_networks,
        "user_agent": f"ChatConnectBot/{__version__} (+{settings.public_url})",
        "max_bytes": settings.crawl_max_page_mb * 1024 * 1024,
        "total_timeout_s": settings.crawl_timeout_s,
        "read_timeout_s": min(settings.crawl_timeout_s, 10.0),
    }
    values.update(overrides)
    return OutboundPolicy(**values)


WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
WEBHOOK_TIMEOUT_S = 10.0


def post(url: str, body: bytes, headers: dict[str, str]) -> FetchResult:
    """One guarded POST with the settings' policy (webhook deliveries)."""
    from app.settings import get_settings

    policy = policy_from_settings(
        get_settings(),
        max_bytes=WEBHOOK_MAX_RESPONSE_BYTES,
        total_timeout_s=WEBHOOK_TIMEOUT_S,
        read_timeout_s=WEBHOOK_TIMEOUT_S,
        user_agent="ChatConnect-Webhooks/1",
    )
    with OutboundClient(policy) as client:
        return client.post(url, body, headers=headers)
