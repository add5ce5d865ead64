"""Settings → AI providers: keys (write-only), models, test connection."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error, labeled
from app.components.team_ui import (
    read_only_notice,
    section_card,
)
from app.state.settings import AUTOMATIC_MODEL, ProviderCard, SettingsState

# ---- providers ------------------------------------------------------------------------


def _secret_input(name: str, placeholder: str) -> rx.Component:
    return rx.input(
        name=name,
        id=f"cred-{name}",
        type="password",
        placeholder=placeholder,
        auto_complete="off",
        max_length=500,
        width="100%",
    )


def _provider_fields(card: ProviderCard) -> rx.Component:
    return rx.match(
        card.key,
        ("openai", _secret_input("openai_key", "sk-…")),
        ("anthropic", _secret_input("anthropic_key", "sk-ant-…")),
        ("gemini", _secret_input("gemini_key", "AIza…")),
        (
            "openai_compatible",
            rx.vstack(
                rx.input(
                    name="compat_base_url",
                    id="cred-compat_base_url",
                    placeholder=rx.cond(
                        card.base_url != "", card.base_url, "http://localhost:11434/v1"
                    ),
                    max_length=500,
                    width="100%",
                    aria_label="Base URL",
                ),
                _secret_input("compat_key", "Key (optional for Ollama)"),
                rx.text(
                    "A local Ollama: http://localhost:11434/v1, no key. Save, pick one of its "
                    "models as the default model above, then Test connection.",
                    size="1",
                    color_scheme="gray",
                ),
                width="100%",
                spacing="2",
            ),
        ),
        rx.fragment(),
    )


def provider_card(card: ProviderCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(card.label, weight="bold", size="3"),
                rx.spacer(),
                rx.badge(
                    card.status,
                    color_scheme=rx.cond(card.is_set, "green", "gray"),
                    id=f"cred-status-{card.key}",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                card.base_url != "",
                rx.text("Base URL: ", rx.code(card.base_url), size="1", color_scheme="gray"),
            ),
            rx.cond(
                SettingsState.can_credentials,
                rx.form(
                    rx.vstack(
                        _provider_fields(card),
                        rx.flex(
                            rx.button("Save", type="submit", size="2", id=f"cred-save-{card.key}"),
                            rx.button(
                                rx.cond(SettingsState.testing == card.key, rx.spinner(size="1")),
                                "Test connection",
                                type="button",
                                variant="soft",
                                size="2",
                                disabled=~card.is_set | (SettingsState.testing != ""),
                                on_click=SettingsState.test_provider(card.key),
                                id=f"cred-test-{card.key}",
                            ),
                            rx.cond(
                                card.is_set,
                                rx.button(
                                    "Remove",
                                    type="button",
                                    variant="ghost",
                                    color_scheme="red",
                                    size="2",
                                    on_click=SettingsState.clear_provider(card.key),
                                ),
                            ),
                            spacing="2",
                            wrap="wrap",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=SettingsState.save_provider,
                    reset_on_submit=True,
                    class_name="provider-form",
                    width="100%",
                ),
            ),
            rx.cond(
                card.test_message != "",
                rx.callout(
                    card.test_message,
                    icon=rx.cond(card.test_ok, "circle-check", "triangle-alert"),
                    color_scheme=rx.cond(card.test_ok, "green", "red"),
                    size="1",
                    id=f"cred-test-result-{card.key}",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def providers_section() -> rx.Component:
    return section_card(
        "AI providers",
        "Your own keys, encrypted at rest and never shown again (only the last 4 characters). "
        "Without any, answers quote your documents.",
        rx.cond(
            ~SettingsState.can_credentials,
            read_only_notice(
                "Only owners and admins can change provider credentials.", "creds-read-only"
            ),
        ),
        rx.form(
            rx.flex(
                rx.box(
                    labeled(
                        "Default model",
                        "default-model",
                        rx.select.root(
                            rx.select.trigger(id="default-model", width="100%"),
                            rx.select.content(
                                rx.select.item(
                                    "Automatic (by plan and connected providers)",
                                    value=AUTOMATIC_MODEL,
                                ),
                                rx.foreach(
                                    SettingsState.model_options,
                                    lambda o: rx.select.item(o["label"], value=o["value"]),
                                ),
                            ),
                            name="default_model",
                            default_value=SettingsState.model_choice,
                            key=SettingsState.model_choice
                            + SettingsState.model_options.length().to(str),
                            disabled=~SettingsState.can_credentials,
                        ),
                        rx.cond(
                            SettingsState.models_loading,
                            rx.text(
                                "Asking your providers for their models…",
                                size="1",
                                color_scheme="gray",
                            ),
                            rx.cond(
                                SettingsState.models_note != "",
                                rx.text(
                                    SettingsState.models_note,
                                    size="1",
                                    color_scheme="amber",
                                    id="models-note",
                                ),
                                rx.cond(
                                    SettingsState.model_options.length() == 0,
                                    rx.text(
                                        "Connect a provider below to choose one of its models.",
                                        size="1",
                                        color_scheme="gray",
                                        id="models-empty",
                                    ),
                                ),
                            ),
                        ),
                        field_error(SettingsState.model_error, "default-model-error"),
                    ),
                    flex="1",
                    min_width="220px",
                ),
                rx.button(
                    "Save model",
                    type="submit",
                    id="default-model-save",
                    disabled=~SettingsState.can_credentials,
                ),
                spacing="3",
                align="end",
                wrap="wrap",
                width="100%",
            ),
            on_submit=SettingsState.save_default_model,
            reset_on_submit=False,
        ),
        rx.grid(
            rx.foreach(SettingsState.provider_cards, provider_card),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
    )
