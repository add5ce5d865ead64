"""Structured JSON logs on stderr; secrets never reach them (settings hold SecretStr)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Per-request fields (request_id, tenant_id) set by the API middleware; every log line
# written while serving the request carries them.
request_context: ContextVar[dict[str, Any] | None] = ContextVar("request_context", default=None)


class JsonFormatter(logging.Formatter):
    EXTRA_FIELDS = ("request_id", "tenant_id", "latency_ms", "status", "path", "method")

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = request_context.get() or {}
        for key in self.EXTRA_FIELDS:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
            elif context.get(key) is not None:
                payload[key] = context[key]
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("chatconnect")
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
