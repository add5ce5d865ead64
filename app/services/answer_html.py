"""Answer markdown -> HTML, rendered on the server for the chat bubble and transcripts.

Why on the server: a browser markdown stack (react-markdown + remark/micromark, and with
Reflex's `rx.markdown` also remark-math/KaTeX and a syntax highlighter) was the largest
part of the visitor's download, and its math plugin typeset "$6.95 … $45" as LaTeX. The
server already parses every answer with markdown-it to sanitize it; rendering it to HTML
here costs microseconds and ships no parser to the visitor.

What is rendered: CommonMark plus GFM tables and `~~strikethrough~~`, the same dialect the
sanitizer (`app.rag.sanitize`) accepts. Nothing else: no math (a `$` is a dollar), no
autolinking, no syntax highlighting, no typographic replacements.

Safety does not depend on the input having been sanitized first (it should be, for the
link rules per widget): raw HTML in the input is escaped, images are drawn as their alt
text (nothing is fetched), and a link survives only with an http(s) URL or a root-relative
path on our own site; it opens in a new tab without a referrer or opener.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

_SAFE_HREF = re.compile(r"^(?:https?://[^\s/\\]|/(?![/\\]))", re.IGNORECASE)
_SKIP_CLOSE = "cc_skip_link_close"


def _image(
    self: RendererHTML, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    return escapeHtml(self.renderInlineAsText(tokens[idx].children or [], options, env))


def _link_open(
    self: RendererHTML, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    token = tokens[idx]
    if not _SAFE_HREF.match(str(token.attrGet("href") or "")):
        env[_SKIP_CLOSE] = True  # links do not nest: the next link_close is this one's
        return ""
    token.attrSet("target", "_blank")
    token.attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def _link_close(
    self: RendererHTML, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]
) -> str:
    if env.pop(_SKIP_CLOSE, False):
        return ""
    return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )
    md.add_render_rule("image", _image)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    return md


def markdown_to_html(markdown: str) -> str:
    """Render answer markdown (already sanitized) to HTML safe to insert into a page."""
    if not markdown:
        return ""
    return _parser().render(markdown, {}).strip()
