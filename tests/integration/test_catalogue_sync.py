"""Catalogue sync on SQLite and PostgreSQL against the local fake shops: products become rows
and vectors, a re-sync of an unchanged shop embeds nothing, removed products leave both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import NotFoundError, session_scope
from app.models import (
    AuditEvent,
    Catalogue,
    CatalogueJob,
    CatalogueProduct,
    JobStatus,
    utcnow,
)
from app.rag.embedding import LocalEmbedder
from app.rag.store import EdgeStore
from app.security import decrypt_secret
from app.services import accounts, catalogue_sync, catalogues, product_search
from app.services.catalogue_sync import CatalogueSyncRunner
from tests.support.fake_shops import MAGENTO_TOKEN, FakeShops, catalogue
from tests.support.loopback_server import LoopbackServer


class CountingEmbedder:
    """The real local model, counting what it is asked to embed."""

    def __init__(self, model: LocalEmbedder, vector_space: str = "") -> None:
        self.model, self.calls = model, 0
        self.vector_space = vector_space or model.vector_space

    def get_text_embedding_batch(self, texts: list[str], **kw: object) -> list[list[float]]:
        self.calls += len(texts)
        return self.model.get_text_embedding_batch(texts)


@pytest.fixture(scope="module")
def model() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def shop_server() -> Iterator[tuple[str, FakeShops]]:
    shops = FakeShops()
    with LoopbackServer(shops.app()) as srv:
        yield srv.url, shops


@dataclass
class Env:
    engine: Engine
    store: EdgeStore
    runner: CatalogueSyncRunner
    embedder: CountingEmbedder
    url: str
    shops: FakeShops
    tenant: str
    other: str


@pytest.fixture
def env(
    engine: Engine,
    tmp_path: Path,
    model: LocalEmbedder,
    shop_server: tuple[str, FakeShops],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")  # the shop runs on loopback
    url, shops = shop_server
    shops.products, shops.malformed, shops.status, shops.delay_s = catalogue(12), [], None, 0.0
    store = EdgeStore(tmp_path / "qdrant")
    embedder = CountingEmbedder(model)
    runner = CatalogueSyncRunner(engine, store, embedder, worker_id="t1")  # type: ignore[arg-type]
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "a@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "b@b.io", "a-long-password", "B")
    yield Env(engine, store, runner, embedder, url, shops, a.id, b.id)
    store.close()


def _create(env: Env, kind: str, config: dict[str, object], schedule: str = "off") -> str:
    with session_scope(env.engine) as s:
        return catalogues.create(s, env.tenant, kind, "Shop", config, schedule=schedule).id


def _products(env: Env, catalogue_id: str) -> dict[str, CatalogueProduct]:
    with session_scope(env.engine) as s:
        rows = s.exec(
            select(CatalogueProduct).where(CatalogueProduct.catalogue_id == catalogue_id)
        ).all()
        return {r.external_id: r for r in rows}


def test_json_sync_resync_removal_and_tenancy(env: Env) -> None:
    env.shops.malformed = [{"id": 99, "title": "", "price": 1}]
    cid = _create(env, "json", {"url": f"{env.url}/fakestore/products", "currency": "eur"})
    assert env.runner.drain() == 1
    assert env.embedder.calls == 12
    rows = _products(env, cid)
    assert len(rows) == 12 and rows["1"].price == Decimal("33.95") and rows["1"].currency == "EUR"
    assert env.store.count(env.tenant) == 12 and env.store.count(env.other) == 0
    with session_scope(env.engine) as s:
        cat = s.get(Catalogue, cid)
        assert cat is not None and cat.status == "ready" and cat.product_count == 12
        assert cat.skipped_count == 1 and cat.skipped[0]["id"] == "99" and cat.last_synced_at
    hits = env.store.search_dense(env.tenant, env.embedder.model.get_query_embedding("backpack"), 3)
    assert "Backpack" in hits[0].title and hits[0].document_id == rows["7"].id

    # Unchanged shop: nothing embedded. Then one product changes and one disappears.
    with session_scope(env.engine) as s:
        catalogues.request_sync(s, env.tenant, cid)
    env.embedder.calls = 0
    env.runner.drain()
    assert env.embedder.calls == 0 and env.store.count(env.tenant) == 12
    gone = rows["3"].id
    env.shops.products = [p for p in catalogue(12) if p["id"] != 3]
    env.shops.products[0]["price"] = 9.5
    with session_scope(env.engine) as s:
        catalogues.request_sync(s, env.tenant, cid)
    env.runner.drain()
    assert env.embedder.calls == 1
    rows = _products(env, cid)
    assert "3" not in rows and rows["1"].price == Decimal("9.50")
    assert env.store.count(env.tenant) == 11 and env.store.count(env.tenant, gone) == 0
    with session_scope(env.engine) as s:
        cat = s.get(Catalogue, cid)
        assert cat is not None and (cat.last_embedded, cat.last_removed) == (1, 1)

    # Another tenant cannot see, sync or delete it; the owner deletes it with its vectors.
    with session_scope(env.engine) as s:
        with pytest.raises(NotFoundError):
            catalogues.request_sync(s, env.other, cid)
        with pytest.raises(NotFoundError):
            catalogues.delete(s, env.other, cid)
        assert catalogues.list_catalogues(s, env.other) == []
    with session_scope(env.engine) as s:
        ids = catalogues.delete(s, env.tenant, cid)
    catalogue_sync.drop_points(env.store, env.tenant, ids)
    assert env.store.count(env.tenant) == 0 and _products(env, cid) == {}
    with session_scope(env.engine) as s:
        actions = [e.action for e in s.exec(select(AuditEvent)) if e.target_id == cid]
    assert sorted(actions) == ["catalogue.created", "catalogue.deleted"]


def test_magento_secret_encrypted_auth_failure_and_retry(env: Env) -> None:
    cid = _create(env, "magento2", {"base_url": env.url, "token": MAGENTO_TOKEN})
    with session_scope(env.engine) as s:
        cat = s.get(Catalogue, cid)
        assert cat is not None and "token" not in cat.config
        assert cat.secrets_encrypted and MAGENTO_TOKEN not in cat.secrets_encrypted
        assert MAGENTO_TOKEN in decrypt_secret(cat.secrets_encrypted)
        assert catalogues.public_config(cat)["token_set"] is True
    env.runner.drain()
    assert len(_products(env, cid)) == 11  # MB-010 is disabled in the shop

    # An update with the token left empty keeps it; a wrong one fails with the shop's reason.
    with session_scope(env.engine) as s:
        catalogues.update(s, env.tenant, cid, config={"token": ""}, schedule="hourly")
        cat = s.get(Catalogue, cid)
        assert cat is not None and MAGENTO_TOKEN in catalogues.full_config(cat)["token"]
        assert cat.next_sync_at is not None
        catalogues.update(s, env.tenant, cid, config={"token": "wrong"})
        catalogues.request_sync(s, env.tenant, cid)
    env.runner.drain()
    with session_scope(env.engine) as s:
        cat = s.get(Catalogue, cid)
        assert cat is not None and cat.status == "failed"
        assert "refused the credentials" in (cat.last_error or "")
    assert len(_products(env, cid)) == 11  # a failed sync keeps what was there
    with session_scope(env.engine) as s:
        updates = [e for e in s.exec(select(AuditEvent)) if e.action == "catalogue.updated"]
    assert len(updates) == 2 and "wrong" not in str([u.diff for u in updates])

    # A shop that is down is retried later, not failed at once.
    with session_scope(env.engine) as s:
        catalogues.update(s, env.tenant, cid, config={"token": MAGENTO_TOKEN})
        catalogues.request_sync(s, env.tenant, cid)
    env.shops.status = 503
    env.runner.drain()
    with session_scope(env.engine) as s:
        job = s.exec(select(CatalogueJob).where(CatalogueJob.status == JobStatus.queued)).one()
        assert job.attempts == 1 and job.next_attempt_at > utcnow()
        assert "503" in (s.get(Catalogue, cid).last_error or "")  # type: ignore[union-attr]


def test_schedule_queues_due_syncs_and_stale_jobs_are_taken_over(env: Env) -> None:
    cid = _create(env, "json", {"url": f"{env.url}/fakestore/products"}, schedule="daily")
    assert env.runner.claim() is not None  # the first sync, then this worker "dies"
    other = CatalogueSyncRunner(
        env.engine,
        env.store,
        env.embedder,
        worker_id="t2",
        stale_after_s=0.0,  # type: ignore[arg-type]
    )
    assert other.drain() == 1 and len(_products(env, cid)) == 12
    with session_scope(env.engine) as s:
        cat = s.get(Catalogue, cid)
        assert cat is not None and cat.next_sync_at is not None
        assert cat.next_sync_at.replace(tzinfo=utcnow().tzinfo) > utcnow() + timedelta(hours=23)
        assert catalogues.enqueue_due(s, utcnow() + timedelta(days=1, minutes=1)) == 1
    env.embedder.calls = 0
    assert other.drain() == 1 and env.embedder.calls == 0


def test_private_shop_refused_unless_allowed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "0")
    from app.settings import reset_settings_cache

    reset_settings_cache()
    result = catalogues.test_connection("json", {"url": f"{env.url}/fakestore/products"})
    assert not result.ok and "loopback address" in result.message
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")
    reset_settings_cache()
    result = catalogues.test_connection("json", {"url": f"{env.url}/fakestore/products"})
    assert result.ok and result.products == 12


def test_product_search_filters_and_cards(env: Env) -> None:
    env.shops.products = catalogue(30)
    cid = _create(env, "json", {"url": f"{env.url}/fakestore/products"})
    env.runner.drain()
    rows = _products(env, cid)
    with session_scope(env.engine) as s:  # as if the shop named a tracker as an image
        row = s.get(CatalogueProduct, rows["14"].id)
        assert row is not None
        row.image_url = "https://tracker.example/pixel.png"
        s.add(row)
    embed = env.embedder.model.get_query_embedding

    def find(tenant: str, question: str) -> list[product_search.ProductCard]:
        with session_scope(env.engine) as s:
            return product_search.find_products(s, tenant, question, env.store, embed)

    rows_by_id = {r.id: r for r in rows.values()}
    cards = find(env.tenant, "a backpack under $50")
    assert cards and all(rows_by_id[c.id].price <= 50 for c in cards)
    assert {c.title for c in cards[:2]} == {"Backpack model 14", "Backpack model 28"}
    by_title = {c.title: c for c in cards}
    assert by_title["Backpack model 28"].image_url == f"{env.url}/img/28.jpg"
    assert by_title["Backpack model 14"].image_url == ""  # foreign host dropped
    assert by_title["Backpack model 28"].price == "$24.95"
    assert by_title["Backpack model 28"].stock == ""  # the Fake Store shape has no stock

    outdoor = find(env.tenant, "something outdoor below 40")
    assert outdoor and all(
        rows_by_id[c.id].category == "outdoor" and rows_by_id[c.id].price <= 40 for c in outdoor
    )
    assert find(env.tenant, "a backpack under $5") == []
    assert find(env.tenant, "What are your opening hours on Sunday?") == []
    assert find(env.other, "a backpack under $50") == []


def test_pool_runs_jobs_in_threads_and_worker_kind_is_registered(env: Env) -> None:
    from app import worker

    assert "catalogue" in worker.KINDS
    pool = catalogue_sync.CataloguePool(lambda: env.runner, poll_s=0.05)
    pool.start()
    try:
        cid = _create(env, "json", {"url": f"{env.url}/fakestore/products"})
        pool.wake()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_scope(env.engine) as s:
                cat = s.get(Catalogue, cid)
                if cat is not None and cat.status == "ready":
                    break
            time.sleep(0.05)
    finally:
        assert pool.stop(10)
    assert cat is not None and cat.status == "ready" and pool.release() == 0


def test_model_switch_re_embeds_once_and_purge_keeps_products(env: Env) -> None:
    cid = _create(env, "json", {"url": f"{env.url}/fakestore/products"})
    env.runner.drain()
    switched = CountingEmbedder(env.embedder.model, vector_space="another/model")
    other = CatalogueSyncRunner(env.engine, env.store, switched, worker_id="t3")  # type: ignore[arg-type]
    assert other.drain() == 1 and switched.calls == 12  # queued by the switch, all re-embedded
    assert other.drain() == 0  # once
    from app.services.ingestion import purge_stale_points

    purge_stale_points(env.engine, env.store)
    assert env.store.count(env.tenant) == 12 and len(_products(env, cid)) == 12


def test_catalogue_deleted_during_its_sync_leaves_no_points(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _create(env, "json", {"url": f"{env.url}/fakestore/products"})
    embed = env.embedder.get_text_embedding_batch

    def delete_then_embed(texts: list[str], **kw: object) -> list[list[float]]:
        # The owner deletes it after the rows are written, before their points are.
        with session_scope(env.engine) as s:
            ids = catalogues.delete(s, env.tenant, cid)
        catalogue_sync.drop_points(env.store, env.tenant, ids)
        return embed(texts)

    monkeypatch.setattr(env.embedder, "get_text_embedding_batch", delete_then_embed)
    env.runner.drain()
    assert env.store.count(env.tenant) == 0 and _products(env, cid) == {}


def test_answer_cache_version_follows_catalogue_syncs(env: Env) -> None:
    from app.services.chat import kb_version

    with session_scope(env.engine) as s:
        before = kb_version(s, env.tenant, None)
    cid = _create(env, "json", {"url": f"{env.url}/fakestore/products"})
    with session_scope(env.engine) as s:
        queued = kb_version(s, env.tenant, None)
    env.runner.drain()
    with session_scope(env.engine) as s:
        synced = kb_version(s, env.tenant, None)
    assert len({before, queued, synced}) == 3 and cid
