"""Request and response models of the public API (they are the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.rag.chat import MAX_QUESTION_CHARS

ID_PATTERN = r"^[0-9a-f]{32}$"


def storable(value: str) -> str:
    # NUL and lone surrogates cannot be stored (PostgreSQL text, UTF-8): they become U+FFFD,
    # like any undecodable input, rather than failing the request.
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    return value


# At least one character that str.split() does not treat as whitespace (the chat service
# collapses whitespace), spelled out so every regex dialect agrees with Python.
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

Id = Annotated[str, Field(pattern=ID_PATTERN, examples=["3f2a9c0e5b7d4e1f8a6b2c4d9e0f1a2b"])]
Text = Annotated[str, AfterValidator(storable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details; every error answers with one."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    existing_id: str | None = None
    model_config = ConfigDict(extra="allow")


# ---- chat -----------------------------------------------------------------------------


class ChatIn(Strict):
    message: Text = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=NOT_BLANK,
        description="The visitor's question (at least one non-space character).",
        examples=["How do I descale the machine?"],
    )
    widget_id: Id = Field(description="Which widget (bot) answers.")
    conversation_id: Id | None = Field(
        default=None, description="Continue this conversation; omit to start a new one."
    )


class SourceOut(BaseModel):
    n: int = Field(description="The `[n]` citation marker in the answer.")
    document_id: str
    title: str
    text: str = Field(description="The quoted passage.")
    score: float
    page: int | None = None
    section: str | None = None


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float


class ChatOut(BaseModel):
    answer: str
    sources: list[SourceOut]
    conversation_id: str
    message_id: str = Field(description="The answer's id (for feedback).")
    usage: UsageOut
    model: str
    provider: str
    cached: bool
    notice: str | None = None


# ---- conversations --------------------------------------------------------------------


class ConversationOut(BaseModel):
    id: str
    widget_id: str | None
    channel: str
    title: str
    started_at: datetime
    last_message_at: datetime
    message_count: int


class MessageOut(BaseModel):
    id: str
    role: Literal["user", "assistant", "staff"]
    author_name: str | None = None  # staff messages: the person's name
    text: str
    sources: list[dict[str, Any]]
    model: str | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    feedback: Literal[1, -1] | None
    created_at: datetime


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    total: int
    offset: int
    limit: int


class FeedbackIn(Strict):
    value: Literal[1, -1] | None = Field(description="1 helpful, -1 not helpful, null clears.")


class FeedbackOut(BaseModel):
    message_id: str
    feedback: Literal[1, -1] | None


# ---- documents ------------------------------------------------------------------------

DocumentStatusName = Literal[
    "queued", "parsing", "chunking", "embedding", "indexing", "ready", "failed"
]


class DocumentOut(BaseModel):
    id: str
    title: str
    filename: str
    kind: str
    size_bytes: int
    status: DocumentStatusName
    progress: int = Field(ge=0, le=100)
    step: str
    error: str | None
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class DocumentAccepted(BaseModel):
    id: str
    status: DocumentStatusName
    status_url: str = Field(description="Poll this for progress.")


class DocumentPageOut(BaseModel):
    items: list[DocumentOut]
    total: int
    offset: int
    limit: int
