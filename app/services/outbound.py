"""The one helper for HTTP requests to URLs a tenant typed (webhooks): SSRF rules, size
and time limits. The host is resolved once and every address must be public (no
loopback, private, link-local, multicast or reserved ranges) unless
OUTBOUND_ALLOW_PRIVATE is on; redirects are not followed; the response body read is
capped. (A DNS answer that changes between the check and the connection is not pinned:
documented in the README as a known limit.)"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.settings import get_settings

TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024


class OutboundError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    status_code: int
    body: str


def check_url(url: str, *, allow_private: bool | None = None) -> str:
    """The URL if it may be requested, else OutboundError with a reason a person can act on."""
    allow = get_settings().outbound_allow_private if allow_private is None else allow_private
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("Use an http:// or https:// URL.")
    if len(url) > 500:
        raise OutboundError("The URL is too long (500 characters at most).")
    if parts.username or parts.password:
        raise OutboundError("Put credentials in the path or a header, not in the URL.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise OutboundError(f"“{parts.hostname}” does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not allow and not address.is_global:
            raise OutboundError("That address is private or local; use a public URL.")
    return url.strip()


def post(url: str, body: bytes, headers: dict[str, str]) -> OutboundResponse:
    check_url(url)
    with (
        httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= MAX_RESPONSE_BYTES:
                break
        return OutboundResponse(
            response.status_code, data[:MAX_RESPONSE_BYTES].decode("utf-8", "replace")
        )
