"""Shown while no AI provider is connected: what answers look like now, and where to
connect one (Settings > AI providers, each with a Test connection button)."""

from __future__ import annotations

import reflex as rx

from app import routes

PROVIDERS_URL = routes.SETTINGS + "?tab=providers"


def offline_answers_notice(notice_id: str = "offline-answers") -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("quote", size=16)),
        rx.vstack(
            rx.text(
                "Answers are quoted passages from your documents",
                weight="bold",
                size="2",
            ),
            rx.text(
                "No AI provider is connected, so the assistant answers offline by quoting the "
                "passages that match best. Connect OpenAI, Anthropic, Gemini or a local Ollama "
                "for written answers: paste a key (or your Ollama URL) and press "
                "Test connection.",
                size="2",
            ),
            rx.link(
                rx.hstack(
                    rx.icon("plug", size=14), "Connect a provider", align="center", spacing="1"
                ),
                href=PROVIDERS_URL,
                weight="medium",
                size="2",
                underline="always",
                id=f"{notice_id}-connect",
            ),
            spacing="2",
            align="start",
        ),
        color_scheme="blue",
        variant="surface",
        width="100%",
        id=notice_id,
    )
