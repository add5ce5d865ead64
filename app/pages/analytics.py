"""Analytics."""

from __future__ import annotations

from app import routes
from app.components.placeholder import placeholder_page

analytics = placeholder_page(
    routes.ANALYTICS,
    "Analytics",
    "chart-line",
    "Trends across conversations, tokens, cost and feedback.",
    "Charts of conversations, messages, tokens, cost, feedback and "
    "unanswered questions will appear once there is traffic.",
)
