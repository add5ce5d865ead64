"""One widget's editor: every setting, inline validation, a live preview and the snippets."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.forms import field_label
from app.components.provider_notice import offline_answers_notice
from app.components.shell import dashboard_page, empty_state
from app.components.widget_form import form_field, form_section, snippet_block
from app.components.widget_handoff import handoff_card
from app.components.widget_mode import answer_mode_field
from app.pages.widget_actions import actions_card
from app.services.widgets import MAX_DOMAINS, MAX_STARTERS
from app.state.widgets import DEFAULT_MODEL, PREVIEW_FRAME_ID, WidgetEditorState

S = WidgetEditorState
EDITOR_ROUTE = routes.WIDGETS + "/[wid]"
TYPING_DEBOUNCE_MS = 250


def _error(field: str) -> rx.Var:
    return S.errors.get(field, "")


def _input(value: rx.Var, on_change, id: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.input(
        value=value,
        on_change=on_change,
        id=id,
        width="100%",
        debounce_timeout=TYPING_DEBOUNCE_MS,
        **props,
    )


def _textarea(value: rx.Var, on_change, id: str, rows: str = "3", **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.text_area(
        value=value,
        on_change=on_change,
        id=id,
        rows=rows,
        width="100%",
        debounce_timeout=TYPING_DEBOUNCE_MS,
        **props,
    )


def basics() -> rx.Component:
    return form_section(
        "Basics",
        "How the widget is called in this dashboard, and whether it answers at all.",
        form_field(
            "Name",
            _input(S.name, S.set_name, "widget-name", max_length=120),
            error=_error("name"),
            error_id="name-error",
        ),
        rx.hstack(
            rx.switch(checked=S.enabled, on_change=S.set_enabled, id="widget-enabled"),
            rx.vstack(
                field_label("Enabled", "widget-enabled"),
                rx.text(
                    "A disabled widget shows visitors an “unavailable” message.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="0",
            ),
            align="center",
            spacing="3",
        ),
    )


def look() -> rx.Component:
    return form_section(
        "Look",
        "Changes show in the preview right away; visitors see them after you save.",
        rx.grid(
            form_field(
                "Title",
                _input(S.title, S.set_title, "widget-title", max_length=60),
                hint="Shown in the chat header.",
            ),
            form_field(
                "Primary color",
                rx.hstack(
                    rx.el.input(
                        type="color",
                        value=S.swatch,
                        on_change=S.set_primary_color,
                        aria_label="Pick a color",
                        style={
                            "width": "40px",
                            "height": "32px",
                            "padding": "0",
                            "border": "none",
                            "background": "transparent",
                            "cursor": "pointer",
                        },
                    ),
                    _input(S.primary_color, S.set_primary_color, "widget-color", max_length=7),
                    width="100%",
                    align="center",
                ),
                error=_error("primary_color"),
                error_id="primary_color-error",
            ),
            form_field(
                "Theme",
                rx.select(
                    ["auto", "light", "dark"],
                    value=S.theme,
                    on_change=S.set_theme,
                    id="widget-theme",
                    width="100%",
                ),
                hint="Auto follows the visitor's system setting.",
            ),
            form_field(
                "Position",
                rx.select(
                    ["right", "left"],
                    value=S.position,
                    on_change=S.set_position,
                    id="widget-position",
                    width="100%",
                ),
                hint="Corner of the chat bubble on your site.",
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
        ),
        form_field(
            "Avatar URL",
            _input(
                S.avatar_url,
                S.set_avatar_url,
                "widget-avatar",
                placeholder="https://example.com/logo.png",
                max_length=500,
            ),
            hint="Optional square image, https:// only.",
            error=_error("avatar_url"),
            error_id="avatar_url-error",
        ),
    )


def conversation() -> rx.Component:
    return form_section(
        "Conversation",
        "What visitors see before they type.",
        form_field(
            "Greeting",
            _textarea(S.greeting, S.set_greeting, "widget-greeting", max_length=1000),
        ),
        form_field(
            "Starter questions",
            _textarea(
                S.starters,
                S.set_starters,
                "widget-starters",
                rows="4",
                placeholder="How do I reset my password?\nWhat does shipping cost?",
            ),
            hint=f"One per line, up to {MAX_STARTERS}.",
            error=_error("starter_questions"),
            error_id="starter_questions-error",
        ),
        form_field(
            "Input placeholder",
            _input(S.placeholder, S.set_placeholder, "widget-placeholder", max_length=200),
        ),
    )


def answers() -> rx.Component:
    return form_section(
        "Answers",
        "How the assistant answers from your knowledge.",
        answer_mode_field(S.mode, S.set_mode),
        form_field(
            "System prompt",
            _textarea(
                S.system_prompt,
                S.set_system_prompt,
                "widget-system-prompt",
                rows="5",
                max_length=8000,
                placeholder="You are the support assistant of Acme. Be brief and friendly.",
            ),
            hint="Extra instructions; answers always stay grounded in your knowledge.",
        ),
        rx.grid(
            form_field(
                "Model",
                rx.select.root(
                    rx.select.trigger(width="100%", id="widget-model"),
                    rx.select.content(
                        rx.select.item("Workspace default", value=DEFAULT_MODEL),
                        rx.foreach(S.model_options, lambda name: rx.select.item(name, value=name)),
                    ),
                    value=S.model,
                    on_change=S.set_model,
                ),
                hint="The default is set in Settings.",
            ),
            form_field(
                "Temperature",
                rx.hstack(
                    # A native range input: labelled by its <label>, keyboard and screen
                    # reader friendly (Radix's slider thumb cannot take a name).
                    rx.el.input(
                        type="range",
                        min="0",
                        max="2",
                        step="0.1",
                        value=S.temperature,
                        on_change=S.set_temperature_text,
                        id="widget-temperature",
                        style={"width": "100%", "accent_color": rx.color("accent", 9)},
                    ),
                    rx.badge(S.temperature_label, variant="surface", id="temperature-value"),
                    width="100%",
                    align="center",
                    spacing="3",
                ),
                hint="Low is precise, high is creative.",
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="4",
            width="100%",
        ),
        rx.hstack(
            rx.switch(checked=S.citations, on_change=S.set_citations, id="widget-citations"),
            field_label("Show sources under answers", "widget-citations", weight="regular"),
            align="center",
            spacing="3",
        ),
        form_field(
            "“I don't know” message",
            _textarea(S.unknown_answer, S.set_unknown_answer, "widget-unknown", max_length=1000),
            hint="Said when your knowledge has no answer.",
        ),
    )


def embedding() -> rx.Component:
    return form_section(
        "Embed",
        "Where the widget may appear, and the code to put it there.",
        form_field(
            "Allowed domains",
            rx.text_area(
                value=S.domains,
                on_change=S.set_domains,
                on_blur=S.check_domains,
                id="widget-domains",
                rows="3",
                width="100%",
                placeholder="example.com\n*.example.com\nlocalhost:8080",
                debounce_timeout=TYPING_DEBOUNCE_MS,
            ),
            hint=f"One per line (up to {MAX_DOMAINS}); *.example.com allows every "
            "subdomain. With none, only this dashboard's preview can show the widget.",
            error=_error("allowed_domains"),
            error_id="allowed_domains-error",
        ),
        snippet_block(
            "Script tag",
            "Paste before </body>: a chat bubble in the corner.",
            S.script_snippet,
            "copy-script",
            S.copy_snippet("script"),
        ),
        snippet_block(
            "Iframe",
            "The chat inline in your page, without JavaScript.",
            S.iframe_snippet,
            "copy-iframe",
            S.copy_snippet("iframe"),
        ),
    )


def preview() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Live preview", size="3", as_="h2"),
                rx.spacer(),
                rx.cond(
                    S.dirty,
                    rx.badge(
                        rx.icon("circle-dot", size=12),
                        "Unsaved changes: visitors don't see them yet",
                        variant="soft",
                        color_scheme="amber",
                        id="preview-status",
                    ),
                    rx.badge(
                        rx.icon("check", size=12),
                        "Saved: this is what visitors see",
                        variant="soft",
                        color_scheme="green",
                        id="preview-status",
                    ),
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.el.iframe(
                src=S.preview_url,
                id=PREVIEW_FRAME_ID,
                title="Widget preview",
                style={
                    "width": "100%",
                    "height": "600px",
                    "border": f"1px solid {rx.color('gray', 5)}",
                    "border_radius": "12px",
                    "background": rx.color("gray", 2),
                },
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def header() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.link(
                rx.hstack(rx.icon("arrow-left", size=14), rx.text("All widgets", size="2")),
                href=routes.WIDGETS,
                color_scheme="gray",
                id="back-to-widgets",
            ),
            rx.heading(S.name, size="6", id="editor-heading", as_="h1"),
            spacing="1",
            min_width="0",
        ),
        rx.spacer(),
        rx.button(
            rx.icon("save", size=16),
            "Save",
            on_click=S.save,
            id="save-widget",
        ),
        width="100%",
        align="end",
        wrap="wrap",
        gap="3",
    )


def editor_skeleton() -> rx.Component:
    return rx.vstack(
        rx.skeleton(rx.box(height="32px", width="240px")),
        rx.grid(
            rx.vstack(
                *[rx.skeleton(rx.box(height="160px", width="100%")) for _ in range(3)],
                spacing="4",
            ),
            rx.skeleton(rx.box(height="480px", width="100%")),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="5",
            width="100%",
        ),
        spacing="5",
        width="100%",
    )


@dashboard_page(EDITOR_ROUTE, "Edit widget", on_load=S.load)
def widget_editor() -> rx.Component:
    return rx.box(
        rx.cond(
            S.loaded,
            rx.cond(
                S.missing,
                rx.vstack(
                    empty_state(
                        "circle-help",
                        "Widget not found",
                        "It may have been deleted, or it belongs to another workspace.",
                    ),
                    rx.link("Back to widgets", href=routes.WIDGETS),
                    align="center",
                    spacing="4",
                    width="100%",
                ),
                rx.vstack(
                    header(),
                    rx.cond(~S.has_provider, offline_answers_notice("editor-offline-answers")),
                    rx.grid(
                        rx.vstack(
                            basics(),
                            look(),
                            conversation(),
                            answers(),
                            embedding(),
                            handoff_card(),
                            actions_card(),
                            rx.hstack(
                                rx.button(
                                    rx.icon("save", size=16),
                                    "Save changes",
                                    on_click=S.save,
                                    id="save-widget-bottom",
                                ),
                                justify="end",
                                width="100%",
                            ),
                            spacing="4",
                            width="100%",
                            min_width="0",
                        ),
                        # Sticky beside the long form on wide screens, below it on phones.
                        rx.box(
                            preview(),
                            min_width="0",
                            position=rx.breakpoints(initial="static", lg="sticky"),
                            top="24px",
                        ),
                        columns=rx.breakpoints(initial="1", lg="2"),
                        spacing="5",
                        width="100%",
                        align_items="start",
                    ),
                    spacing="5",
                    width="100%",
                ),
            ),
            editor_skeleton(),
        ),
        width="100%",
        id="widget-editor",
        # Read by the leave guard (state/widgets.py LEAVE_GUARD_SCRIPT).
        custom_attrs={"data-dirty": S.dirty},
    )
