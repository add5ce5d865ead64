"""Knowledge page services on SQLite and PostgreSQL: the documents table's search, sort and
paging, the live-progress queries, Q&A lookups and the "test retrieval" turn, all
tenant-scoped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import NotFoundError, session_scope
from app.models import Conversation, DocumentStatus, Message
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner
from app.rag.retriever import retriever_factory
from app.rag.store import EdgeStore
from app.rag.workflow import ChatWorkflow
from app.services import accounts, documents, qa, widgets
from app.services.cache import CachedQueryEmbedder, MemoryTTLCache, reset_cache
from app.services.chat import ChatRequest, ChatService, WidgetUnavailableError
from app.services.limits import reset_rate_limiter
from app.services.retrieval_preview import DASHBOARD_CHANNEL, PreviewError, preview
from app.settings import Settings

MANUAL = """# Aurora 3000 manual

The Aurora 3000 espresso machine heats water to 93 degrees Celsius in forty seconds.

Descale the machine every two months with the supplied citric acid tablets.

## Warranty

The warranty covers manufacturing defects for two years from the date of purchase.
"""


@dataclass
class Env:
    engine: Engine
    settings: Settings
    tenant: str
    user: str
    other: str


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> Env:
    settings = Settings(data_dir=tmp_path / "data")
    with session_scope(engine) as s:
        user, a = accounts.sign_up(s, "a@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "b@b.io", "a-long-password", "B")
        return Env(engine, settings, a.id, user.id, b.id)


def add_text(env: Env, title: str, text: str, tenant: str | None = None) -> str:
    with session_scope(env.engine) as s:
        doc = documents.create_text_document(
            s, tenant or env.tenant, title=title, text=text, settings=env.settings
        )
        return doc.id


def titles(env: Env, tenant: str | None = None, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    with session_scope(env.engine) as s:
        page = documents.list_documents(s, tenant or env.tenant, **kw)
        return [d.title for d in page.items]


def test_search_sort_and_paging_stay_in_the_tenant(env: Env) -> None:
    for i, name in enumerate(["banana notes", "Apple guide", "cherry FAQ", "apple_pie 100%"]):
        add_text(env, name, f"{name} " + "x" * (10 * (i + 1)))
    add_text(env, "apple secrets of B", "only in workspace B", tenant=env.other)

    # Search is case-insensitive, by title, and never sees another tenant's rows.
    assert sorted(titles(env, search="apple")) == ["Apple guide", "apple_pie 100%"]
    assert titles(env, tenant=env.other, search="apple") == ["apple secrets of B"]
    # LIKE wildcards in the search are literal characters.
    assert titles(env, search="_") == ["apple_pie 100%"]
    assert titles(env, search="100%") == ["apple_pie 100%"]
    assert titles(env, search="e%g") == []

    # Sort by title ignores case (same order on both databases), either direction.
    assert titles(env, order="title") == [
        "Apple guide",
        "apple_pie 100%",
        "banana notes",
        "cherry FAQ",
    ]
    assert titles(env, order="-title")[0] == "cherry FAQ"
    sizes = titles(env, order="-size_bytes")
    assert sizes[0] == "apple_pie 100%" and sizes[-1] == "banana notes"
    # An unknown column falls back to the default order instead of reaching SQL.
    assert len(titles(env, order="tenant_id; drop table document")) == 4

    # Pages cover every row exactly once, with the total of this tenant only.
    seen: list[str] = []
    with session_scope(env.engine) as s:
        for offset in (0, 3):
            page = documents.list_documents(s, env.tenant, order="title", offset=offset, limit=3)
            assert page.total == 4
            seen += [d.title for d in page.items]
    assert sorted(seen, key=str.lower) == seen and len(set(seen)) == 4


def test_progress_queries_are_tenant_scoped(env: Env) -> None:
    mine = add_text(env, "mine", "some text of mine")
    theirs = add_text(env, "theirs", "some text of theirs", tenant=env.other)
    with session_scope(env.engine) as s:
        assert documents.count_in_progress(s, env.tenant) == 1
        assert [d.id for d in documents.documents_by_id(s, env.tenant, [mine, theirs])] == [mine]
        assert documents.documents_by_id(s, env.tenant, []) == []
        doc = documents.get_document(s, env.tenant, mine)
        doc.status = DocumentStatus.ready
        s.add(doc)
    with session_scope(env.engine) as s:
        assert documents.count_in_progress(s, env.tenant) == 0
        assert documents.count_in_progress(s, env.other) == 1
        with pytest.raises(NotFoundError):
            documents.requeue(s, env.tenant, theirs)


def test_qa_pairs_are_tenant_scoped(env: Env) -> None:
    with session_scope(env.engine) as s:
        pair = qa.create_pair(
            s, env.tenant, "Do you ship abroad?", "Yes, to 30 countries.", enabled=False
        )
        pair_id = pair.id
    with session_scope(env.engine) as s:
        assert qa.get_pair(s, env.tenant, pair_id).enabled is False
        with pytest.raises(NotFoundError):
            qa.get_pair(s, env.other, pair_id)
        with pytest.raises(NotFoundError):
            qa.update_pair(s, env.other, pair_id, question="q", answer="a")


# ---- test retrieval -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def service(env: Env, embedder: LocalEmbedder) -> Iterator[ChatService]:
    reset_cache()
    reset_rate_limiter()
    store = EdgeStore(env.settings.qdrant_path)
    runner = JobRunner(
        env.engine,
        store,
        embedder,
        IngestConfig(
            files_dir=env.settings.files_dir, max_upload_bytes=env.settings.max_upload_bytes
        ),
    )
    with session_scope(env.engine) as s:
        documents.create_document(
            s, env.tenant, filename="aurora.md", data=MANUAL.encode(), settings=env.settings
        )
        documents.create_document(
            s,
            env.other,
            filename="b.txt",
            data=b"Zebra canary 7731 descale lives only in B.",
            settings=env.settings,
        )
    runner.drain()
    query_embedder = CachedQueryEmbedder(embedder, MemoryTTLCache())
    yield ChatService(
        ChatWorkflow(retriever_factory(store, query_embedder), qa.QAMatcher(query_embedder))
    )
    store.close()
    reset_cache()
    reset_rate_limiter()


def test_preview_shows_scored_chunks_and_logs_a_dashboard_turn(
    env: Env, service: ChatService
) -> None:
    with session_scope(env.engine) as s:
        widget_id = widgets.create_widget(s, env.tenant, "Support").id
    result = asyncio.run(
        preview(env.tenant, env.user, "How often should I descale?", widget_id, service=service)
    )
    assert result.answered and "every two months" in result.answer
    # Every retrieved chunk is listed (not only the cited one), best first, with its
    # hybrid score (min-max normalized per query: the best is 1, the weakest may be 0).
    assert len(result.chunks) == 2 and result.chunks[0].score == pytest.approx(1.0)
    assert [c.score for c in result.chunks] == sorted(
        (c.score for c in result.chunks), reverse=True
    )
    assert result.cited == [1] and "Descale" in result.chunks[0].text
    assert all("Zebra" not in c.text for c in result.chunks)  # never another tenant's text
    # Beside the normalized rank: the raw cosine of each chunk (issue 12 item 14), so a page
    # of weak chunks does not all look like 1.000; and the sentence the answer quotes.
    assert set(result.relevance) == {1, 2}
    raw = [result.relevance[c.n] for c in result.chunks]
    assert all(r is None or -1.0 <= r <= 1.0 for r in raw) and raw[0] is not None
    assert raw[0] < 0.99  # a cosine, not the normalized 1.0 rank score
    quote = result.quotes[1]
    assert "every two months" in quote and quote in result.chunks[0].text
    assert set(result.quotes) <= set(result.cited)
    with session_scope(env.engine) as s:
        conversation = s.get(Conversation, result.conversation_id)
        assert conversation.channel == DASHBOARD_CHANNEL and conversation.widget_id == widget_id
        assert conversation.tenant_id == env.tenant
        assert conversation.visitor_id == f"dashboard:{env.user}"
        roles = [
            m.role
            for m in s.exec(select(Message).where(Message.conversation_id == conversation.id))
        ]
        assert sorted(roles) == ["assistant", "user"]


def test_preview_without_a_widget_uses_workspace_defaults(env: Env, service: ChatService) -> None:
    result = asyncio.run(
        preview(env.tenant, env.user, "What does the warranty cover?", service=service)
    )
    assert result.answered and "two years" in result.answer
    with session_scope(env.engine) as s:
        conversation = s.get(Conversation, result.conversation_id)
        assert conversation.widget_id is None and conversation.channel == DASHBOARD_CHANNEL
    # Only a dashboard test may run without a widget; visitors always need one.
    req = ChatRequest(tenant_id=env.tenant, widget_id=None, message="warranty?", channel="web")
    with pytest.raises(WidgetUnavailableError):
        asyncio.run(service.ask(req))


def test_preview_refuses_bad_input_and_foreign_widgets(env: Env, service: ChatService) -> None:
    with pytest.raises(PreviewError):
        asyncio.run(preview(env.tenant, env.user, "   ", service=service))
    with pytest.raises(PreviewError):
        asyncio.run(preview(env.tenant, env.user, "x" * 1001, service=service))
    with session_scope(env.engine) as s:
        foreign = widgets.create_widget(s, env.other, "Theirs").id
    with pytest.raises(WidgetUnavailableError):
        asyncio.run(preview(env.tenant, env.user, "descale?", foreign, service=service))


def test_progress_poll_never_stops_on_a_row_still_in_progress(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Knowledge page polls until a snapshot says nothing is active. A document that
    finishes between the snapshot's reads must not leave its row "in progress" with the
    polling stopped (it stayed on "Indexing 99%" in the browser test under load)."""
    from app.state import knowledge_uploads as page

    doc_id = add_text(env, "late", "text that finishes while the page polls")
    read_rows = documents.documents_by_id

    def finishing_meanwhile(session, tenant_id, ids):  # type: ignore[no-untyped-def]
        rows = read_rows(session, tenant_id, ids)
        with session_scope(env.engine) as worker:  # the ingestion worker commits "ready"
            doc = documents.get_document(worker, env.tenant, doc_id)
            doc.status = DocumentStatus.ready
            worker.add(doc)
        return rows

    monkeypatch.setattr(documents, "documents_by_id", finishing_meanwhile)
    snap = page._snapshot(env.tenant, ("", "-updated_at", 0), [doc_id])
    shown = [*snap.rows, *snap.uploads.values()]
    assert snap.uploads[doc_id].active  # read before the commit: still in progress
    assert snap.active or not any(row.active for row in shown)
