"""Tables that become stacked cards on phones: every row a card, every cell a
"label: value" line. The labels come from the column headers (CSS `nth-child`), so the
row functions stay plain `rx.table.cell`s."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

PHONE_MAX = "640px"


def stacked_on_phones(headers: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Style for an `rx.table.root` whose columns are `headers` (an empty header: no label)."""
    phone: dict[str, Any] = {
        "min_width": "0 !important",
        # Radix wraps the table in a ScrollArea whose flex viewport collapses to zero height
        # once the table is no longer `display: table`: make the wrappers plain blocks.
        "& .rt-ScrollAreaRoot, & .rt-ScrollAreaViewport, & .rt-ScrollAreaViewport > div": {
            "display": "block !important",
            "overflow": "visible !important",
            "height": "auto !important",
        },
        # A `display: block` table still measured 0 px tall in Chromium (its rows overflowed
        # the wrappers, clipped away); a flex column takes its rows' height.
        "& table": {
            "display": "flex !important",
            "flex_direction": "column",
            "height": "auto !important",
            "width": "100%",
            "overflow": "visible",
        },
        "& tbody, & tr, & th, & td": {"display": "block", "width": "100%"},
        "& thead": {"display": "none"},
        "& tbody tr": {
            "padding": "8px 0",
            "border_bottom": f"1px solid {rx.color('gray', 5)}",
        },
        "& tbody tr > *": {
            "display": "flex",
            "gap": "12px",
            "align_items": "center",
            "justify_content": "space-between",
            "text_align": "right",
            "box_shadow": "none",
            "padding": "4px 12px",
            "max_width": "none",
            "min_height": "0",
            "height": "auto",
        },
        "& tbody tr > *::before": {
            "color": rx.color("gray", 11),
            "font_size": "var(--font-size-1)",
            "font_weight": "500",
            "text_align": "left",
            "flex_shrink": "0",
        },
    }
    for index, label in enumerate(headers, start=1):
        if label:
            phone[f"& tbody tr > :nth-child({index})::before"] = {"content": json.dumps(label)}
        else:
            phone[f"& tbody tr > :nth-child({index})"] = {"justify_content": "flex-end"}
    return {f"@media (max-width: {PHONE_MAX})": phone}
