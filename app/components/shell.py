"""The signed-in shell: sidebar navigation, workspace name, user menu, color-mode toggle.

`dashboard_page` wraps a page function with the shell and the server-side login check,
so each page module stays short (the reflex-dev/templates `template` pattern).
"""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from app import routes
from app.page_registry import page as register_page
from app.state.auth import AuthState
from app.state.presence import PresenceState

NAV_ITEMS: list[tuple[str, str, str]] = [
    ("Overview", routes.OVERVIEW, "layout-dashboard"),
    ("Widgets", routes.WIDGETS, "message-square"),
    ("Knowledge", routes.KNOWLEDGE, "book-open"),
    # Canned replies and order lookups that need no LLM (widgets in intent/hybrid mode).
    ("Intents", routes.INTENTS, "sparkles"),
    ("Inbox", routes.INBOX, "inbox"),
    ("Conversations", routes.CONVERSATIONS, "messages-square"),
    ("Leads", routes.LEADS, "contact"),
    ("Analytics", routes.ANALYTICS, "chart-line"),
    ("API keys", routes.API_KEYS, "key-round"),
    ("Settings", routes.SETTINGS, "settings"),
]


def brand() -> rx.Component:
    return rx.hstack(
        rx.center(
            rx.icon("bot", size=18, color="white"),
            width="30px",
            height="30px",
            border_radius="8px",
            background=rx.color("accent", 9),
        ),
        rx.text("ChatConnect", weight="bold", size="4"),
        align="center",
        spacing="2",
    )


def nav_link(label: str, href: str, icon: str) -> rx.Component:
    path = rx.State.router.url.path
    badge = (
        rx.cond(
            PresenceState.unread_badge > 0,
            rx.badge(
                PresenceState.unread_badge.to_string(),
                color_scheme="amber",
                high_contrast=True,
                radius="full",
                id="inbox-badge",
                aria_label=PresenceState.unread_badge.to_string() + " unread",
            ),
        )
        if href == routes.INBOX
        else rx.fragment()
    )
    # A full page load may report "/widgets/"; sub-pages (/widgets/<id>) keep their section lit.
    active = (path == href) | path.startswith(href + "/")
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=16),
            rx.text(label, size="2"),
            rx.spacer(),
            badge,
            align="center",
            spacing="3",
            padding_x="12px",
            padding_y="8px",
            border_radius="8px",
            width="100%",
            background=rx.cond(active, rx.color("accent", 3), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("gray", 3)},
        ),
        href=href,
        underline="none",
        width="100%",
        aria_current=rx.cond(active, "page", ""),
    )


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("circle-user", size=16),
                rx.text(
                    AuthState.user_email,
                    size="2",
                    trim="both",
                    max_width="150px",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                ),
                variant="ghost",
                color_scheme="gray",
                # The visible email must be part of the name (WCAG 2.5.3 label in name).
                aria_label=AuthState.user_email + ", account menu",
                id="user-menu",
            ),
        ),
        rx.menu.content(
            rx.box(
                rx.text("Role: ", AuthState.role, size="1", color_scheme="gray"),
                padding_x="8px",
                padding_y="4px",
            ),
            rx.menu.item("Settings", on_click=rx.redirect(routes.SETTINGS)),
            rx.menu.separator(),
            rx.menu.item("Log out", color="red", on_click=AuthState.logout, id="logout"),
        ),
    )


def theme_toggle() -> rx.Component:
    return rx.color_mode.button(
        size="2", variant="ghost", aria_label="Switch between light and dark theme"
    )


def sidebar() -> rx.Component:
    """The column's background and border run the page's full height (the outer box
    stretches with the content); the navigation inside stays in view while scrolling."""
    nav = rx.vstack(
        brand(),
        rx.box(
            rx.text("Workspace", size="1", color_scheme="gray"),
            rx.text(AuthState.tenant_name, size="2", weight="medium", id="workspace-name"),
            padding="10px",
            border_radius="8px",
            background=rx.color("gray", 2),
            width="100%",
            border=f"1px solid {rx.color('gray', 4)}",
        ),
        rx.el.nav(
            rx.vstack(*[nav_link(*item) for item in NAV_ITEMS], spacing="1", width="100%"),
            aria_label="Main",
            width="100%",
        ),
        rx.spacer(),
        rx.hstack(
            user_menu(),
            rx.spacer(),
            theme_toggle(),
            width="100%",
            align="center",
        ),
        height="100vh",
        padding="16px",
        spacing="4",
        position="sticky",
        top="0",
    )
    # <aside>: the brand and workspace name sit in a landmark too.
    return rx.el.aside(
        nav,
        width="240px",
        min_width="240px",
        align_self="stretch",
        border_right=f"1px solid {rx.color('gray', 4)}",
        background=rx.color("gray", 1),
        display=["none", "none", "block"],
        id="sidebar",
    )


def mobile_bar() -> rx.Component:
    return rx.el.header(
        rx.hstack(
            brand(),
            rx.spacer(),
            rx.menu.root(
                rx.menu.trigger(
                    rx.icon_button(rx.icon("menu"), variant="ghost", aria_label="Open navigation")
                ),
                rx.menu.content(
                    *[
                        # data-nav-href lets a page's leave guard see where the item goes.
                        rx.menu.item(
                            label, on_click=rx.redirect(href), custom_attrs={"data-nav-href": href}
                        )
                        for label, href, _ in NAV_ITEMS
                    ],
                    rx.menu.separator(),
                    rx.menu.item("Log out", on_click=AuthState.logout),
                ),
            ),
            theme_toggle(),
            width="100%",
            padding="12px",
            align="center",
            border_bottom=f"1px solid {rx.color('gray', 4)}",
        ),
        display=["block", "block", "none"],
    )


def page_header(title: str, description: str, *actions: rx.Component) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="6", as_="h1"),
            rx.text(description, color_scheme="gray", size="2"),
            spacing="1",
        ),
        rx.spacer(),
        *actions,
        width="100%",
        align="center",
        wrap="wrap",
        gap="3",
    )


def empty_state(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.center(
                rx.icon(icon, size=28, color=rx.color("accent", 10)),
                width="56px",
                height="56px",
                border_radius="50%",
                background=rx.color("accent", 3),
            ),
            rx.heading(title, size="4", as_="h2"),
            rx.text(text, color_scheme="gray", size="2", text_align="center", max_width="460px"),
            align="center",
            spacing="3",
            padding_y="40px",
        ),
        width="100%",
    )


def dashboard_page(
    route: str, title: str, on_load: rx.EventHandler | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Register a signed-in page: shell around it, session checked by its loader.

    `on_load` runs after the login check; unlike a component's on_mount it sees the
    route's dynamic arguments of the page being opened.
    """
    loaders = [AuthState.require_login, *([on_load] if on_load is not None else [])]

    def decorator(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        @register_page(route, title=f"{title} · ChatConnect", on_load=loaders)
        def page() -> rx.Component:
            return rx.flex(
                sidebar(),
                rx.box(
                    mobile_bar(),
                    # The page's one <main> landmark; each page has one <h1> inside it.
                    rx.el.main(
                        rx.cond(
                            AuthState.signed_in,
                            rx.box(
                                content(),
                                padding=["16px", "24px", "32px"],
                                max_width="1200px",
                                width="100%",
                            ),
                            rx.center(rx.spinner(size="3"), height="60vh"),
                        ),
                        id="main",
                    ),
                    flex="1",
                    min_width="0",
                ),
                min_height="100vh",
                width="100%",
                align_items="stretch",
                # Staff are "online" for the inbox while a dashboard tab is connected.
                on_mount=PresenceState.keep_alive,
            )

        page.__name__ = content.__name__
        return page

    return decorator
