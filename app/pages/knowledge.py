"""Knowledge."""

from __future__ import annotations

from app import routes
from app.components.placeholder import placeholder_page

knowledge = placeholder_page(
    routes.KNOWLEDGE,
    "Knowledge",
    "book-open",
    "Documents your assistant answers from.",
    "Upload PDF, DOCX, TXT, Markdown or CSV files, or paste text; they are "
    "parsed, chunked and indexed for this workspace only.",
)
