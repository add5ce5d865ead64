"""Answer markdown -> HTML for the chat page: dollars are dollars, nothing runs or loads."""

from __future__ import annotations

import pytest

from app.rag.sanitize import sanitize_markdown
from app.services.answer_html import markdown_to_html


def test_prices_and_dollar_signs_stay_exactly_as_written() -> None:
    text = (
        "The Kalita Wave costs $6.95. Standard shipping is free on orders of $45. Tip jar takes $"
    )
    assert markdown_to_html(text) == f"<p>{text}</p>"
    assert markdown_to_html("a $x$ b $$y$$ c \\(z\\)") == "<p>a $x$ b $$y$$ c (z)</p>"
    # A markdown escape means a literal dollar, as the author meant it.
    assert markdown_to_html(r"Escaped \$5 here") == "<p>Escaped $5 here</p>"


def test_code_spans_and_blocks_are_plain_and_escaped() -> None:
    assert markdown_to_html("Run `pip install $PKG`") == (
        "<p>Run <code>pip install $PKG</code></p>"
    )
    assert markdown_to_html("```python\nprice = '$5' < 6\n```") == (
        "<pre><code class=\"language-python\">price = '$5' &lt; 6\n</code></pre>"
    )


def test_common_markdown_renders() -> None:
    html = markdown_to_html("# Hours\n\n- **Mon** 8-5\n- *Tue* ~~closed~~\n\n> quoted [1]")
    assert html == (
        "<h1>Hours</h1>\n<ul>\n<li><strong>Mon</strong> 8-5</li>\n"
        "<li><em>Tue</em> <s>closed</s></li>\n</ul>\n<blockquote>\n<p>quoted [1]</p>\n"
        "</blockquote>"
    )
    assert "<table>" in markdown_to_html("| a | b |\n|---|---|\n| $1 | $2 |")
    assert markdown_to_html("about ~$5 and ~5 min") == "<p>about ~$5 and ~5 min</p>"
    assert markdown_to_html("") == ""


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<iframe src=https://evil.io></iframe>",
        '<a href="javascript:alert(1)">x</a>',
    ],
)
def test_raw_html_is_text(hostile: str) -> None:
    html = markdown_to_html(hostile)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "<a " not in html
    assert "&lt;" in html


def test_images_become_their_alt_text() -> None:
    assert markdown_to_html("![a cup](https://evil.io/track.png)") == "<p>a cup</p>"


def test_links_keep_only_web_urls_and_open_safely() -> None:
    html = markdown_to_html("[shop](https://shop.com/a?b=1)")
    assert html == (
        '<p><a href="https://shop.com/a?b=1" target="_blank" '
        'rel="noopener noreferrer nofollow">shop</a></p>'
    )
    assert 'href="/docs/1"' in markdown_to_html("[doc](/docs/1)")
    for bad in ("[x](javascript:alert(1))", "[x](//evil.io)", "[x](mailto:a@b.c)", "[x](data:,hi)"):
        assert "<a " not in markdown_to_html(bad), bad
    # After a dropped link, the next good one still closes properly.
    html = markdown_to_html("[a](//evil.io) and [b](https://ok.io)")
    assert html == (
        '<p>a and <a href="https://ok.io" target="_blank" '
        'rel="noopener noreferrer nofollow">b</a></p>'
    )


def test_a_sanitized_answer_round_trips_to_the_same_text() -> None:
    answer = "Mugs cost $12 and beans $18.50 [1]. Use `$HOME` and \\$ signs."
    clean = sanitize_markdown(answer, allowed_domains=[], own_base_url="https://chat.example")
    assert markdown_to_html(clean) == (
        "<p>Mugs cost $12 and beans $18.50 [1]. Use <code>$HOME</code> and $ signs.</p>"
    )
