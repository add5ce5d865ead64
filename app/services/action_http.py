"""Running an owner's HTTP action through the outbound guard.

- the URL is the owner's template with each `{param}` replaced by the argument,
  percent-encoded (no `/`, `?`, `#` or `@` can be smuggled in), so arguments land in the
  path or the query only; the host must be the template's own host (the allow-list);
- the request goes through `OutboundClient.request`: SSRF rules as for crawls (no private
  or metadata addresses unless CRAWL_ALLOW_PRIVATE_NETWORKS), redirects not followed, the
  action's timeout, a response size cap;
- GET/DELETE send only the URL; POST/PUT/PATCH send the arguments as a JSON body;
- the answer becomes DATA for the model: status line plus compact JSON or text, clipped.
Header values (secrets) never leave this module except in the request itself.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from app.models import WidgetAction
from app.services import outbound
from app.services.actions import placeholders, stored_headers
from app.settings import get_settings

MAX_RESPONSE_BYTES = 64 * 1024
MAX_RESULT_CHARS = 4_000
USER_AGENT = "ChatConnect-Actions/1"


@dataclass(slots=True)
class HttpOutcome:
    content: str
    is_error: bool
    status: int | None = None


def build_url(template: str, args: dict[str, Any]) -> str:
    values = {}
    for name in placeholders(template):
        if args.get(name) in (None, ""):
            raise ValueError(f"missing argument {name!r} for the URL")
        value = args[name]
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        values[name] = quote(text, safe="")
    url = template.format(**values)
    if urlsplit(url).netloc.lower() != urlsplit(template).netloc.lower():
        raise ValueError("the URL left the action's host")
    return url


def _as_data(status: int, content_type: str, body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + "… (cut)"
    return f"HTTP {status}\n{text}"


def run_http_action(
    action: WidgetAction, args: dict[str, Any], client: outbound.OutboundClient | None = None
) -> HttpOutcome:
    """Blocking; call it from a worker thread."""
    try:
        url = build_url(action.url_template, args)
    except ValueError as exc:
        return HttpOutcome(f"Error: {exc}.", True)
    headers = {"Accept": "application/json, text/plain;q=0.9", **stored_headers(action)}
    body = None
    if action.method in ("POST", "PUT", "PATCH"):
        body = json.dumps(args, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    own = client is None
    if client is None:
        policy = outbound.policy_from_settings(
            get_settings(),
            user_agent=USER_AGENT,
            max_bytes=MAX_RESPONSE_BYTES,
            total_timeout_s=action.timeout_s,
            read_timeout_s=action.timeout_s,
            connect_timeout_s=min(5.0, action.timeout_s),
            max_redirects=0,
        )
        client = outbound.OutboundClient(policy)
    try:
        result = client.request(action.method, url, body=body, headers=headers)
    except outbound.FetchTimeoutError:
        return HttpOutcome("Error: the action's server did not answer in time.", True)
    except outbound.BlockedURLError as exc:
        return HttpOutcome(f"Error: the action's address is refused ({exc.reason}).", True)
    except outbound.OutboundError as exc:
        return HttpOutcome(f"Error: {exc.reason}", True)
    finally:
        if own:
            client.close()
    return HttpOutcome(
        _as_data(result.status, result.content_type, result.content),
        result.status >= 300,
        result.status,
    )
