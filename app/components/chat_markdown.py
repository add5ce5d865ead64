"""`chat_markdown`: an answer as the visitor sees it, in the widget and in the dashboard.

Takes the HTML that `app.services.answer_html.markdown_to_html` rendered on the server
from the answer's sanitized markdown (state: `markdown_to_html(sanitize_markdown(...))`).
No markdown library runs in the browser: `rx.markdown` would bring react-markdown, its
remark-math/KaTeX plugins (which typeset "$6.95 … $45" as LaTeX) and a syntax highlighter
with its theme, the largest part of the chat page's download.

Styles itself (scoped to its wrapper) in em and Radix colour variables, so it inherits the
surrounding font size and reads well in light and dark.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"

_CSS: dict[str, Any] = {
    "line_height": "1.5",
    "overflow_wrap": "anywhere",
    "& > :first-child": {"margin_top": "0"},
    "& > :last-child": {"margin_bottom": "0"},
    "p": {"margin": "0.5em 0"},
    "h1, h2, h3, h4, h5, h6": {"font_size": "1em", "font_weight": "700", "margin": "0.6em 0 0.3em"},
    "ul, ol": {"padding_left": "1.3em", "margin": "0.3em 0"},
    "ul": {"list_style": "disc"},
    "ol": {"list_style": "decimal"},
    "li": {"margin": "0.15em 0"},
    "blockquote": {
        "margin": "0.4em 0",
        "padding_left": "0.8em",
        "border_left": "3px solid var(--gray-a6)",
        "color": "var(--gray-11)",
    },
    "code": {
        "font_family": _MONO,
        "font_size": "0.9em",
        "padding": "0.1em 0.3em",
        "border_radius": "4px",
        "background": "var(--gray-a4)",
    },
    "pre": {
        "margin": "0.4em 0",
        "padding": "0.6em 0.8em",
        "border_radius": "6px",
        "background": "var(--gray-a4)",
        "white_space": "pre-wrap",
        "font_size": "0.85em",
        "font_family": _MONO,
    },
    "pre code": {"padding": "0", "background": "none", "font_size": "1em"},
    "a": {"color": "var(--accent-11)", "text_decoration": "underline"},
    "strong": {"font_weight": "700"},
    "em": {"font_style": "italic"},
    "table": {"border_collapse": "collapse", "margin": "0.4em 0", "font_size": "0.95em"},
    "th, td": {"border": "1px solid var(--gray-a6)", "padding": "0.25em 0.5em"},
    "th": {"font_weight": "700"},
    "hr": {"border": "0", "border_top": "1px solid var(--gray-a6)", "margin": "0.6em 0"},
}


def chat_markdown(html: rx.Var | str, **props: Any) -> rx.Component:
    """Draw server-rendered answer HTML; `props` go to the wrapping div (class `cc-md`)."""
    class_name = props.pop("class_name", "")
    return rx.html(html, class_name=f"cc-md {class_name}".strip(), style=_CSS, **props)
