"""app.rag.parsing: formats, hostile inputs, and the sandboxed child process.

Format and hostile-input checks run in process (fast); a representative set also goes
through `parse_file` to prove messages and limits survive the child-process boundary.
"""

from __future__ import annotations

import time

import pytest

from app.rag.parsing import (
    MB,
    ParseError,
    parse_bytes_inprocess,
    parse_file,
    parse_text,
)
from app.rag.sandbox import run_in_child
from app.rag.types import ParsedDocument
from tests.unit import hostile_files as hf

LIMIT = 25 * MB
TEST_TARGET = "tests.unit.hostile_files:"


def parse(data: bytes, filename: str) -> ParsedDocument:
    return parse_bytes_inprocess(data, filename, max_bytes=LIMIT)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return hf.make_pdf(
        ["First page text", "Second page text", "Third page text"], title="Annual Report"
    )


@pytest.fixture(scope="module")
def docx_file() -> bytes:
    return hf.make_docx()


# ---- formats ------------------------------------------------------------------------------


def test_pdf_one_section_per_page_with_page_numbers(pdf: bytes) -> None:
    doc = parse(pdf, "report.pdf")
    assert doc.kind == "pdf"
    assert doc.title == "Annual Report"
    assert [(s.page, s.text) for s in doc.sections] == [
        (1, "First page text"),
        (2, "Second page text"),
        (3, "Third page text"),
    ]


def test_pdf_without_metadata_title_uses_file_stem() -> None:
    doc = parse(hf.make_pdf(["only page"]), "uploads/My Notes.pdf")
    assert doc.title == "My Notes"


def test_docx_headings_become_sections_and_tables_become_records(docx_file: bytes) -> None:
    doc = parse(docx_file, "q3.docx")
    assert doc.kind == "docx"
    assert doc.title == "Quarterly report"
    assert [s.section for s in doc.sections] == [None, "Revenue", "Costs"]
    revenue = doc.sections[1].text
    assert "Revenue grew by 12 percent." in revenue
    assert "Region: North; Sales: 10" in revenue
    assert "Region: South; Sales: 20" in revenue
    assert doc.sections[2].text == "Costs\nCosts were flat."


def test_docx_without_core_title_uses_its_first_heading() -> None:
    # Issue 12 item 16: the document's own first heading beats the file name.
    assert parse(hf.make_docx(title=None), "plan.docx").title == "Revenue"


def test_text_without_headings_uses_file_stem() -> None:
    assert parse(b"Just a line of notes.\nAnd another.", "plan.txt").title == "plan"
    assert parse(b"## Setup\nRun it.", "guide.md").title == "Setup"


def test_csv_rows_become_records_grouped_into_sections() -> None:
    lines = ["name,city,age"] + [f"person{i},Paris,{i}" for i in range(1, 121)]
    doc = parse("\n".join(lines).encode(), "people.csv")
    assert doc.kind == "csv"
    assert [s.section for s in doc.sections] == ["rows 1-50", "rows 51-100", "rows 101-120"]
    assert doc.sections[0].text.splitlines()[0] == "name: person1; city: Paris; age: 1"
    assert max(len(s.text) for s in doc.sections) <= 4000


def test_csv_semicolon_delimiter_and_empty_values() -> None:
    doc = parse(b"product;price;note\nTea;3;\nCoffee;4;strong\n", "menu.csv")
    assert doc.sections[0].text == "product: Tea; price: 3\nproduct: Coffee; price: 4; note: strong"


def test_csv_header_only_is_refused() -> None:
    with pytest.raises(ParseError, match="no data rows"):
        parse(b"a,b,c\n", "empty.csv")


def test_markdown_headings_become_sections() -> None:
    text = (
        "# Handbook\n\nWelcome.\n\n## Leave\n\nTwenty days.\n\n"
        "```\n# not a heading\n```\n\nSetext heading\n--------------\n\nBody text.\n"
    )
    doc = parse(text.encode(), "handbook.md")
    assert doc.kind == "md"
    assert doc.title == "Handbook"
    assert [s.section for s in doc.sections] == ["Handbook", "Leave", "Setext heading"]
    assert "# not a heading" in doc.sections[1].text
    assert doc.sections[2].text == "Setext heading\n\nBody text."


def test_markdown_front_matter_gives_the_title_and_is_not_text() -> None:
    doc = parse(b'---\ntitle: "Install guide"\nlayout: page\n---\nRun the installer.\n', "i.md")
    assert doc.title == "Install guide"
    assert [(s.section, s.text) for s in doc.sections] == [(None, "Run the installer.")]


def test_html_keeps_visible_text_only() -> None:
    page = b"""<!doctype html><html><head><title>Pricing | Acme</title>
    <style>body { color: red }</style><script>alert("x")</script></head>
    <body><nav>Home</nav><h1>Plans</h1><p>Basic costs <b>5 EUR</b>.</p>
    <script>var secret = 1;</script><div hidden>invisible</div><!-- comment -->
    <h2>FAQ</h2><table><tr><td>Q</td><td>A</td></tr></table></body></html>"""
    doc = parse(page, "pricing.html")
    assert doc.kind == "html"
    assert doc.title == "Pricing | Acme"
    assert [s.section for s in doc.sections] == [None, "Plans", "FAQ"]
    everything = "\n".join(s.text for s in doc.sections)
    assert "Basic costs 5 EUR." in everything
    for hidden in ("alert", "secret", "color", "invisible", "comment"):
        assert hidden not in everything


def test_txt_in_cp1252() -> None:
    text = "Café au lait costs 3€ \u2013 naïve \u201cquotes\u201d.\nZürich, señor."
    doc = parse(text.encode("cp1252"), "notes.txt")
    assert doc.kind == "txt"
    assert doc.sections[0].text == text
    assert doc.title == "notes"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-8-sig", "utf-32"])
def test_txt_unicode_encodings(codec: str) -> None:
    text = "Grüße aus Köln \u2013 ünïcödé"
    assert parse(text.encode(codec), "greeting.txt").sections[0].text == text


def test_sporadic_nul_bytes_are_stripped() -> None:
    assert parse(b"hello\x00 world\r\n", "a.txt").sections[0].text == "hello world\n"


def test_pasted_text() -> None:
    doc = parse_text("  Opening hours\nWe open at 9.\x00  ", None)
    assert doc.kind == "text"
    assert doc.title == "Opening hours"
    assert doc.sections[0].text == "Opening hours\nWe open at 9."
    assert parse_text("body", "Given title").title == "Given title"


@pytest.mark.parametrize("text", ["", "   \n  ", "\x00" * 50 + "abc"])
def test_pasted_text_empty_or_binary_is_refused(text: str) -> None:
    with pytest.raises(ParseError):
        parse_text(text, None)


# ---- hostile and broken inputs ------------------------------------------------------------


HOSTILE: list[tuple[str, str, object]] = [
    ("bomb.pdf", "decompression bomb", lambda: hf.make_pdf_bomb(100)),
    ("whitespace-bomb.pdf", "no extractable text", lambda: hf.make_pdf_bomb(20)),
    ("scan.pdf", "no extractable text", hf.make_scanned_pdf),
    ("locked.pdf", "password-protected", hf.make_encrypted_pdf),
    ("cut.pdf", "truncated", lambda: hf.truncated(hf.make_pdf(["a", "b"]))),
    ("setup.pdf", "not a PDF.*Windows executable", lambda: hf.EXE_HEADER * 4),
    ("setup.pdf", "not a PDF.*Linux executable", lambda: hf.ELF_HEADER * 4),
    ("polyglot.pdf", "not a PDF.*Windows executable", lambda: hf.EXE_HEADER + hf.make_pdf(["x"])),
    ("archive.pdf", "not a PDF.*ZIP archive", lambda: hf.make_zip({"a.txt": b"hi"})),
    ("report.docx", "not a Word.*PDF", lambda: hf.make_pdf(["x"])),
    (
        "legacy.docx",
        "not a Word.*password-protected Office",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
    ),
    ("bomb.docx", "unpacks to.*zip bomb", lambda: hf.make_docx_zip_bomb(60)),
    ("ratio.docx", "compressed more than 100:1", lambda: hf.make_docx_zip_bomb(5)),
    ("laughs.docx", "DTD or XML entities", hf.make_docx_entity_bomb),
    ("laughs16.docx", "DTD or XML entities", hf.make_docx_utf16_entity_bomb),
    ("xxe.docx", "document.xml.rels declares a DTD", hf.make_docx_xxe),
    ("many.docx", "too many parts", lambda: hf.rezip(hf.make_docx(), extra_entries=1001)),
    ("plain.docx", "not a Word", lambda: hf.make_zip({"a.txt": b"hi"})),
    ("cut.docx", "damaged or truncated", lambda: hf.truncated(hf.make_docx())),
    ("wide.csv", "too much text", hf.make_csv_expansion_bomb),
    ("binary.txt", "binary file", lambda: b"abc" + b"\x00" * 200),
    ("setup.txt", "not a text file.*Windows executable", lambda: hf.EXE_HEADER * 4),
    ("weird.txt", "text encoding", lambda: bytes(range(0x80, 0x100)) * 50),
    ("image.md", "not a text file.*PNG", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    ("blank.html", "no extractable text", lambda: b"  \n\t "),
    ("empty.txt", "empty", lambda: b""),
    ("tool.exe", "unsupported file type", lambda: hf.EXE_HEADER),
]


@pytest.mark.parametrize(
    ("filename", "reason", "make"), HOSTILE, ids=[f"{h[0]}:{h[1]}" for h in HOSTILE]
)
def test_hostile_input_is_refused_with_a_reason(filename: str, reason: str, make) -> None:
    with pytest.raises(ParseError, match=reason):
        parse(make(), filename)


def test_over_size_is_refused_before_any_child_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a child process was started")

    monkeypatch.setattr("app.rag.sandbox.run_in_child", no_child)
    with pytest.raises(ParseError, match=r"too large \(2\.0 MB; the limit is 1\.0 MB\)"):
        parse_file(b"x" * (2 * MB), "big.txt", max_bytes=1 * MB)
    with pytest.raises(ParseError, match="too large"):
        parse_bytes_inprocess(b"x" * 11, "big.txt", max_bytes=10)


# ---- through the sandboxed child process --------------------------------------------------


def test_parse_file_in_child_matches_in_process(pdf: bytes, docx_file: bytes) -> None:
    for data, name in ((pdf, "report.pdf"), (docx_file, "q3.docx"), (b"# T\nbody", "a.md")):
        assert parse_file(data, name, max_bytes=LIMIT) == parse(data, name)


@pytest.mark.parametrize(
    ("filename", "reason", "make"),
    [
        ("locked.pdf", "password-protected", hf.make_encrypted_pdf),
        ("laughs.docx", "entity bomb", hf.make_docx_entity_bomb),
        ("bomb.pdf", "decompression bomb", lambda: hf.make_pdf_bomb(100)),
    ],
)
def test_parse_errors_cross_the_process_boundary(filename: str, reason: str, make) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_file(make(), filename, max_bytes=LIMIT)


def child(target: str, *, timeout_s: float = 10, memory_mb: int = 512) -> ParsedDocument:
    return run_in_child(
        b"payload",
        "file.txt",
        max_bytes=LIMIT,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        target=TEST_TARGET + target,
    )


@pytest.mark.parametrize("target", ["slow_parser", "busy_parser"])
def test_time_limit_kills_the_child_and_the_parent_carries_on(target: str, pdf: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(ParseError, match="took too long"):
        child(target, timeout_s=1)
    assert time.monotonic() - started < 5
    assert parse_file(pdf, "report.pdf", max_bytes=LIMIT).sections[0].page == 1


def test_memory_limit_ends_as_parse_error() -> None:
    with pytest.raises(ParseError, match="too much memory"):
        child("memory_hog_parser", memory_mb=256)


def test_crashing_child_ends_as_parse_error() -> None:
    with pytest.raises(ParseError, match="crashed"):
        child("crashing_parser")


def test_stray_prints_do_not_corrupt_the_answer() -> None:
    assert child("chatty_parser").sections[0].text == "payload"


def test_invalid_child_output_is_refused() -> None:
    with pytest.raises(ParseError, match="invalid parser output"):
        child("bogus_parser")


def test_child_stays_light_and_sees_no_secrets(monkeypatch: pytest.MonkeyPatch, pdf: bytes) -> None:
    monkeypatch.setenv("SECRET_KEY", "do-not-leak")
    doc = run_in_child(
        pdf,
        "report.pdf",
        max_bytes=LIMIT,
        timeout_s=30,
        memory_mb=1024,
        target=TEST_TARGET + "modules_parser",
    )
    modules = doc.sections[0].text.splitlines()
    roots = {m.split(".")[0] for m in modules}
    assert "pypdf" in roots
    assert not roots & {"torch", "llama_index", "reflex", "qdrant_client", "sqlmodel"}
    assert not [m for m in modules if m.startswith(("app.services", "app.state", "app.api"))]
    assert "SECRET_KEY" not in doc.sections[1].text.splitlines()
