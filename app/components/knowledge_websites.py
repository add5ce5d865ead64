"""Knowledge > Websites tab: the add form with its preview, one card per website with live
counts and actions, and the selected website's pages with their statuses and reasons."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog
from app.state.websites import PageRow, SiteRow, WebsitesState

STATUS_COLORS = {
    "queued": "gray",
    "running": "blue",
    "cancelling": "orange",
    "done": "green",
    "failed": "red",
    "cancelled": "orange",
    "idle": "gray",
    "fetched": "blue",
    "indexed": "green",
    "skipped": "gray",
}
WRAP = {"overflow_wrap": "anywhere", "word_break": "break-word"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[
            (name, rx.badge(name.capitalize(), color_scheme=color, variant="soft"))
            for name, color in STATUS_COLORS.items()
        ],
        rx.badge(status, variant="soft"),
    )


def _field(label: str, for_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.el.label(
            label, html_for=for_id, style={"font_size": "var(--font-size-2)", "font_weight": "500"}
        ),
        control,
        spacing="1",
        width="100%",
    )


def add_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Add a website", size="3", as_="h2"),
                _field(
                    "Start URL or sitemap URL",
                    "site-url",
                    rx.input(
                        name="url",
                        id="site-url",
                        placeholder="https://docs.example.com/",
                        required=True,
                        width="100%",
                    ),
                ),
                rx.grid(
                    _field(
                        "Scope",
                        "site-scope",
                        rx.select.root(
                            rx.select.trigger(id="site-scope", width="100%"),
                            rx.select.content(
                                rx.select.item("Same host", value="host"),
                                rx.select.item("Host and subdomains", value="subdomains"),
                                rx.select.item("Path prefix", value="prefix"),
                            ),
                            value=WebsitesState.scope,
                            on_change=WebsitesState.set_scope,
                        ),
                    ),
                    _field(
                        "Re-sync",
                        "site-schedule",
                        rx.select.root(
                            rx.select.trigger(id="site-schedule", width="100%"),
                            rx.select.content(
                                rx.select.item("Off", value="off"),
                                rx.select.item("Daily", value="daily"),
                                rx.select.item("Weekly", value="weekly"),
                            ),
                            value=WebsitesState.schedule,
                            on_change=WebsitesState.set_schedule_choice,
                        ),
                    ),
                    _field(
                        "Maximum pages",
                        "site-max-pages",
                        rx.input(
                            name="max_pages",
                            id="site-max-pages",
                            placeholder="500",
                            type="number",
                            width="100%",
                        ),
                    ),
                    _field(
                        "Maximum depth",
                        "site-max-depth",
                        rx.input(
                            name="max_depth",
                            id="site-max-depth",
                            placeholder="5",
                            type="number",
                            width="100%",
                        ),
                    ),
                    columns=rx.breakpoints(initial="1", sm="2", md="4"),
                    spacing="3",
                    width="100%",
                ),
                rx.grid(
                    _field(
                        "Include (one pattern a line)",
                        "site-include",
                        rx.text_area(
                            name="include",
                            id="site-include",
                            placeholder="/docs/*",
                            rows="2",
                            width="100%",
                        ),
                    ),
                    _field(
                        "Exclude (one pattern a line)",
                        "site-exclude",
                        rx.text_area(
                            name="exclude",
                            id="site-exclude",
                            placeholder="*/changelog/*",
                            rows="2",
                            width="100%",
                        ),
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    WebsitesState.form_error != "",
                    rx.callout(
                        WebsitesState.form_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="site-error",
                        width="100%",
                        style=WRAP,
                    ),
                ),
                rx.flex(
                    rx.text(
                        "robots.txt is honoured; the preview lists the first 20 URLs a crawl "
                        "would fetch.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("list", size=16),
                        "Preview",
                        type="submit",
                        id="site-preview",
                        variant="soft",
                        loading=WebsitesState.previewing,
                    ),
                    width="100%",
                    align="center",
                    spacing="3",
                    wrap="wrap",
                ),
                preview_box(),
                spacing="3",
                width="100%",
            ),
            on_submit=WebsitesState.preview,
            width="100%",
        ),
        width="100%",
    )


def preview_box() -> rx.Component:
    return rx.cond(
        WebsitesState.preview_urls.length() > 0,
        rx.vstack(
            rx.text("These URLs would be crawled first:", size="2", weight="medium"),
            rx.el.ol(
                rx.foreach(
                    WebsitesState.preview_urls,
                    lambda u: rx.el.li(rx.text(u, size="1", style=WRAP)),
                ),
                id="site-preview-list",
                style={"padding_left": "20px", "margin": "0"},
            ),
            rx.hstack(
                rx.button(
                    rx.icon("play", size=16),
                    "Start crawl",
                    id="site-start",
                    type="button",  # inside the preview form: must not submit it again
                    on_click=WebsitesState.start_crawl,
                ),
                rx.button(
                    "Clear",
                    type="button",
                    variant="ghost",
                    color_scheme="gray",
                    on_click=WebsitesState.clear_preview,
                ),
                spacing="3",
            ),
            spacing="2",
            width="100%",
        ),
    )


def _count(label: str, value: rx.Var, color: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="bold", color_scheme=color),  # type: ignore[arg-type]
        spacing="1",
        align="baseline",
    )


def site_card(site: SiteRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.link(
                    rx.text(site.url, weight="medium", size="2", style=WRAP),
                    href="#",
                    on_click=WebsitesState.select(site.id).prevent_default,
                    aria_label="Show the pages of " + site.url,
                ),
                rx.spacer(),
                status_badge(site.status),
                width="100%",
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.flex(
                _count("Indexed", site.indexed, "green"),
                _count("In progress", site.pending, "blue"),
                _count("Skipped", site.skipped, "gray"),
                _count("Failed", site.failed, "red"),
                spacing="4",
                wrap="wrap",
                class_name="site-counts",
            ),
            rx.text(
                "Last sync: "
                + site.last_sync
                + " · added "
                + site.added.to_string()
                + ", changed "
                + site.changed.to_string()
                + ", removed "
                + site.removed.to_string(),
                size="1",
                color_scheme="gray",
                class_name="site-last-sync",
            ),
            rx.flex(
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Sync now",
                    size="1",
                    variant="soft",
                    disabled=site.active,
                    on_click=WebsitesState.sync(site.id),
                    aria_label="Sync now " + site.url,
                ),
                rx.cond(
                    (site.status == "running") | (site.status == "queued"),
                    rx.button(
                        rx.icon("square", size=14),
                        "Cancel",
                        size="1",
                        variant="soft",
                        color_scheme="orange",
                        on_click=WebsitesState.cancel(site.id),
                        aria_label="Cancel the crawl of " + site.url,
                    ),
                ),
                rx.select.root(
                    rx.select.trigger(aria_label="Sync schedule of " + site.url),
                    rx.select.content(
                        rx.select.item("Sync: off", value="off"),
                        rx.select.item("Sync: daily", value="daily"),
                        rx.select.item("Sync: weekly", value="weekly"),
                    ),
                    value=site.schedule,
                    on_change=lambda v: WebsitesState.change_schedule(site.id, v),
                    size="1",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("trash-2", size=14),
                    "Delete",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=WebsitesState.ask_delete(site.id, site.url),
                    aria_label="Delete " + site.url,
                ),
                spacing="2",
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.cond(WebsitesState.selected == site.id, pages_list()),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="site-card",
    )


def page_row(page: PageRow) -> rx.Component:
    return rx.flex(
        status_badge(page.status),
        rx.vstack(
            rx.text(page.url, size="1", style=WRAP),
            rx.cond(
                page.reason != "", rx.text(page.reason, size="1", color_scheme="gray", style=WRAP)
            ),
            spacing="0",
            min_width="0",
        ),
        spacing="2",
        align="start",
        class_name="site-page",
        data_status=page.status,
        width="100%",
    )


def pages_list() -> rx.Component:
    return rx.vstack(
        rx.separator(size="4"),
        rx.flex(
            rx.heading("Pages", size="2", as_="h3"),
            rx.spacer(),
            rx.select.root(
                rx.select.trigger(aria_label="Show pages with status"),
                rx.select.content(
                    *[
                        rx.select.item(label, value=value)
                        for value, label in [
                            ("all", "All"),
                            ("indexed", "Indexed"),
                            ("queued", "Queued"),
                            ("fetched", "Fetched"),
                            ("skipped", "Skipped"),
                            ("failed", "Failed"),
                        ]
                    ]
                ),
                value=WebsitesState.page_filter,
                on_change=WebsitesState.set_page_filter,
                size="1",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            WebsitesState.pages.length() > 0,
            rx.vstack(rx.foreach(WebsitesState.pages, page_row), spacing="2", width="100%"),
            rx.text("No pages with this status.", size="1", color_scheme="gray"),
        ),
        spacing="2",
        width="100%",
        id="site-pages",
    )


def delete_dialog() -> rx.Component:
    return confirm_dialog(
        "Delete this website?",
        rx.text(rx.text.strong(WebsitesState.delete_url), style=WRAP),
        rx.text(
            "Its pages leave the knowledge base (passages and stored copies).", margin_top="8px"
        ),
        confirm_label="Delete website",
        confirm_id="site-delete-yes",
        on_confirm=WebsitesState.confirm_delete,
        on_cancel=WebsitesState.cancel_delete,
        open=WebsitesState.delete_id != "",
        on_open_change=lambda _open: WebsitesState.cancel_delete(),
    )


def websites_tab() -> rx.Component:
    return rx.vstack(
        add_form(),
        rx.cond(
            WebsitesState.sites.length() > 0,
            rx.vstack(rx.foreach(WebsitesState.sites, site_card), spacing="3", width="100%"),
            rx.text("No websites yet: add one above.", size="2", color_scheme="gray"),
        ),
        delete_dialog(),
        spacing="4",
        width="100%",
        on_mount=WebsitesState.load,
    )
