"""Builders for good and hostile test files, generated in memory (nothing checked in).

Also holds the test-only parsers that `test_parsing.py` runs through the real child
process (`app.rag.sandbox`), which imports them as `tests.unit.hostile_files:<name>`.
"""

from __future__ import annotations

import io
import os
import signal
import time
import zipfile
import zlib

from app.rag.types import ParsedDocument, Section

# ---- PDF ------------------------------------------------------------------------------


def make_pdf(pages: list[str], *, title: str | None = None) -> bytes:
    """A real text PDF, one string per page (reportlab)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    if title:
        pdf.setTitle(title)
    for text in pages:
        pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_scanned_pdf() -> bytes:
    """A PDF with only drawings on it, like a scan without an OCR text layer."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.rect(72, 72, 400, 600, fill=1)
    pdf.line(72, 72, 472, 672)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(["secret page"]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="open-sesame", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _raw_pdf(content_stream: bytes, stream_dict: bytes) -> bytes:
    """A minimal hand-written one-page PDF with a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< "
        + stream_dict
        + b" /Length %d >>\nstream\n" % len(content_stream)
        + content_stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_pdf_bomb(uncompressed_mb: int = 200) -> bytes:
    """One page whose FlateDecode content stream inflates to `uncompressed_mb` of spaces."""
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    body = b"".join(comp.compress(chunk) for _ in range(uncompressed_mb)) + comp.flush()
    return _raw_pdf(body, b"/Filter /FlateDecode")


def make_csv_expansion_bomb(columns: int = 50, rows: int = 20_000) -> bytes:
    """2 MB of CSV whose long header repeats on every record: gigabytes of "name: value"."""
    header = ",".join(f"{'h' * 2000}{i}" for i in range(columns))
    row = ",".join("1" * columns)
    return (header + "\n" + (row + "\n") * rows).encode()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


EXE_HEADER = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
ELF_HEADER = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


# ---- DOCX -----------------------------------------------------------------------------


def make_docx(*, title: str | None = "Quarterly report") -> bytes:
    """Headings, paragraphs and a table (python-docx)."""
    import docx

    doc = docx.Document()
    if title:
        doc.core_properties.title = title
    doc.add_paragraph("Preamble before any heading.")
    doc.add_heading("Revenue", level=1)
    doc.add_paragraph("Revenue grew by 12 percent.")
    table = doc.add_table(rows=3, cols=2)
    rows = [("Region", "Sales"), ("North", "10"), ("South", "20")]
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    doc.add_heading("Costs", level=2)
    doc.add_paragraph("Costs were flat.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def rezip(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
    extra_entries: int = 0,
) -> bytes:
    """Copy a zip, replacing or adding members (to turn a good DOCX into a hostile one)."""
    replace = replace or {}
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, body in (add or {}).items():
            dst.writestr(name, body)
        for i in range(extra_entries):
            dst.writestr(f"extra/part{i}.xml", b"<a/>")
    return buf.getvalue()


def make_docx_zip_bomb(member_mb: int = 60) -> bytes:
    """A DOCX with a huge, highly compressible extra member."""
    return rezip(make_docx(), add={"word/media/bomb.bin": b"\0" * (member_mb << 20)})


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:body><w:p><w:r><w:t>&lol4;</w:t></w:r></w:p></w:body></w:document>
"""


def make_docx_entity_bomb() -> bytes:
    return rezip(make_docx(), replace={"word/document.xml": BILLION_LAUGHS})


def make_docx_utf16_entity_bomb() -> bytes:
    """Same bomb in UTF-16, which defeats a naive byte search for "<!ENTITY"."""
    xml = BILLION_LAUGHS.replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
    return rezip(make_docx(), replace={"word/document.xml": xml.decode().encode("utf-16")})


XXE_RELS = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">&xxe;</Relationships>
"""


def make_docx_xxe() -> bytes:
    return rezip(make_docx(), replace={"word/_rels/document.xml.rels": XXE_RELS})


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


# ---- test-only parsers, run inside the real child process -----------------------------


def slow_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Never finishes in time: the parent must kill it."""
    time.sleep(60)
    return ParsedDocument(kind="txt", sections=[Section(text="too late")])


def busy_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Burns CPU forever: stopped by the wall-clock timeout or RLIMIT_CPU."""
    while True:
        pass


def memory_hog_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Asks for far more memory than the child's RLIMIT_AS allows."""
    hog = bytearray(4 << 30)
    return ParsedDocument(kind="txt", sections=[Section(text=str(len(hog)))])


def crashing_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Dies the way a C extension would on a hostile file."""
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def chatty_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Prints to stdout (as some libraries do); must not corrupt the result channel."""
    print("noise on stdout")
    return ParsedDocument(kind="txt", sections=[Section(text=data.decode())], title="chatty")


def modules_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Reports what the child has imported and which environment it sees."""
    import sys

    from app.rag.parsing import parse_bytes_inprocess

    parse_bytes_inprocess(data, filename, max_bytes=max_bytes)  # load a real parser first
    return ParsedDocument(
        kind="txt",
        sections=[
            Section(text="\n".join(sorted(sys.modules))),
            Section(text="\n".join(os.environ)),
        ],
    )


def bogus_parser(data: bytes, filename: str, *, max_bytes: int) -> ParsedDocument:
    """Answers with a shape the parent must refuse (as a compromised child might)."""
    return ParsedDocument(kind="exe", sections=[Section(text="x", page="1")])  # type: ignore[arg-type]
