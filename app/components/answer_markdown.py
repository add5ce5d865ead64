"""`answer_markdown`: an answer's (already sanitized) markdown in the dashboard's transcripts,
drawn the way the widget draws it: quotes, lists, emphasis, code and tables, no raw `> `.

Lean like the widget's renderer: react-markdown with remark-gfm only. No math (so
"$6.95 … $45" stays two prices), no raw HTML, no syntax highlighter, no images. Headings
inside an answer are drawn as bold paragraphs so the page keeps its single <h1> and a
sane heading outline.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

_GFM_OPTIONS = {"singleTilde": False}  # "~$5" is not strikethrough


def _el(tag: str, class_name: str = ""):  # type: ignore[no-untyped-def]
    element = getattr(rx.el, "del_" if tag == "del" else tag)
    if class_name:
        return lambda text, **props: element(text, class_name=class_name)
    return lambda text, **props: element(text)


COMPONENT_MAP: dict[str, Any] = {
    **{
        tag: _el(tag)
        for tag in "ul ol li blockquote em strong del hr table thead tbody tr th td".split()  # noqa: SIM905
    },
    **{f"h{level}": _el("p", "md-heading") for level in range(1, 7)},
    "p": _el("p"),
    "code": _el("code", "md-code"),
    "pre": lambda text, **props: rx.el.pre(rx.el.code(text), class_name="md-pre"),
    "a": lambda text, **props: rx.el.a(text, target="_blank", rel="noopener noreferrer nofollow"),
    "img": lambda text, **props: rx.fragment(),  # never fetch anything an answer names
}

_CSS: dict[str, Any] = {
    "line_height": "1.55",
    "overflow_wrap": "anywhere",
    "& > :first-child": {"margin_top": "0"},
    "& > :last-child": {"margin_bottom": "0"},
    "p": {"margin": "0.4em 0"},
    ".md-heading": {"font_weight": "700"},
    "ul, ol": {"padding_left": "1.4em", "margin": "0.35em 0"},
    "li": {"margin": "0.15em 0"},
    "blockquote": {
        "margin": "0.45em 0",
        "padding_left": "0.8em",
        "border_left": f"3px solid {rx.color('gray', 6)}",
        "color": rx.color("gray", 11),
    },
    ".md-code, .md-pre": {
        "font_family": "var(--code-font-family)",
        "font_size": "0.9em",
        "background": rx.color("gray", 4),
        "border_radius": "4px",
    },
    ".md-code": {"padding": "0.1em 0.3em"},
    ".md-pre": {"padding": "0.6em 0.8em", "white_space": "pre-wrap", "margin": "0.45em 0"},
    ".md-pre code": {"font": "inherit"},
    "a": {"color": rx.color("accent", 11), "text_decoration": "underline"},
    "table": {"border_collapse": "collapse", "margin": "0.45em 0"},
    "th, td": {"border": f"1px solid {rx.color('gray', 6)}", "padding": "0.25em 0.5em"},
    "hr": {"border": "0", "border_top": f"1px solid {rx.color('gray', 6)}"},
}


def answer_markdown(text: rx.Var | str, **props: Any) -> rx.Component:
    """Sanitized answer markdown inside a div of class `answer-md` (props go to the div)."""
    return rx.el.div(
        rx.markdown.root(
            text,
            component_map=COMPONENT_MAP,
            remark_plugins=[(rx.markdown.plugin.gfm, _GFM_OPTIONS)],
            rehype_plugins=[],
        ),
        class_name="answer-md",
        # `style` (not `css=`, which Reflex nests under a literal "css" key) reaches emotion.
        style=_CSS,
        **props,
    )
