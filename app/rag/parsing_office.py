"""Word (DOCX) and PDF uploads -> `ParsedDocument`, under the rules of `app.rag.parsing`.

Both are containers that can expand far beyond their size on disk, so they get their own
checks before and while parsing: a DOCX's zip entries, sizes and compression ratios and its
XML parts without a DTD (no entity expansion, no XXE); a PDF's page count, encryption (an
empty user password is tried, nothing else) and the text budget across pages. pypdf and
python-docx are imported inside the functions: only the sandboxed child that parses such a
file pays for them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

from app.rag.parsing import (
    MAX_COMPRESSION_RATIO,
    MAX_PDF_PAGES,
    MAX_TEXT_CHARS,
    MAX_UNZIPPED_BYTES,
    MAX_ZIP_ENTRIES,
    RATIO_CHECK_MIN_BYTES,
    WHITESPACE_RUN,
    ParseError,
    SectionBuilder,
    clean_text,
    display_name,
    log,
    megabytes,
    row_record,
    unexpected_errors_as,
)
from app.rag.types import ParsedDocument, Section

# ---- DOCX -------------------------------------------------------------------------------


def parse_docx(data: bytes, filename: str) -> ParsedDocument:
    import docx
    from docx.table import Table

    _check_docx_zip(data, filename)
    with unexpected_errors_as(f"{display_name(filename)} is a damaged Word document."):
        document = docx.Document(io.BytesIO(data))
        # Paragraph.style rescans all styles on every call (quadratic on big files): map the
        # paragraph's style id to its name once instead.
        style_names = {s.style_id: s.name or "" for s in document.styles}
        builder = SectionBuilder()
        first_title: str | None = None
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for line in _table_lines(block):
                    builder.add(line)
                continue
            text = block.text.strip()
            style = style_names.get(block._p.style or "", "")
            if text and (style.startswith("Heading") or style == "Title"):
                builder.heading(text)
                first_title = first_title or (text if style == "Title" else None)
            elif text:
                builder.add(text)
    return ParsedDocument(
        kind="docx", sections=builder.finish(), title=_docx_title(document) or first_title
    )


def _docx_title(document: object) -> str | None:
    try:
        return document.core_properties.title or None  # type: ignore[attr-defined]
    except Exception:  # a broken docProps/core.xml is not worth failing the document for
        return None


def _table_lines(table: object) -> Iterator[str]:
    """Rows as "header: value; ..." when the first row looks like a header, else "a | b"."""
    rows: list[list[str]] = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:  # merged cells repeat; keep one
                seen.add(id(cell._tc))
                cells.append(WHITESPACE_RUN.sub(" ", cell.text).strip())
        rows.append(cells)
    rows = [r for r in rows if any(r)]
    if len(rows) >= 2 and all(rows[0]):
        yield from (row_record(rows[0], r) for r in rows[1:])
    else:
        yield from (" | ".join(r) for r in rows)


def _check_docx_zip(data: bytes, filename: str) -> None:
    """Zip-bomb, structure and XML-DTD checks, from the central directory, before python-docx.

    zipfile itself stops inflating at each member's declared size (then fails the CRC), so
    the declared sizes checked here are the real upper bound.
    """
    name = display_name(filename)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ParseError(f"{name} is a damaged or truncated Word document.") from exc
    with archive:
        infos = archive.infolist()
        _check_zip_limits(infos, name)
        names = {i.filename for i in infos}
        if "word/document.xml" not in names or "[Content_Types].xml" not in names:
            raise ParseError(f"{name} is a ZIP archive but not a Word (.docx) document.")
        if any(i.flag_bits & 0x1 for i in infos):
            raise ParseError(f"{name} is password-protected.")
        for info in infos:
            if info.filename.endswith((".xml", ".rels")):
                with unexpected_errors_as(f"{name} is a damaged Word document."):
                    part = archive.read(info)
                _reject_dtd(part, info.filename, name)


def _check_zip_limits(infos: list[zipfile.ZipInfo], name: str) -> None:
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ParseError(
            f"{name} contains too many parts ({len(infos):,}; the limit is {MAX_ZIP_ENTRIES:,})."
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise ParseError(
            f"{name} unpacks to {megabytes(total)}, more than the {megabytes(MAX_UNZIPPED_BYTES)}"
            " allowed (possible zip bomb)."
        )
    for info in infos:
        if info.file_size > RATIO_CHECK_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise ParseError(
                f"{name} contains a part compressed more than "
                f"{MAX_COMPRESSION_RATIO}:1 (possible zip bomb)."
            )


class _PrologDone(Exception):
    """Raised at the root element: a DTD can only come before it, so stop reading there."""


class _DTDFound(Exception):
    pass


def _reject_dtd(part: bytes, part_name: str, name: str) -> None:
    """OOXML never needs a DTD; one in a part is an entity bomb or an XXE attempt.

    Plain expat (what defusedxml wraps) reading only the prolog: it honours the part's own
    encoding declaration or BOM, costs nothing on big parts and builds no tree.
    """
    from xml.parsers import expat

    def dtd(*_args: object) -> None:
        raise _DTDFound

    def root(*_args: object) -> None:
        raise _PrologDone

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = dtd
    parser.EntityDeclHandler = dtd
    parser.StartElementHandler = root
    try:
        parser.Parse(part, True)
    except _PrologDone:
        return
    except _DTDFound:
        raise ParseError(
            f"{name} was refused: {part_name} declares a DTD or XML entities "
            "(possible entity bomb)."
        ) from None
    except expat.ExpatError as exc:
        raise ParseError(f"{name} is a damaged Word document (bad XML in {part_name}).") from exc
    raise ParseError(f"{name} is a damaged Word document ({part_name} is empty).")


# ---- PDF --------------------------------------------------------------------------------


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    from pypdf import PdfReader

    name = display_name(filename)
    if b"%%EOF" not in data[-1024:]:
        raise ParseError(f"{name} is truncated or damaged (no end-of-file marker).")
    with unexpected_errors_as(f"{name} is a damaged PDF."):
        reader = PdfReader(io.BytesIO(data), strict=False)
        _unlock(reader, name)
        page_count = len(reader.pages)
    if page_count > MAX_PDF_PAGES:
        raise ParseError(
            f"{name} has too many pages ({page_count:,}; the limit is {MAX_PDF_PAGES:,})."
        )
    sections = list(_pdf_pages(reader, name))
    if not sections:
        raise ParseError(
            f"{name} contains no extractable text: it may be a scan without a "
            "text layer (run OCR first) or deliberately malformed."
        )
    return ParsedDocument(kind="pdf", sections=sections, title=_pdf_title(reader))


def _unlock(reader: object, name: str) -> None:
    """Open PDFs that only have an owner password (common); refuse a real user password."""
    if not reader.is_encrypted:  # type: ignore[attr-defined]
        return
    try:
        unlocked = bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:  # unsupported cipher or broken encryption dictionary
        unlocked = False
    if not unlocked:
        raise ParseError(f"{name} is password-protected; remove the password and upload again.")


def _pdf_pages(reader: object, name: str) -> Iterator[Section]:
    from pypdf.errors import LimitReachedError

    failed = total = 0
    pages = reader.pages  # type: ignore[attr-defined]
    for number in range(1, len(pages) + 1):
        try:
            text = pages[number - 1].extract_text() or ""
        except LimitReachedError as exc:
            raise ParseError(
                f"{name} was refused: page {number} decompresses to more data "
                "than allowed (possible decompression bomb)."
            ) from exc
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:  # one broken page should not lose the rest
            failed += 1
            log.info("pdf page %d unreadable: %s: %s", number, type(exc).__name__, exc)
            continue
        text = clean_text(text, reject_binary=False).strip()
        total += len(text)
        if total > MAX_TEXT_CHARS:
            raise ParseError(f"{name} contains too much text (over {MAX_TEXT_CHARS:,} characters).")
        if text:
            yield Section(text=text, page=number)
    if failed:
        log.warning("%s: %d of %d pages could not be read", name, failed, len(pages))


def _pdf_title(reader: object) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None  # type: ignore[attr-defined]
    except Exception:  # broken info dictionary: the title is not worth failing for
        return None
    title = str(title or "").strip()
    return None if title.lower() in ("", "untitled") else title
