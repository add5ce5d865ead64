"""Knowledge: upload and watch documents ingest, paste text, write Q&A pairs, test retrieval.

One module per tab (knowledge_*.py); this one lays out the tabs.
"""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.knowledge_websites import websites_tab
from app.components.shell import dashboard_page, page_header
from app.pages.knowledge_catalogues import catalogues_tab
from app.pages.knowledge_documents import action_confirm_dialog, documents_tab, text_tab
from app.pages.knowledge_qa import qa_tab
from app.pages.knowledge_retrieval import test_tab
from app.state.knowledge import (
    KnowledgeState,
)

# ---- page --------------------------------------------------------------------------------


def tab_trigger(label: str, value: str, icon: str) -> rx.Component:
    return rx.tabs.trigger(
        rx.hstack(rx.icon(icon, size=15), rx.text(label), spacing="2", align="center"),
        value=value,
        id=f"tab-{value}",
    )


@dashboard_page(routes.KNOWLEDGE, "Knowledge")
def knowledge() -> rx.Component:
    return rx.vstack(
        page_header(
            "Knowledge",
            "Documents, websites, product catalogues, pasted text and Q&A pairs your assistant "
            "answers from, for this workspace only.",
        ),
        rx.tabs.root(
            # Wraps onto a second line on phones (like Settings) instead of cutting off.
            rx.tabs.list(
                tab_trigger("Documents", "documents", "files"),
                tab_trigger("Websites", "websites", "globe"),
                tab_trigger("Paste text", "text", "clipboard-paste"),
                tab_trigger("Q&A pairs", "qa", "message-circle-question"),
                tab_trigger("Catalogues", "catalogues", "shopping-bag"),
                tab_trigger("Test retrieval", "test", "flask-conical"),
                style={"flex_wrap": "wrap", "max_width": "100%"},
            ),
            rx.tabs.content(documents_tab(), value="documents", padding_top="16px"),
            rx.tabs.content(websites_tab(), value="websites", padding_top="16px"),
            rx.tabs.content(text_tab(), value="text", padding_top="16px"),
            rx.tabs.content(qa_tab(), value="qa", padding_top="16px"),
            rx.tabs.content(catalogues_tab(), value="catalogues", padding_top="16px"),
            rx.tabs.content(test_tab(), value="test", padding_top="16px"),
            value=KnowledgeState.tab,
            on_change=KnowledgeState.set_tab,
            width="100%",
        ),
        action_confirm_dialog(),
        spacing="5",
        width="100%",
        on_mount=KnowledgeState.load,
    )
