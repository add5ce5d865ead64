"""A widget's allowed domains: which hosts and ports a pattern admits.

One rule for everything that trusts an allowed domain: the chat page's CSP
`frame-ancestors` (`app.services.framing`) and the links kept clickable in answers
(`app.rag.sanitize`). Both must agree, or a link to an allowed host on another port (a
different origin, possibly another service) would stay clickable in an answer while that
origin could not even frame the chat.

Patterns, as `app.services.widgets.normalize_domain` stores them (this parser also accepts
the forms people type: upper case, a URL, a Unicode host):
- "example.com" admits example.com and www.example.com; "www.example.com", an IPv4
  address and "localhost" admit exactly themselves.
- "*.example.com" admits every subdomain at any depth and the apex (CSP's own wildcard
  leaves the apex out, so it is listed too). A wildcard needs two labels after "*."
  ("*.com" is refused).
- Without a port, only the scheme's default port (80 for http, 443 for https) is admitted,
  as in CSP; "example.com:8443" admits port 8443 only.
Hosts are compared as ASCII (IDNA/punycode), by whole labels: example.com.evil.io and
evil-example.com never match example.com.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import idna

__all__ = ["DEFAULT_PORTS", "DomainPattern", "parse_domain"]

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT = re.compile(r"^\d{1,5}$")


@dataclass(frozen=True, slots=True)
class DomainPattern:
    host: str  # ASCII, lower case, no trailing dot; the apex for a wildcard
    port: int | None  # None: the scheme's default port
    wildcard: bool

    @property
    def text(self) -> str:
        """The canonical stored form ("*.example.com:8443")."""
        suffix = f":{self.port}" if self.port is not None else ""
        return f"{'*.' if self.wildcard else ''}{self.host}{suffix}"

    @property
    def exact_hosts(self) -> tuple[str, ...]:
        """Hosts admitted as they are (a wildcard's subdomains come on top)."""
        if self.wildcard or _is_ip(self.host) or self.host == "localhost":
            return (self.host,)
        if self.host.startswith("www."):
            return (self.host,)
        return (self.host, f"www.{self.host}")

    def csp_sources(self) -> list[str]:
        """CSP host-sources (scheme-less: they follow the chat page's own scheme)."""
        suffix = f":{self.port}" if self.port is not None else ""
        wild = [f"*.{self.host}{suffix}"] if self.wildcard else []
        return wild + [f"{h}{suffix}" for h in self.exact_hosts]

    def admits(self, scheme: str, host: str, port: int | None = None) -> bool:
        """Whether an http(s) origin falls under this pattern (`port` None = default)."""
        default = DEFAULT_PORTS.get(scheme.lower())
        if default is None:
            return False
        actual = default if port is None else port
        if actual != (default if self.port is None else self.port):
            return False
        host = host.lower().rstrip(".")
        return host in self.exact_hosts or (self.wildcard and host.endswith("." + self.host))


def _is_ip(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


@lru_cache(maxsize=4096)
def parse_domain(value: str) -> DomainPattern | None:
    """A domain pattern (or a URL naming one) parsed, or None when it is unusable."""
    raw = (value or "").strip().lower()
    if "://" in raw:
        try:
            raw = urlsplit(raw).netloc
        except ValueError:
            return None
    raw = re.split(r"[/?#]", raw, maxsplit=1)[0]
    if "@" in raw or not raw:
        return None  # userinfo is never part of a pattern
    wildcard = raw.startswith("*.")
    host, _, port = (raw[2:] if wildcard else raw).partition(":")
    host = host.rstrip(".")
    if port and (not _PORT.match(port) or not 0 < int(port) < 65536):
        return None
    try:
        host = idna.encode(host, uts46=True).decode("ascii") if host else ""
    except UnicodeError:  # idna.IDNAError and codec errors alike
        return None
    if not _HOST.match(host):
        return None
    labels = host.split(".")
    named = len(labels) >= 2 and all(_LABEL.match(x) for x in labels) and not labels[-1].isdigit()
    if not (named or _is_ip(host) or host == "localhost"):
        return None
    if wildcard and not named:
        return None  # "*.com", "*.localhost" and "*.1.2.3.4" would admit far too much
    return DomainPattern(host, int(port) if port else None, wildcard)
