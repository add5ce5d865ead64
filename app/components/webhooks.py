"""Settings > Webhooks."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error
from app.services.webhooks import EVENTS, SIGNATURE_HEADER
from app.state.webhooks import DeliveryView, EndpointView
from app.state.webhooks import WebhooksState as W


def _delivery(d: DeliveryView) -> rx.Component:
    return rx.hstack(
        rx.badge(
            d.status,
            color_scheme=rx.match(
                d.status, ("delivered", "green"), ("failed", "red"), ("queued", "orange"), "gray"
            ),
            high_contrast=True,
        ),
        rx.text(d.event, size="1"),
        rx.text("HTTP " + d.code + " · " + d.attempts.to_string() + " attempt(s)", size="1"),
        rx.text(d.when, size="1", color_scheme="gray"),
        rx.cond(d.error != "", rx.text(d.error, size="1", color_scheme="red")),
        spacing="2",
        wrap="wrap",
        class_name="webhook-delivery",
    )


def _endpoint(e: EndpointView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(e.url, weight="medium", size="2", overflow_wrap="anywhere"),
                rx.cond(e.slack, rx.badge("Slack")),
                rx.spacer(),
                rx.cond(
                    W.can_manage,
                    rx.hstack(
                        rx.button(
                            "Send test event",
                            size="1",
                            variant="soft",
                            on_click=W.send_test(e.id),
                            class_name="webhook-test",
                        ),
                        rx.button(
                            "Delete",
                            size="1",
                            variant="ghost",
                            color_scheme="red",
                            on_click=W.delete(e.id),
                        ),
                    ),
                ),
                width="100%",
                wrap="wrap",
            ),
            rx.text(e.events, size="1", color_scheme="gray"),
            rx.text("Recent deliveries", size="1", weight="bold"),
            rx.cond(
                e.deliveries.length() > 0,
                rx.vstack(rx.foreach(e.deliveries, _delivery), spacing="1"),
                rx.text("None yet.", size="1", color_scheme="gray"),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="webhook-endpoint",
    )


def _event_box(name: str) -> rx.Component:
    return rx.el.label(
        rx.checkbox(
            checked=W.chosen.contains(name),
            on_change=lambda v: W.toggle_event(name, v),
            name=f"event_{name}",
            aria_label=name,
        ),
        rx.text(name, size="2"),
        style={"display": "flex", "gap": "8px", "align_items": "center"},
    )


def webhooks_section() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.heading("Webhooks", size="4", as_="h2"),
                rx.text(
                    "We POST handoff events to your URL, signed with the endpoint's secret: "
                    f"header {SIGNATURE_HEADER}: t=<unix time>,v1=<hex HMAC-SHA256 of "
                    "“<t>.” + raw body>. Failed deliveries are retried with backoff.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    W.can_manage,
                    rx.form(
                        rx.vstack(
                            rx.el.label(
                                "Endpoint URL", html_for="webhook-url", style={"font_size": "14px"}
                            ),
                            rx.input(
                                name="url",
                                id="webhook-url",
                                placeholder="https://example.com/hooks",
                                width="100%",
                            ),
                            *[_event_box(e) for e in EVENTS],
                            rx.el.label(
                                rx.checkbox(
                                    checked=W.slack,
                                    on_change=W.set_slack,
                                    name="slack",
                                    aria_label="Slack-compatible body",
                                ),
                                rx.text("Slack-compatible body (incoming-webhook URL)", size="2"),
                                style={"display": "flex", "gap": "8px", "align_items": "center"},
                            ),
                            field_error(W.hook_error, "webhook-error"),
                            rx.button("Add endpoint", type="submit", id="webhook-add"),
                            spacing="2",
                            width="100%",
                        ),
                        on_submit=W.create,
                        reset_on_submit=True,
                        width="100%",
                    ),
                    rx.text(
                        "Only owners and admins manage webhooks.", size="2", color_scheme="gray"
                    ),
                ),
                rx.cond(
                    W.new_secret != "",
                    rx.callout(
                        "Signing secret (shown once): " + W.new_secret,
                        color_scheme="green",
                        high_contrast=True,
                        id="webhook-secret",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        rx.hstack(
            rx.button("Refresh log", variant="soft", size="1", on_click=W.refresh),
            justify="end",
            width="100%",
        ),
        rx.foreach(W.endpoints, _endpoint),
        spacing="3",
        width="100%",
        on_mount=W.load,
    )
