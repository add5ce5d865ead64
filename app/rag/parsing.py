"""Uploaded bytes -> `ParsedDocument` (sections with page / heading metadata).

Every upload is hostile until parsed. The rules:

* The size is checked first, in the caller's process (`parse_file`), before anything else.
* The type is decided by extension AND magic bytes; a mismatch is refused (an executable
  renamed .pdf, a zip renamed .pdf, a PDF named .docx ...).
* Real parsing runs in a throw-away child process with memory, CPU and wall-clock limits
  (`app.rag.sandbox`), so a parser bug or bomb costs one child, not the app.
* Every failure the user can cause ends as one exception type, `ParseError`, whose message
  is safe and useful to show in the UI.

Text policy: text files are decoded from a BOM (UTF-8/16/32), else strict UTF-8, else a
guess (charset_normalizer, ties and near-ASCII files go to cp1252). Sporadic NUL and other
control characters are stripped; a text whose characters are more than 10 % control
characters is refused as binary.

Third-party parsers (pypdf, python-docx, lxml, charset_normalizer) are imported
inside the functions that need them: the child pays only for the format at hand and this
module stays cheap to import in the app.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath

from app.rag.types import ParsedDocument, Section

log = logging.getLogger(__name__)

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 25 * MB  # mirrors Settings.max_upload_mb; callers pass the real value
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 1024

# DOCX (zip) limits, checked from the central directory before anything is inflated.
MAX_ZIP_ENTRIES = 1000
MAX_UNZIPPED_BYTES = 50 * MB
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 1 * MB  # tiny parts (styles, rels) legitimately compress very well

MAX_PDF_PAGES = 5000
MAX_TEXT_CHARS = 50_000_000  # bounds what a compressed PDF/DOCX may expand into
BINARY_CONTROL_RATIO = 0.10  # more control characters than this -> "binary, not text"
CSV_ROWS_PER_SECTION = 50
CSV_MAX_SECTION_CHARS = 4000
TEXT_TITLE_CHARS = 80

EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
}
KINDS = frozenset(EXTENSIONS.values()) | {"text"}

# Signatures of things that are never a document we accept, for a precise refusal message.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x7fELF", "a Linux executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"),
    (b"\xce\xfa\xed\xfe", "a macOS executable"),
    (b"\xfe\xed\xfa\xce", "a macOS executable"),
    (b"\xfe\xed\xfa\xcf", "a macOS executable"),
    (b"\xca\xfe\xba\xbe", "a macOS executable or Java class"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style or password-protected Office file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x00asm", "a WebAssembly binary"),
)

# C0 controls except tab/newline/CR/FF/VT, plus DEL: deleted from all extracted text.
_CONTROLS = "".join(map(chr, [*range(0, 9), *range(14, 32), 127]))
_DELETE_CONTROLS = str.maketrans("", "", _CONTROLS)


class ParseError(Exception):
    """A file that cannot be turned into text; the message is shown to the user."""


# ---- public API -------------------------------------------------------------------------


def parse_file(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> ParsedDocument:
    """Parse an upload in a sandboxed child process. Blocking: use a thread from async code.

    Raises ParseError for anything wrong with the file, including a parse that runs out of
    time or memory, or crashes.
    """
    check_size(data, max_bytes)
    detect_kind(data, filename)  # refuse obvious mismatches without paying for a child
    # Imported here because the sandbox imports this module (for ParseError) at start-up.
    from app.rag.sandbox import run_in_child

    return run_in_child(
        data, filename, max_bytes=max_bytes, timeout_s=timeout_s, memory_mb=memory_mb
    )


def parse_bytes_inprocess(
    data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedDocument:
    """Parse in the current process, without resource limits: for the child and for tests."""
    check_size(data, max_bytes)
    kind = detect_kind(data, filename)
    with unexpected_errors_as(f"{display_name(filename)} could not be read (corrupt file?)"):
        doc = _parser(kind)(data, filename)
    return _finish(doc, filename)


def parse_text(
    text: str, title: str | None = None, *, max_chars: int = DEFAULT_MAX_BYTES
) -> ParsedDocument:
    """Pasted text. Same control-character policy as text files."""
    if len(text) > max_chars:
        raise ParseError(
            f"The text is too long ({len(text):,} characters; the limit is {max_chars:,})."
        )
    clean = clean_text(text, reject_binary=True)
    if not clean.strip():
        raise ParseError("The text is empty.")
    if not title or not title.strip():
        title = clean.strip().splitlines()[0][:TEXT_TITLE_CHARS].strip()
    return ParsedDocument(kind="text", sections=[Section(text=clean.strip())], title=title.strip())


def check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise ParseError(
            f"The file is too large ({megabytes(len(data))}; the limit is {megabytes(max_bytes)})."
        )
    if not data:
        raise ParseError("The file is empty.")


def detect_kind(data: bytes, filename: str) -> str:
    """The document kind, from the extension, confirmed by the content's magic bytes."""
    name = display_name(filename)
    kind = EXTENSIONS.get(PurePosixPath(name).suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted(EXTENSIONS))
        raise ParseError(f"{name}: unsupported file type (allowed: {allowed}).")
    found = describe_magic(data)
    # A PDF header may follow a little junk, but not another format's signature (polyglots).
    if kind == "pdf" and (found not in (None, "a PDF") or b"%PDF-" not in data[:1024]):
        raise ParseError(f"{name} is not a PDF{_looks_like(found)}.")
    if kind == "docx" and not data.startswith(b"PK\x03\x04"):
        raise ParseError(f"{name} is not a Word (.docx) document{_looks_like(found)}.")
    if kind not in ("pdf", "docx") and found:
        raise ParseError(f"{name} is not a text file{_looks_like(found)}.")
    return kind


def describe_magic(data: bytes) -> str | None:
    """What binary format the bytes start with, if a known one."""
    head = data[:64]
    # A bare "MZ" can start a text; a PE header is followed by NUL padding.
    if head.startswith(b"MZ") and b"\x00" in head:
        return "a Windows executable"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    return None


# ---- shared helpers ---------------------------------------------------------------------


@contextmanager
def unexpected_errors_as(message: str) -> Iterator[None]:
    """Turn a library's arbitrary exception on malformed input into ParseError.

    MemoryError and RecursionError pass through so the sandbox can report them as such.
    """
    try:
        yield
    except (ParseError, MemoryError, RecursionError):
        raise
    except Exception as exc:
        log.info("parser failed: %s: %s", type(exc).__name__, exc)
        raise ParseError(message) from exc


def _finish(doc: ParsedDocument, filename: str) -> ParsedDocument:
    """Drop empty sections, enforce the text budget, default the title to the file stem."""
    doc.sections = [s for s in doc.sections if s.text.strip()]
    if not doc.sections:
        raise ParseError(f"{display_name(filename)} contains no extractable text.")
    if doc.char_count > MAX_TEXT_CHARS:
        raise ParseError(
            f"{display_name(filename)} contains too much text (over {MAX_TEXT_CHARS:,} characters)."
        )
    # Title: the file's own (PDF/DOCX metadata, Markdown front matter or H1, DOCX Title
    # style, HTML <title>), else the first heading of a structured document, else the stem.
    title = (doc.title or "").strip()
    if not title and doc.kind in _HEADED_KINDS:
        title = next((s.section.strip() for s in doc.sections if s.section), "")
    doc.title = title[:TITLE_CHARS] or PurePosixPath(display_name(filename)).stem or None
    return doc


_HEADED_KINDS = frozenset({"md", "docx", "html"})
TITLE_CHARS = 300


def display_name(filename: str) -> str:
    """The last path component, whatever the client's OS (never trusted as a path)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].translate(_DELETE_CONTROLS).strip()
    return name[:200] or "upload"


def _looks_like(found: str | None) -> str:
    return f" (it looks like {found})" if found else ""


def megabytes(n: int) -> str:
    return f"{n / MB:.1f} MB"


def clean_text(text: str, *, reject_binary: bool, name: str = "The text") -> str:
    """Normalise newlines, strip control characters; refuse text that is mostly binary."""
    stripped = text.translate(_DELETE_CONTROLS)
    removed = len(text) - len(stripped)
    if reject_binary and removed and removed > BINARY_CONTROL_RATIO * len(text):
        raise ParseError(
            f"{name} looks like a binary file, not text ({removed / len(text):.0%} control "
            "characters such as NUL bytes)."
        )
    return stripped.replace("\r\n", "\n").replace("\r", "\n")


def _within_budget(chars: int) -> int:
    """Fail as soon as extracted text passes MAX_TEXT_CHARS, before it is all in memory."""
    if chars > MAX_TEXT_CHARS:
        raise ParseError(
            f"The document contains too much text (over {MAX_TEXT_CHARS:,} characters)."
        )
    return chars


class SectionBuilder:
    """Collects lines into sections that start at headings."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._heading: str | None = None
        self._lines: list[str] = []
        self._chars = 0

    def heading(self, title: str) -> None:
        self._flush()
        self._heading = title
        self._lines = [title]  # keep the heading in the text: it carries meaning for search

    def add(self, line: str) -> None:
        self._chars = _within_budget(self._chars + len(line) + 1)
        self._lines.append(line)

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        text = "\n".join(self._lines).strip()
        if text:
            self.sections.append(Section(text=text, section=self._heading))
        self._lines = []


# ---- text decoding ----------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),  # before utf-16: same first two bytes
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_FEW_NON_ASCII = 16  # below this, charset guesses are noise; cp1252 is the likeliest


def decode_text(data: bytes, filename: str) -> str:
    """Bytes -> str: BOM, else BOM-less UTF-16, else strict UTF-8, else a charset guess."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise ParseError(
                    f"{display_name(filename)} is not valid {codec.upper()} "
                    "text although it starts with that byte-order mark."
                ) from exc
    # Before UTF-8, which would accept the NULs; the test is too strict to match real UTF-8.
    text = _decode_utf16_without_bom(data)
    if text is not None:
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = _guess_legacy_encoding(data)
    if text is None:
        raise ParseError(
            f"Could not detect the text encoding of {display_name(filename)}; "
            "save it as UTF-8 and try again."
        )
    return text


def _decode_utf16_without_bom(data: bytes) -> str | None:
    """Mostly-ASCII UTF-16 has NUL in every other byte; anything else is left alone."""
    head = data[:4096]
    even, odd = head[0::2], head[1::2]
    if len(head) < 4 or len(data) % 2:
        return None
    for codec, zeros, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) > 0.9 * len(zeros) and others.count(0) < 0.1 * len(others):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    return None


def _guess_legacy_encoding(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    cp1252: str | None
    try:
        cp1252 = data.decode("cp1252")
    except UnicodeDecodeError:
        cp1252 = None
    if cp1252 is not None and sum(b > 0x7F for b in data[:65536]) <= _FEW_NON_ASCII:
        return cp1252
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return cp1252
    # Short Western texts score equally in cp1250/cp1252/cp1257: prefer the common one.
    if cp1252 is not None and any(
        m.encoding == "cp1252" and m.chaos <= best.chaos for m in matches
    ):
        return cp1252
    return str(best)


def _decoded(data: bytes, filename: str) -> str:
    text = decode_text(data, filename)
    return clean_text(text, reject_binary=True, name=display_name(filename))


# ---- plain text, Markdown, CSV ----------------------------------------------------------


def _parse_txt(data: bytes, filename: str) -> ParsedDocument:
    return ParsedDocument(kind="txt", sections=[Section(text=_decoded(data, filename))])


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _parse_md(data: bytes, filename: str) -> ParsedDocument:
    builder = SectionBuilder()
    fence: str | None = None
    front_title, lines = _front_matter(_decoded(data, filename).split("\n"))
    title: str | None = None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if fence is None and (m := _FENCE.match(line)):
            fence = m.group(1)[0] * 3
        elif fence is not None and line.lstrip().startswith(fence):
            fence = None
        elif fence is None and (m := _ATX.match(line)):
            heading = (m.group(2) or "").strip()
            if heading:
                builder.heading(heading)
                title = title or (heading if len(m.group(1)) == 1 else None)
            continue
        elif fence is None and line.strip() and (m := _SETEXT.match(nxt)):
            # "Title\n=====" (H1) or "Title\n-----" (H2): the underline is skipped below.
            builder.heading(line.strip())
            title = title or (line.strip() if m.group(1)[0] == "=" else None)
            continue
        elif fence is None and _SETEXT.match(line) and i and lines[i - 1].strip():
            continue  # the underline of a setext heading
        builder.add(line)
    return ParsedDocument(kind="md", sections=builder.finish(), title=front_title or title)


_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$")


def _front_matter(lines: list[str]) -> tuple[str | None, list[str]]:
    """Drop a YAML front-matter block (Jekyll/Hugo docs), keeping its `title:`.

    Without this its closing "---" would turn the last key into a setext heading.
    """
    if not lines or lines[0].strip() != "---":
        return None, lines
    for end, line in enumerate(lines[1:200], 1):
        if line.strip() in ("---", "..."):
            titles = [m.group(1) for m in map(_FRONT_TITLE.match, lines[1:end]) if m]
            return (titles[0].strip("\"'") if titles else None), lines[end + 1 :]
    return None, lines


def _parse_csv(data: bytes, filename: str) -> ParsedDocument:
    text = _decoded(data, filename)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:16384].rsplit("\n", 1)[0], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    try:
        header = next((r for r in rows if any(c.strip() for c in r)), None)
        if header is None:
            raise ParseError(f"{display_name(filename)} contains no rows.")
        names = [h.strip() for h in header]
        sections = list(_csv_sections(rows, names))
    except csv.Error as exc:
        raise ParseError(f"{display_name(filename)} is not a valid CSV file ({exc}).") from exc
    if not sections:
        raise ParseError(f"{display_name(filename)} has a header row but no data rows.")
    return ParsedDocument(kind="csv", sections=sections)


def _csv_sections(rows: Iterator[list[str]], names: list[str]) -> Iterator[Section]:
    """One "header: value; ..." record per row, grouped so no section is huge."""
    records: list[str] = []
    first = size = total = 0
    for number, row in enumerate(rows, 1):
        record = row_record(names, [value.strip() for value in row])
        if not record:
            continue
        if records and (
            len(records) >= CSV_ROWS_PER_SECTION or size + len(record) > CSV_MAX_SECTION_CHARS
        ):
            yield Section(text="\n".join(records), section=f"rows {first}-{number - 1}")
            records, size = [], 0
        if not records:
            first = number
        records.append(record)
        size += len(record) + 1
        # Long headers repeated on every row can blow a small file up: stop early.
        total = _within_budget(total + len(record) + 1)
    if records:
        yield Section(text="\n".join(records), section=f"rows {first}-{number}")


def row_record(names: list[str], values: list[str]) -> str:
    """ "name: value; ..." for the non-empty values; unnamed columns get "column N"."""
    return "; ".join(
        f"{names[i] if i < len(names) and names[i] else f'column {i + 1}'}: {value}"
        for i, value in enumerate(values)
        if value
    )


# ---- HTML -------------------------------------------------------------------------------

_INVISIBLE = ("head", "script", "style", "noscript", "template", "svg", "iframe", "object")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
        "caption",
    }
)
WHITESPACE_RUN = re.compile(r"\s+")


def _parse_html(data: bytes, filename: str) -> ParsedDocument:
    from lxml import etree
    from lxml import html as lxml_html

    # Re-encoded as UTF-8 and declared so: our decoding wins over a lying <meta charset>.
    text = _decoded(data, filename)
    if not text.strip():  # lxml refuses an empty document with a confusing error
        return ParsedDocument(kind="html", sections=[])
    parser = lxml_html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    root = lxml_html.document_fromstring(text.encode("utf-8"), parser=parser)
    title = WHITESPACE_RUN.sub(" ", root.findtext("head/title") or "").strip() or None
    for element in root.xpath(
        "//head|//script|//style|//noscript|//template|//svg|//iframe|//object|//*[@hidden]"
    ):
        element.drop_tree()
    body = root.find("body")
    sections = _html_sections(
        etree.iterwalk(body if body is not None else root, events=("start", "end"))
    )
    return ParsedDocument(kind="html", sections=sections, title=title)


def _html_sections(events: Iterator[tuple[str, object]]) -> list[Section]:
    """Visible text, one section per heading; iterative so deep nesting cannot recurse."""
    builder = SectionBuilder()
    buf: list[str] = []
    heading: list[str] | None = None
    for event, element in events:
        tag = element.tag if isinstance(element.tag, str) else ""  # type: ignore[attr-defined]
        if event == "start":
            if tag in _HEADINGS and heading is None:
                _flush_html(builder, buf)
                heading = []
            elif tag in _BLOCKS or tag in ("td", "th"):
                buf.append("\n" if tag not in ("td", "th") else " ")
            (heading if heading is not None else buf).append(element.text or "")  # type: ignore[attr-defined]
            continue
        if tag in _HEADINGS and heading is not None:
            title = WHITESPACE_RUN.sub(" ", "".join(heading)).strip()
            if title:
                builder.heading(title)
            heading = None
        elif tag in _BLOCKS:
            buf.append("\n")
        (heading if heading is not None else buf).append(element.tail or "")  # type: ignore[attr-defined]
    _flush_html(builder, buf)
    return builder.finish()


def _flush_html(builder: SectionBuilder, buf: list[str]) -> None:
    for line in "".join(buf).split("\n"):
        line = WHITESPACE_RUN.sub(" ", line).strip()
        if line:
            builder.add(line)
    buf.clear()


def _parser(kind: str) -> Callable[[bytes, str], ParsedDocument]:
    if kind in ("pdf", "docx"):
        from app.rag import parsing_office  # imports this module: only when parsing one

        return parsing_office.parse_pdf if kind == "pdf" else parsing_office.parse_docx
    return _TEXT_PARSERS[kind]


_TEXT_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "txt": _parse_txt,
    "md": _parse_md,
    "csv": _parse_csv,
    "html": _parse_html,
}
