"""Intent and hybrid widget modes through the one chat path, on SQLite and PostgreSQL: intent
turns never reach the LLM (a recording protocol server proves it), are stored and metered
like other turns, and the order dialogue keeps its step in the database so that another
ChatService (another process) continues it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import AuditEvent, IntentDialogue, Message, Tenant, UsageDaily
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner
from app.rag.retriever import retriever_factory
from app.rag.store import EdgeStore
from app.rag.workflow import ChatWorkflow
from app.services import (
    accounts,
    catalogues,
    credentials,
    documents,
    intent_router,
    intents,
    qa,
    widgets,
)
from app.services.cache import CachedQueryEmbedder, MemoryTTLCache, reset_cache
from app.services.chat import ChatRequest, ChatService, HandoffEvent, TurnSaved
from app.services.escalation import HumanRequestDetector
from app.services.limits import reset_rate_limiter
from app.settings import Settings
from tests.support.fake_llm import FakeLLM, Script
from tests.support.fake_shops import ITEMS_KEY, FakeShops
from tests.support.loopback_server import LoopbackServer

MANUAL = b"The Aurora 3000 espresso machine must be descaled every two months."
UNKNOWN = "I can only help with orders, products and opening hours here."


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[str, FakeShops]]:
    shops = FakeShops()
    with LoopbackServer(shops.app()) as srv:
        yield srv.url, shops


@dataclass
class World:
    engine: Engine
    tenant: str
    widget: str
    make_service: object
    llm: FakeLLM


@pytest.fixture
def world(
    engine: Engine,
    tmp_path: Path,
    embedder: LocalEmbedder,
    shop: tuple[str, FakeShops],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")  # the fake shop is on loopback
    monkeypatch.delenv("REDIS_URL", raising=False)
    reset_cache()
    reset_rate_limiter()
    intents.reset_cache()
    settings = Settings(data_dir=tmp_path / "data")
    store = EdgeStore(settings.qdrant_path)
    runner = JobRunner(
        engine,
        store,
        embedder,
        IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes),
    )
    url, _ = shop
    with FakeLLM(script=Script(text="From the manual: every two months [1].")) as llm:
        with session_scope(engine) as s:
            _, t = accounts.sign_up(s, "a@a.io", "a-long-password", "A")
            w = widgets.create_widget(s, t.id, "Shop", mode="intent", unknown_answer=UNKNOWN)
            documents.create_document(s, t.id, filename="m.txt", data=MANUAL, settings=settings)
            credentials.set_credentials(
                s,
                s.get(Tenant, t.id),
                {"openai_key": "sk-test-key-123456", "openai_base_url": llm.openai_url},
            )
            catalogues.create(
                s, t.id, "json", "Shop",
                {"url": f"{url}/fakestore/products", "orders_url": f"{url}/api/orders/{{number}}",
                 "orders_path": "order", "auth_header": "X-Api-Key", "auth_value": ITEMS_KEY},
            )  # fmt: skip
            ids = t.id, w.id
        runner.drain()
        query_embedder = CachedQueryEmbedder(embedder, MemoryTTLCache())

        def make_service() -> ChatService:
            return ChatService(
                ChatWorkflow(
                    retriever_factory(store, query_embedder), qa.QAMatcher(query_embedder)
                ),
                detector=HumanRequestDetector(query_embedder),
            )

        yield World(engine, ids[0], ids[1], make_service, llm)
    store.close()
    reset_cache()
    reset_rate_limiter()


def turn(w: World, message: str, service: ChatService | None = None, **kw) -> list[object]:  # type: ignore[no-untyped-def]
    req = ChatRequest(
        tenant_id=w.tenant, widget_id=w.widget, message=message, visitor_id="v1", **kw
    )
    svc = service or w.make_service()  # type: ignore[operator]

    async def run() -> list[object]:
        return [e async for e in svc.stream(req)]

    return asyncio.run(run())


def saved(events: list[object]) -> TurnSaved:
    return next(e for e in events if isinstance(e, TurnSaved))


def test_intent_mode_answers_without_llm_or_retrieval_and_meters(world: World) -> None:
    hello = saved(turn(world, "hello there!"))
    assert hello.result.answer == "Hello! How can I help you today?"
    assert (hello.result.model, hello.result.provider) == ("intent:greeting", "intent")
    # A question the manual could answer: intent mode does not retrieve, it says it cannot.
    other = saved(turn(world, "How often should I descale the espresso machine?"))
    assert other.result.answer == UNKNOWN and not other.result.sources
    assert other.result.model == "intent:none" and not other.result.answered
    assert world.llm.count == 0
    with session_scope(world.engine) as s:
        msg = s.get(Message, other.message_id)
        assert (msg.model, msg.tokens_in, msg.tokens_out, msg.cost_usd) == ("intent:none", 0, 0, 0)
        usage = s.exec(select(UsageDaily).where(UsageDaily.tenant_id == world.tenant)).one()
        assert (usage.messages, usage.tokens_in, usage.conversations) == (4, 0, 2)


def test_hybrid_mode_intents_first_llm_otherwise(world: World) -> None:
    with session_scope(world.engine) as s:
        widgets.update_widget(s, world.tenant, world.widget, mode="hybrid")
    thanks = saved(turn(world, "thanks a lot!"))
    assert thanks.result.model == "intent:thanks"
    assert world.llm.count == 0
    answer = saved(turn(world, "How often should I descale the espresso machine?"))
    assert world.llm.count == 1
    assert answer.result.provider == "openai" and "two months" in answer.result.answer


def test_order_dialogue_across_two_services(world: World) -> None:
    a, b = world.make_service(), world.make_service()  # type: ignore[operator]
    first = saved(turn(world, "where is my order 1234?", a))
    cid = first.conversation_id
    assert first.result.answer == intent_router.ASK_EMAIL.format(number="1234")
    with session_scope(world.engine) as s:
        step = s.get(IntentDialogue, cid)
        assert (step.step, step.order_number) == ("need_email", "1234")
    wrong = saved(turn(world, "it's other@example.com", b, conversation_id=cid))
    assert "couldn't find order 1234" in wrong.result.answer
    assert "Backpack" not in wrong.result.answer and not wrong.result.answered
    right = saved(turn(world, "ME@example.com", a, conversation_id=cid))
    assert "Order 1234 is being prepared" in right.result.answer
    assert "1 x Backpack model 7" in right.result.answer
    assert right.result.model == "intent:order_status"
    with session_scope(world.engine) as s:
        assert s.get(IntentDialogue, cid) is None
    both = saved(turn(world, "order 1235, other@example.com", b))
    assert (
        "Order 1235 is shipped" in both.result.answer and "1Z999AA10123456784" in both.result.answer
    )
    assert world.llm.count == 0


def test_order_dialogue_asks_for_the_number_then_moves_on(world: World) -> None:
    first = saved(turn(world, "has my parcel shipped yet?"))
    cid = first.conversation_id
    assert first.result.answer == intent_router.ASK_NUMBER
    # The visitor changes the subject: a rule-decided intent ends the dialogue.
    hours = saved(turn(world, "what are your opening hours?", conversation_id=cid))
    assert hours.result.model == "intent:opening_hours"
    with session_scope(world.engine) as s:
        assert s.get(IntentDialogue, cid) is None


def test_opening_hours_handoff_and_owner_edits(world: World) -> None:
    with session_scope(world.engine) as s:
        tenant = s.get(Tenant, world.tenant)
        tenant.opening_hours = {"timezone": "UTC", "days": {"mon": ["09:00", "17:00"]}}
        s.add(tenant)
    hours = saved(turn(world, "when are you open?"))
    assert "Mon 09:00-17:00 (UTC)" in hours.result.answer
    handed = turn(world, "I want to talk to a real person")
    assert any(isinstance(e, HandoffEvent) for e in handed)
    assert not any(isinstance(e, TurnSaved) for e in handed)
    with session_scope(world.engine) as s:
        rows = {r.name: r for r in intents.ensure_defaults(s, world.tenant)}
        assert len(rows) == 6
        intents.update_intent(
            s, world.tenant, rows["greeting"].id, reply="Welcome to the shop!",
            keywords=["ahoy"],
        )  # fmt: skip
        intents.update_intent(s, world.tenant, rows["thanks"].id, enabled=False)
    assert saved(turn(world, "ahoy matey")).result.answer == "Welcome to the shop!"
    assert saved(turn(world, "thanks!")).result.answer == UNKNOWN  # disabled
    with session_scope(world.engine) as s:
        actions = s.exec(
            select(AuditEvent.action).where(AuditEvent.tenant_id == world.tenant)
        ).all()
        assert actions.count("intent.updated") == 2
    assert world.llm.count == 0
