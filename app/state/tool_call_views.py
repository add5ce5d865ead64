"""The transcript's view of an answer's tool calls (Message.tool_calls, stored masked)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class ToolCallView:
    name: str = ""
    arguments: str = ""  # compact JSON, already masked
    status: str = ""
    latency: str = ""
    error: str = ""
    confirmed: bool = False


def tool_call_views(rows: list[Any]) -> list[ToolCallView]:
    views = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        latency = row.get("latency_ms")
        views.append(
            ToolCallView(
                name=str(row.get("name") or "?")[:64],
                arguments=json.dumps(row.get("arguments") or {}, ensure_ascii=False)[:400],
                status=str(row.get("status") or ""),
                latency=f"{int(latency)} ms" if isinstance(latency, int | float) else "",
                error=str(row.get("error") or "")[:300],
                confirmed=bool(row.get("confirmed")),
            )
        )
    return views
