"""The six default intents are seeded once per workspace even when two processes see the
workspace's first intent turn at the same moment (PostgreSQL: the second insert waits on
the unique index, fails, and reads the first one's rows)."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from app.db import session_scope
from app.models import Intent
from app.services import accounts, intents


class Words:
    """A deterministic embedder: one axis per word (same words, cosine 1)."""

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * 256
        for w in text.lower().split():
            v[sum(map(ord, w.strip("?!.,"))) % 256] += 1.0
        return v

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


def test_concurrent_first_use_seeds_once(pg: Engine) -> None:
    with session_scope(pg) as s:
        _, t = accounts.sign_up(s, "seed@x.io", "a-long-password", "Seed")
        tenant = t.id
    first_seeded, go = threading.Event(), threading.Event()
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_scope(pg) as s:
                results["first"] = [r.name for r in intents.ensure_defaults(s, tenant)]
                first_seeded.set()
                go.wait(10)  # commit only after the second one has tried to insert
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            first_seeded.set()

    def second() -> None:
        try:
            first_seeded.wait(10)
            with session_scope(pg) as s:
                threading.Timer(1.0, go.set).start()  # the insert below blocks until then
                results["second"] = [r.name for r in intents.ensure_defaults(s, tenant)]
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)
            go.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not errors, errors
    assert results["first"] == results["second"] and len(results["first"]) == 6
    with session_scope(pg) as s:
        assert len(s.query(Intent).filter(Intent.tenant_id == tenant).all()) == 6


def test_create_edit_delete_validated_audited_and_tenant_scoped(engine: Engine) -> None:
    import pytest
    from sqlmodel import select

    from app.db import NotFoundError
    from app.models import AuditEvent

    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "ia@x.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "ib@x.io", "a-long-password", "B")
    with session_scope(engine) as s:
        row = intents.create_intent(
            s, a.id, "Returns Policy", examples="how do I return an item\ncan I send it back",
            reply="30 days, free returns.",
        )  # fmt: skip
        rid = row.id
        assert row.name == "returns_policy" and row.position == 6
        tried = intents.try_phrase(s, a.id, "How do I return an item?", Words())
        assert (tried.intent, tried.via) == ("returns_policy", "similarity")
        assert tried.runner_up and tried.runner_up_score is not None
        assert intents.try_phrase(s, a.id, "hello!", Words()).intent == "greeting"
        with pytest.raises(intents.IntentError, match="exists"):
            intents.create_intent(s, a.id, "returns policy", examples="x", reply="y")
        with pytest.raises(intents.IntentError, match="reply text"):
            intents.create_intent(s, a.id, "empty", examples="x")
        with pytest.raises(intents.IntentError, match="Action"):
            intents.update_intent(s, a.id, rid, action="launch_rockets")
    with session_scope(engine) as s:  # a refused change leaves the row as it was
        assert s.get(Intent, rid).action == "reply"
    with session_scope(engine) as s:
        with pytest.raises(NotFoundError):  # another workspace's id looks missing
            intents.update_intent(s, b.id, rid, reply="hijacked")
        assert len(intents.ensure_defaults(s, b.id)) == 6  # B has its own defaults only
    with session_scope(engine) as s:
        intents.delete_intent(s, a.id, rid)
    with session_scope(engine) as s:
        assert len(intents.ensure_defaults(s, a.id)) == 6
        actions = s.exec(select(AuditEvent.action).where(AuditEvent.tenant_id == a.id)).all()
        assert "intent.created" in actions and "intent.deleted" in actions
