"""A workspace's intents: seeded from the defaults on first use, edited by owners, classified.

Intents are per workspace, not per widget: greetings, opening hours, order status and
"talk to a person" are facts about the business, shared by all its widgets; each widget only
chooses its mode (`llm`, `intent`, `hybrid`). One place to edit, one set of examples to embed.

The classifier (app.rag.intents) is built from the enabled rows and cached per workspace
until the rows change (the digest of their content is the cache key), so a turn embeds only
the visitor's message. Default intents keep their built-in rules; owner keywords are
whole-word matches that decide outright, like rules.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db import TenantScope
from app.models import Intent
from app.rag import intents as rag
from app.rag.intent_text import normalize
from app.services import audit
from app.services.cache import digest

ACTIONS = ("reply", "order_status", "product_search", "handoff", "opening_hours")
DEFAULT_ACTIONS = {
    "talk_to_person": "handoff",
    "order_status": "order_status",
    "opening_hours": "opening_hours",
    "product_search": "product_search",
}
MAX_INTENTS = 50
MAX_EXAMPLES = 100
MAX_KEYWORDS = 50
_BUILT_IN = {i.name: i for i in rag.DEFAULT_INTENTS}
_CACHE_SIZE = 256


class IntentError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _audited(row: Intent) -> dict[str, Any]:
    return {
        "name": row.name,
        "examples": list(row.examples),
        "keywords": list(row.keywords),
        "action": row.action,
        "reply": row.reply,
        "enabled": row.enabled,
    }


def ensure_defaults(session: Session, tenant_id: str) -> list[Intent]:
    """The workspace's intents in order; the six defaults are stored on first use (a
    concurrent first use elsewhere wins the unique constraint and its rows are read)."""
    scope = TenantScope(session, tenant_id)
    rows = scope.all(Intent, order_by=col(Intent.position))
    if rows:
        return rows
    try:
        with session.begin_nested():
            for position, default in enumerate(rag.DEFAULT_INTENTS):
                scope.add(
                    Intent(
                        name=default.name,
                        examples=list(default.examples),
                        keywords=[],
                        action=DEFAULT_ACTIONS.get(default.name, "reply"),
                        reply=default.reply,
                        position=position,
                    )
                )
            session.flush()
    except IntegrityError:
        pass
    return scope.all(Intent, order_by=col(Intent.position))


def _clean_list(values: list[str] | str, limit: int, what: str) -> list[str]:
    items = values.splitlines() if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        text = " ".join(str(item).split())[:200]
        if text and text.lower() not in {o.lower() for o in out}:
            out.append(text)
    if len(out) > limit:
        raise IntentError(f"At most {limit} {what}.", what)
    return out


def _check(row: Intent) -> None:
    if row.action not in ACTIONS:
        raise IntentError(f"Action must be one of {', '.join(ACTIONS)}.", "action")
    if row.action == "reply" and not row.reply.strip():
        raise IntentError("A reply intent needs its reply text.", "reply")
    if not row.examples and not row.keywords and row.name not in _BUILT_IN:
        raise IntentError("Give at least one example phrase or keyword.", "examples")


def update_intent(
    session: Session,
    tenant_id: str,
    intent_id: str,
    *,
    examples: list[str] | str | None = None,
    keywords: list[str] | str | None = None,
    action: str | None = None,
    reply: str | None = None,
    enabled: bool | None = None,
    actor: audit.Actor | None = None,
) -> Intent:
    row = TenantScope(session, tenant_id).get(Intent, intent_id)
    before = _audited(row)
    changed = Intent(  # validated before the stored row is touched
        name=row.name,
        examples=_clean_list(examples, MAX_EXAMPLES, "examples")
        if examples is not None
        else list(row.examples),
        keywords=_clean_list(keywords, MAX_KEYWORDS, "keywords")
        if keywords is not None
        else list(row.keywords),
        action=row.action if action is None else action,
        reply=row.reply if reply is None else reply.strip()[:2000],
        enabled=row.enabled if enabled is None else enabled,
    )
    _check(changed)
    row.examples, row.keywords = changed.examples, changed.keywords
    row.action, row.reply, row.enabled = changed.action, changed.reply, changed.enabled
    session.add(row)
    after = _audited(row)
    if after != before:
        audit.record(
            session, tenant_id, actor, "intent.updated", "intent", row.id,
            before=before, after=after,
        )  # fmt: skip
    return row


def create_intent(
    session: Session,
    tenant_id: str,
    name: str,
    *,
    examples: list[str] | str = (),  # type: ignore[assignment]
    keywords: list[str] | str = (),  # type: ignore[assignment]
    action: str = "reply",
    reply: str = "",
    actor: audit.Actor | None = None,
) -> Intent:
    rows = ensure_defaults(session, tenant_id)
    name = "_".join(name.strip().lower().split())[:60]
    if not name or not name.replace("_", "").isalnum():
        raise IntentError("Name: letters, digits and _ only.", "name")
    if any(r.name == name for r in rows):
        raise IntentError(f"An intent named “{name}” exists already.", "name")
    if len(rows) >= MAX_INTENTS:
        raise IntentError(f"A workspace can have at most {MAX_INTENTS} intents.")
    row = Intent(
        name=name,
        examples=_clean_list(examples, MAX_EXAMPLES, "examples"),
        keywords=_clean_list(keywords, MAX_KEYWORDS, "keywords"),
        action=action,
        reply=reply.strip()[:2000],
        position=max((r.position for r in rows), default=-1) + 1,
    )
    _check(row)
    TenantScope(session, tenant_id).add(row)
    session.flush()
    audit.record(session, tenant_id, actor, "intent.created", "intent", row.id, after=_audited(row))
    return row


def delete_intent(
    session: Session, tenant_id: str, intent_id: str, *, actor: audit.Actor | None = None
) -> None:
    row = TenantScope(session, tenant_id).get(Intent, intent_id)
    audit.record(
        session, tenant_id, actor, "intent.deleted", "intent", row.id, before=_audited(row)
    )
    session.delete(row)


# ---- classification ------------------------------------------------------------------------


def to_rag(row: Intent) -> rag.Intent:
    built_in = _BUILT_IN.get(row.name)
    return rag.Intent(
        row.name,
        examples=tuple(row.examples),
        rules=built_in.rules if built_in else (),
        whole_message=built_in.whole_message if built_in else False,
        reply=row.reply,
        action=row.action,
        keywords=tuple(row.keywords),
    )


_classifiers: OrderedDict[str, tuple[str, rag.IntentClassifier]] = OrderedDict()
_lock = threading.Lock()


def classifier_for(tenant_id: str, rows: list[Intent], embedder: Any) -> rag.IntentClassifier:
    """The workspace's classifier over its enabled intents (cached until they change)."""
    enabled = [to_rag(r) for r in rows if r.enabled]
    key = digest(*(repr(i) for i in enabled))
    with _lock:
        hit = _classifiers.get(tenant_id)
        if hit is not None and hit[0] == key:
            _classifiers.move_to_end(tenant_id)
            return hit[1]
    classifier = rag.IntentClassifier(enabled, embedder)
    with _lock:
        _classifiers[tenant_id] = (key, classifier)
        while len(_classifiers) > _CACHE_SIZE:
            _classifiers.popitem(last=False)
    return classifier


def reset_cache() -> None:
    with _lock:
        _classifiers.clear()


@dataclass(frozen=True, slots=True)
class PhraseTest:
    intent: str | None  # None: out of scope (the LLM, or the unknown answer)
    score: float
    via: str  # rule | similarity | none
    runner_up: str | None
    runner_up_score: float | None


def try_phrase(session: Session, tenant_id: str, text: str, embedder: Any) -> PhraseTest:
    """What the workspace's intents make of `text` (the editor's "Test a phrase")."""
    rows = ensure_defaults(session, tenant_id)
    classifier = classifier_for(tenant_id, rows, embedder)
    match = classifier.classify(text)
    normalized = normalize(" ".join(text.split()))
    ranked = (
        sorted(classifier.scores(normalized).items(), key=lambda kv: -kv[1]) if text.strip() else []
    )
    others = [(n, sc) for n, sc in ranked if n != match.intent]
    if match.intent is None and ranked:
        others = ranked  # nothing chosen: the nearest intent is the runner-up
    runner, runner_score = others[0] if others else (None, None)
    return PhraseTest(
        match.intent,
        round(float(match.score), 3),
        match.via,
        runner,
        round(float(runner_score), 3) if runner_score is not None else None,
    )
