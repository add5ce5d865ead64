"""Make an answer's markdown safe to render, whoever wrote it (an LLM or the extractive
answerer quoting uploaded documents, both of which can carry hostile text).

The UI renders answers with react-markdown + remark-gfm + rehype-raw: raw HTML is live, bare
URLs become links, images load on sight (a zero-click exfiltration channel). So the answer
is parsed with markdown-it (CommonMark + GFM tables and strikethrough) and re-rendered from
a whitelist of constructs; nothing of the input is passed through unparsed:

- Raw HTML: tags and comments are dropped, their text kept; the content of <script>, <style>,
  <iframe> and similar is dropped with them. Any "<" that could open a tag is escaped.
- Images: never rendered; the alt text stays as plain text.
- Links: kept only when `link_allowed` says so; otherwise the link text stays and the URL
  goes. Autolinks and bare URLs to other hosts are shown as inline code (visible, not
  clickable: remark-gfm would turn plain text back into a link).
- Everything else (paragraphs, headings, lists, quotes, code, tables, emphasis) is rebuilt,
  with text escaped just enough that it cannot turn into markup on the second parse.
  `[n]` citation markers are left unescaped.

Domain rules (`link_allowed`):
- Only http/https URLs with a plain `host[:port]` authority: no userinfo (`a.com@evil.io`),
  no percent-escapes or backslashes in the authority, host made of ASCII letters, digits,
  hyphens and dots. Internationalised hosts are compared in punycode (markdown-it encodes
  link hosts; patterns are IDNA-encoded), so "ex\u0430mple.com" (Cyrillic a)
  never equals "example.com". A trailing dot on the host is ignored.
- Which hosts and ports a pattern admits is `app.rag.domains` (the rule the chat page's
  frame-ancestors uses too): "example.com" admits example.com and www.example.com on the
  default port only; "example.com:8443" that port only; "*.example.com" the apex and every
  subdomain; "*.com" nothing. Patterns may be given as URLs ("https://example.com/docs").
- `own_base_url`: same scheme, host and port are allowed (our document links), as are
  root-relative paths ("/docs/1", not "//host" or "/\\host"), which resolve to us.
- mailto:, javascript:, data:, vbscript:, file: and every other scheme are not links.

Not handled here: plain-text e-mail addresses (remark-gfm makes them mailto: links; no
request leaves the browser), `$...$` math (KaTeX renders it without \\href or images).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from app.rag.domains import DEFAULT_PORTS, DomainPattern, parse_domain

__all__ = ["clean_citations", "link_allowed", "sanitize_markdown"]

# Elements whose content is never text worth showing.
_DROP_CONTENT = frozenset(
    "script style iframe object embed template noscript textarea title svg math select "  # noqa: SIM905
    "frame frameset noembed xmp head".split()
)
_BLOCK_TAGS = frozenset(
    "p div br li tr h1 h2 h3 h4 h5 h6 section article table ul ol pre blockquote "  # noqa: SIM905
    "hr dd dt".split()
)
_TAG = re.compile(r"^<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9-]*)")
_HTTP_URL = re.compile(r"^(https?)://([^/?#]*)(.*)$", re.I | re.S)
_AUTHORITY = re.compile(r"^([a-z0-9-]+(?:\.[a-z0-9-]+)*)\.?(?::(\d{1,5}))?$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
# What remark-gfm would autolink in plain text (plus ftp), case-insensitively.
_BARE_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>`\"]+", re.I)
_URL_TRAIL = ".,:;!?*_~'\""
# Characters markdown-it keeps as they are in an autolink (others it percent-encodes).
_URL_SAFE = re.compile(r"[A-Za-z0-9;/?:@&=+$,\-_.!~*'()#%]+")
_CITATION = re.compile(r"\[\d{1,3}\](?![(:])")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ORDERED_MARK = re.compile(r"^(\d{1,9})([.)])")
_LINE_START_PUNCT = frozenset("#>+-=*_|~`")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Bidi overrides and invisible controls that can make text read differently than it parses.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


# ---------------------------------------------------------------------------------
# Link policy
# ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Policy:
    patterns: tuple[DomainPattern, ...]  # the widget's allowed domains
    own_origin: tuple[str, str, int] | None  # (scheme, host, port)


def _policy(allowed_domains: list[str], own_base_url: str) -> _Policy:
    return _cached_policy(tuple(allowed_domains), own_base_url)


@lru_cache(maxsize=256)
def _cached_policy(allowed_domains: tuple[str, ...], own_base_url: str) -> _Policy:
    patterns = (parse_domain(raw) for raw in allowed_domains)
    return _Policy(tuple(p for p in patterns if p is not None), _origin(own_base_url))


def _origin(url: str) -> tuple[str, str, int] | None:
    m = _HTTP_URL.match(url.strip())
    if not m:
        return None
    auth = _AUTHORITY.match(m.group(2).lower())
    if not auth:
        return None
    scheme = m.group(1).lower()
    port = int(auth.group(2)) if auth.group(2) else DEFAULT_PORTS[scheme]
    return scheme, auth.group(1), port


def _allowed(url: str, policy: _Policy) -> bool:
    if not url or _CONTROL.search(url) or "\\" in url:
        return False
    if not _SCHEME.match(url):
        # Root-relative only: resolves to our own origin. "//x" and "/%5Cx" would not.
        return url.startswith("/") and not url.startswith(("//", "/%5C", "/%5c"))
    origin = _origin(url)
    if origin is None:
        return False
    if origin == policy.own_origin:
        return True
    return any(p.admits(*origin) for p in policy.patterns)


def link_allowed(url: str, *, allowed_domains: list[str], own_base_url: str) -> bool:
    """Whether a (markdown-normalised) URL may stay a clickable link. Rules: module docstring."""
    return _allowed(url, _policy(allowed_domains, own_base_url))


# ---------------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------------


def _code_span(content: str) -> str:
    content = content.replace("\n", " ")
    if not content.strip():
        return ""
    longest = max((len(r) for r in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if content[0] in "` " or content[-1] in "` " else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def _escape_char(text: str, i: int, table: bool, emphasis: str = "all") -> str:
    """One character of plain text, escaped if it could start or end markup here.

    `emphasis` says which `*` and `_` are escaped: "all" that could be markup, "openers"
    only those that could open emphasis (a closer without an opener is plain text), "none"
    none. `sanitize_markdown` keeps the lighter forms only where they parse exactly like
    the fully escaped one."""
    c = text[i]
    if c in "*_" and emphasis != "all":
        return "\\" + c if emphasis == "openers" and _can_open(text, i) else c
    prev = text[i - 1] if i else ""
    nxt = text[i + 1] if i + 1 < len(text) else ""  # "" = end of the piece: assume the worst
    if c == "\\":
        return "\\\\" if not nxt or nxt in _ASCII_PUNCT else c
    if c in "`[]":
        return "\\" + c
    if c == "*" or c == "~":
        return c if prev.isspace() and nxt.isspace() else "\\" + c
    if c == "_":
        both_alnum = prev.isalnum() and nxt.isalnum()
        return c if both_alnum or (prev.isspace() and nxt.isspace()) else "\\_"
    if c == "<":
        return "\\<" if not nxt or nxt.isalpha() or nxt in "/!?" else c
    if c == "!":
        return "\\!" if not nxt or nxt == "[" else c
    if c == "&":
        return "&amp;" if _ENTITY.match(text, i) else c
    if c == "|" and table:
        return "\\|"
    return c


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS" if ch else False


def _can_open(text: str, i: int) -> bool:
    """Whether the `*`/`_` run around text[i] could open emphasis (CommonMark's flanking
    rules); unknown neighbours beyond the piece count as whitespace before, none after."""
    c = text[i]
    start, end = i, i + 1
    while start and text[start - 1] == c:
        start -= 1
    while end < len(text) and text[end] == c:
        end += 1
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else ""
    if not after or after.isspace():
        return False
    left = not _is_punct(after) or before.isspace() or _is_punct(before)
    if c == "*":
        return left
    right = not before.isspace() and (not _is_punct(before) or _is_punct(after))
    return left and (not right or _is_punct(before))


def _escape_line_start(line: str) -> tuple[str, str]:
    """Split off an escaped prefix if the line would otherwise open a block construct."""
    m = _ORDERED_MARK.match(line)
    if m:
        return m.group(1) + "\\" + m.group(2), line[m.end() :]
    if line[:1] in _LINE_START_PUNCT:
        return "\\" + line[0], line[1:]
    return "", line


def _escape_plain(text: str, at_start: bool, table: bool, emphasis: str = "all") -> str:
    """Escape plain text; `at_start` = the text begins a line."""
    out: list[str] = []
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if n:
            out.append("\n")
        if n + 1 < len(lines):
            line = line.rstrip(" \t")  # two trailing spaces would make a hard break
        prefix = ""
        if (at_start or n) and not table:
            line = line.lstrip(" \t")  # leading spaces could make an indented code block
            prefix, line = _escape_line_start(line)
        out.append(prefix)
        pos = 0
        for m in _CITATION.finditer(line):
            head = line[: m.start()]
            out.extend(_escape_char(head, i, table, emphasis) for i in range(pos, m.start()))
            out.append(m.group())
            pos = m.end()
        out.extend(_escape_char(line, i, table, emphasis) for i in range(pos, len(line)))
    return "".join(out)


def _trim_url(url: str) -> str:
    # Like GFM: trailing punctuation and an unbalanced ")" are not part of the URL.
    while url:
        unbalanced = url[-1] == ")" and url.count(")") > url.count("(")
        if url[-1] in _URL_TRAIL or unbalanced:
            url = url[:-1]
        else:
            break
    return url


# ---------------------------------------------------------------------------------
# HTML text extraction
# ---------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    """Visible text of an HTML fragment; dangerous elements' content is skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            self.skip.append(tag)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip and tag == self.skip[-1]:
            self.skip.pop()
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _html_text(html: str) -> list[str]:
    """Paragraphs of visible text in an HTML block."""
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return [p for p in paragraphs if p]


# ---------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, policy: _Policy, *, emphasis: str = "all") -> None:
        self.policy = policy
        self.emphasis = emphasis  # which "*" and "_" in text are escaped (see _escape_char)

    # -- blocks ---------------------------------------------------------------------

    def blocks(self, nodes: list[SyntaxTreeNode], tight: bool = False) -> str:
        parts = [b for node in nodes if (b := self.block(node, tight))]
        return ("\n" if tight else "\n\n").join(parts)

    def block(self, node: SyntaxTreeNode, tight: bool) -> str:
        t = node.type
        if t == "paragraph":
            return self.inline_of(node, at_start=True)
        if t == "heading":
            text = self.inline_of(node, at_start=False).replace("\n", " ").strip()
            text = re.sub(r"#+$", lambda m: "\\" + m.group(), text)  # closing "#"s vanish
            return f"{'#' * int(node.tag[1])} {text}" if text else ""
        if t == "blockquote":
            inner = self.blocks(node.children)
            return "\n".join(f"> {ln}" if ln else ">" for ln in inner.split("\n")) if inner else ""
        if t in ("bullet_list", "ordered_list"):
            return self.list(node)
        if t in ("fence", "code_block"):
            return self.code_block(node)
        if t == "hr":
            return "***"  # "---" right under a tight paragraph line would be a setext heading
        if t == "html_block":
            paragraphs = _html_text(node.content)
            return "\n\n".join(self.text(p, True, in_link=False, table=False) for p in paragraphs)
        if t == "table":
            return self.table(node)
        return self.blocks(node.children, tight)

    def list(self, node: SyntaxTreeNode) -> str:
        ordered = node.type == "ordered_list"
        start = int(node.attrs.get("start", 1)) if ordered else 1
        items = [c for c in node.children if c.type == "list_item"]
        tight = all(p.hidden for item in items for p in item.children if p.type == "paragraph")
        out: list[str] = []
        for k, item in enumerate(items):
            marker = f"{start + k}{node.markup or '.'}" if ordered else "-"
            body = self.blocks(item.children, tight)
            pad = " " * (len(marker) + 1)
            lines = body.split("\n") if body else [""]
            first = f"{marker} {lines[0]}".rstrip()
            rest = [f"{pad}{ln}" if ln else "" for ln in lines[1:]]
            out.append("\n".join([first, *rest]))
        return ("\n" if tight else "\n\n").join(out)

    def code_block(self, node: SyntaxTreeNode) -> str:
        content = node.content if node.content.endswith("\n") else node.content + "\n"
        longest = max((len(r) for r in re.findall(r"^\s*(`{3,})", content, re.M)), default=0)
        fence = "`" * max(3, longest + 1)
        info = re.sub(r"[^\w+#.-]", "", node.info.split()[0]) if node.info.strip() else ""
        return f"{fence}{info}\n{content}{fence}"

    def table(self, node: SyntaxTreeNode) -> str:
        rows: list[list[str]] = []
        aligns: list[str] = []
        for section in node.children:
            for tr in section.children:
                cells = []
                for cell in tr.children:
                    if section.type == "thead":
                        aligns.append(str(cell.attrs.get("style") or "").replace("text-align:", ""))
                    cells.append(self.inline_of(cell, at_start=False, table=True) or " ")
                rows.append(cells)
        if not rows:
            return ""
        delim = {"left": ":---", "right": "---:", "center": ":---:"}
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(1, "| " + " | ".join(delim.get(str(a), "---") for a in aligns) + " |")
        return "\n".join(lines)

    # -- inline ---------------------------------------------------------------------

    def inline_of(self, node: SyntaxTreeNode, *, at_start: bool, table: bool = False) -> str:
        kids = node.children[0].children if node.children else []
        return self.inline(kids, at_start=at_start, in_link=False, table=table).strip()

    def inline(
        self, nodes: list[SyntaxTreeNode], *, at_start: bool, in_link: bool, table: bool
    ) -> str:
        out: list[str] = []
        buf: list[str] = []  # plain text, merged across dropped tags so URLs stay whole
        skip: str | None = None

        def flush() -> None:
            if buf:
                start = _line_start(out, at_start)
                _append(out, self.text("".join(buf), start, in_link=in_link, table=table))
                buf.clear()

        for node in nodes:
            t = node.type
            if skip is not None:
                if t == "html_inline" and _tag(node.content) == ("/", skip):
                    skip = None
                continue
            if t in ("text", "text_special"):
                buf.append(node.content.replace("\n", " "))
            elif t == "softbreak":
                buf.append(" " if table else "\n")
            elif t == "html_inline":
                closing, name = _tag(node.content)
                if not closing and name in _DROP_CONTENT:
                    skip = name
                elif name == "br":
                    buf.append(" " if table else "\n")
            elif t == "image" or (t == "link" and not self.link_ok(node)):
                buf.append(self.flat(node))  # alt text / link text, URL dropped
            else:
                flush()
                _append(out, self.markup(node, in_link, table))
        flush()
        return "".join(out)

    def markup(self, node: SyntaxTreeNode, in_link: bool, table: bool) -> str:
        t = node.type
        if t == "hardbreak":
            return " " if table else "\\\n"
        if t == "code_inline":
            span = _code_span(node.content)
            return span.replace("|", "\\|") if table else span
        if t in ("em", "strong", "s"):
            mark = {"em": "*", "strong": "**", "s": "~~"}[t]
            inner = self.inline(node.children, at_start=False, in_link=in_link, table=table)
            return f"{mark}{inner}{mark}" if inner.strip() else inner
        if t == "link":
            return self.link(node, table)
        return self.inline(node.children, at_start=False, in_link=in_link, table=table)

    def link_ok(self, node: SyntaxTreeNode) -> bool:
        return _allowed(str(node.attrs.get("href", "")), self.policy)

    def link(self, node: SyntaxTreeNode, table: bool) -> str:
        href = str(node.attrs["href"])
        absolute = _SCHEME.match(href) is not None
        if node.markup == "autolink" and absolute:
            return f"<{href}>"
        inner = self.inline(node.children, at_start=False, in_link=True, table=table)
        if not inner.strip():
            return f"<{href}>" if absolute else ""
        dest = f"<{href}>" if any(c in href for c in "() ") else href
        return f"[{inner}]({dest})"

    def flat(self, node: SyntaxTreeNode) -> str:
        """Plain text of a node (link text, image alt); autolinks keep their URL text.

        A link whose text is a number was a citation ("[1]" with a "[1]: url" definition
        at the bottom, a common LLM habit): it stays "[1]" for `clean_citations` to judge.
        """
        if node.type == "link":
            inner = "".join(self.flat(c) for c in node.children)
            return f"[{inner}]" if re.fullmatch(r"\d{1,3}", inner) else inner
        if node.type in ("text", "text_special", "code_inline"):
            return node.content.replace("\n", " ")
        if node.type in ("softbreak", "hardbreak"):
            return " "
        return "".join(self.flat(c) for c in node.children)

    def text(self, text: str, at_start: bool, *, in_link: bool, table: bool) -> str:
        """Plain text; bare URLs become autolinks when allowed, inline code when not."""
        if in_link:
            return _escape_plain(text, at_start, table, self.emphasis)
        out: list[str] = []
        pos = 0
        for m in _BARE_URL.finditer(text):
            url = _trim_url(m.group())
            if not url:
                continue
            start = _line_start(out, at_start)
            out.append(_escape_plain(text[pos : m.start()], start, table, self.emphasis))
            full = url if "://" in url else "http://" + url
            if "://" in url and _allowed(full, self.policy) and _URL_SAFE.fullmatch(url):
                out.append(f"<{url}>")
            elif _allowed(full, self.policy):
                out.append(_escape_plain(url, False, table, self.emphasis))  # remark-gfm links it
            else:
                span = _code_span(url)
                _append(out, span.replace("|", "\\|") if table else span)
            pos = m.start() + len(url)
        out.append(_escape_plain(text[pos:], _line_start(out, at_start), table, self.emphasis))
        return "".join(out)


def _append(out: list[str], piece: str) -> None:
    """Append markup; two code spans must not touch, or their backticks would merge."""
    if out and piece.startswith("`") and re.search(r"(?<!\\)`$", out[-1]):
        out.append(" ")
    out.append(piece)


def _line_start(out: list[str], at_start: bool) -> bool:
    """Whether the next piece begins a line, given what was emitted before it."""
    done = "".join(out)
    return done.endswith("\n") if done else at_start


def _tag(html: str) -> tuple[str, str]:
    m = _TAG.match(html)
    return (m.group(1), m.group(2).lower()) if m else ("", "")


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # Accept every URL at parse time so hostile links are seen (and reduced to their text)
    # instead of silently left as "[x](javascript:...)" text; the policy decides later.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


_MD = _parser()


def sanitize_markdown(text: str, *, allowed_domains: list[str], own_base_url: str) -> str:
    """Safe, readable markdown: no HTML, no images, links only to allowed hosts and us."""
    # Invisible controls go first, before they can affect how the text parses.
    text = _INVISIBLE.sub("", text or "")
    if not text.strip():
        return ""
    tree = SyntaxTreeNode(_MD.parse(text))
    policy = _policy(allowed_domains, own_base_url)
    strict = _Renderer(policy)
    lighter = [_Renderer(policy, emphasis="none"), _Renderer(policy, emphasis="openers")]
    parts: list[str] = []
    for node in tree.children:
        block = strict.block(node, False)
        if not block:
            continue
        # Text as written where escaping is not needed: "except*" and "**kwargs" stay as
        # they are, "__init__" becomes "\\_\\_init__", so the raw answer (API clients,
        # transcripts) reads like the text. A lighter form is kept only if it parses
        # exactly like the fully escaped one: nothing can turn into emphasis it was not.
        for renderer in lighter:
            plain = renderer.block(node, False)
            if plain == block or _MD.render(plain) == _MD.render(block):
                block = plain
                break
        parts.append(block)
    return "\n\n".join(parts).strip()


# ---------------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------------

_CODE = re.compile(r"(^[ \t]*(```|~~~).*?^[ \t]*\2[^\n]*$|`[^`\n]+`)", re.M | re.S)
_CITE_GROUP = re.compile(r"[ \t]*(?<![\\!])\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\](?!\()")
_REPEAT = re.compile(r"\[(\d+)\](?:\s*\[\1\])+")


def clean_citations(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Keep `[n]` markers with 1 <= n <= n_sources; `[1, 2]` becomes `[1][2]`.

    Returns the text and the cited source numbers in order of first use. Code is left alone.
    """
    used: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
        keep = list(dict.fromkeys(k for k in nums if 1 <= k <= n_sources))
        if not keep:
            return ""  # the marker and the space before it
        used.extend(k for k in keep if k not in used)
        lead = m.group()[: len(m.group()) - len(m.group().lstrip(" \t"))]
        return lead + "".join(f"[{k}]" for k in keep)

    parts: list[str] = []
    pos = 0
    for m in _CODE.finditer(text):
        parts.append(_REPEAT.sub(r"[\1]", _CITE_GROUP.sub(fix, text[pos : m.start()])))
        parts.append(m.group())
        pos = m.end()
    parts.append(_REPEAT.sub(r"[\1]", _CITE_GROUP.sub(fix, text[pos:])))
    return "".join(parts), used
