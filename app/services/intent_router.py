"""Intent mode and hybrid mode: answer a turn from the workspace's intents, without an LLM.

`decide()` is the one call the chat service makes for a widget whose mode is not `llm`:

- `intent`: every message is answered here. A message no intent claims gets the widget's
  unknown answer; nothing is retrieved and no model is called.
- `hybrid`: a message an intent claims (a rule, a keyword, or similarity above the
  threshold) is answered here; for anything else `decide()` returns None and the turn goes
  on to the normal LLM/RAG path.

Actions: `reply` (the canned text), `opening_hours` (the workspace's configured hours),
`product_search` (product cards from the catalogue), `handoff` (the existing handoff flow:
the chat service stores the message and escalates), `order_status` (a dialogue: order
number, then email, each accepted alone or both in one message; the status is shown only
when app.services.orders finds the order AND the email matches). The dialogue's step lives
in the `intent_dialogue` table, written in the same transaction as the turn, so any
process can serve the next message. The email is never stored: only the order number is
kept between turns.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from app.db import TenantScope, session_scope
from app.models import Conversation, IntentDialogue, Tenant
from app.rag.answer_types import Usage
from app.rag.chat import TurnResult
from app.rag.intents import IntentMatch
from app.services import intents, orders, presence, product_search
from app.services.limits import RateLimitedError

log = logging.getLogger("chatconnect.intents")

MODES = ("llm", "intent", "hybrid")
MAX_DIALOGUE_ATTEMPTS = 3  # messages that are neither a number nor an email, then give up
PRODUCTS_LINE = "Here are the products that match what you asked for:"
NO_PRODUCTS = "I couldn't find products matching that. Could you describe it differently?"
ASK_NUMBER = "Sure, I can check that. What is your order number?"
ASK_EMAIL = "Thanks. What is the email address you used for order {number}?"
NOT_FOUND = (
    "I couldn't find order {number} with that email address. Please check the order "
    "number and the email, and send them again."
)
TOO_MANY = "Too many order lookups from this chat. Please try again later or ask for a person."
EMAIL_RE = re.compile(r"[^@\s,;:<>()]{1,64}@[^@\s,;:<>()]{1,190}\.[A-Za-z]{2,63}")
NUMBER_RE = re.compile(r"(?<![\w@.])#?([A-Za-z]{0,4}-?\d[\d\-/]{2,29})(?![\w@])")

Persist = Callable[[Session, Conversation], None]


@dataclass(slots=True)
class IntentOutcome:
    """What intent mode answers. `handoff`: the caller runs its handoff flow instead."""

    intent: str | None
    result: TurnResult
    match: IntentMatch
    cards: list[product_search.ProductCard] = field(default_factory=list)
    handoff: bool = False
    persist: Persist | None = None  # writes the dialogue step with the turn


def find_email(text: str) -> str | None:
    m = EMAIL_RE.search(text)
    return m.group(0).strip(".") if m else None


def find_number(text: str) -> str | None:
    """An order number in a message ("order 1234", "#S01234"), emails ignored."""
    m = NUMBER_RE.search(EMAIL_RE.sub(" ", text))
    return m.group(1) if m else None


def _result(question: str, answer: str, intent: str | None, match: IntentMatch, started: float,
            *, answered: bool = True) -> TurnResult:  # fmt: skip
    return TurnResult(
        answer=answer,
        sources=[],
        model=f"intent:{intent or 'none'}",
        provider="intent",
        usage=Usage(),
        cost_usd=0.0,
        ttft_ms=None,
        latency_ms=int((time.perf_counter() - started) * 1000),
        answered=answered,
        query=question,
        confidence=match.score if match.intent else None,
    )


def _dialogue(session: Session, tenant_id: str, conversation_id: str) -> IntentDialogue | None:
    return TenantScope(session, tenant_id).find(IntentDialogue, conversation_id)


def _set_step(step: str | None, number: str | None = None, attempts: int = 0) -> Persist:
    """Write (or clear, with step None) the conversation's order dialogue."""

    def persist(session: Session, conversation: Conversation) -> None:
        row = session.get(IntentDialogue, conversation.id)
        if step is None:
            if row is not None:
                session.delete(row)
            return
        if row is None:
            row = IntentDialogue(
                tenant_id=conversation.tenant_id,
                conversation_id=conversation.id,
                intent="order_status",
                step=step,
            )
        row.step, row.order_number, row.attempts = step, number, attempts
        session.add(row)

    return persist


def decide(
    tenant_id: str,
    widget_id: str | None,
    mode: str,
    conversation_id: str,
    question: str,
    *,
    unknown_answer: str,
    channel: str = "web",
    requester: str = "",
    embedder: object | None = None,
) -> IntentOutcome | None:
    """The intent answer for this turn, or None (hybrid only: let the LLM answer)."""
    started = time.perf_counter()
    with session_scope() as session:
        rows = intents.ensure_defaults(session, tenant_id)
        dialogue = _dialogue(session, tenant_id, conversation_id)
        step = (dialogue.step, dialogue.order_number, dialogue.attempts) if dialogue else None
        tenant = session.get(Tenant, tenant_id)
        hours = dict(tenant.opening_hours or {}) if tenant else {}
        actions = {r.name: (r.action, r.reply) for r in rows if r.enabled}
    if embedder is None:
        from app.services.vectors import query_embedder

        embedder = query_embedder()
    match = intents.classifier_for(tenant_id, rows, embedder).classify(question)
    ctx = _Turn(tenant_id, question, match, started, requester or conversation_id, channel, mode)

    if step is not None:
        outcome = ctx.continue_order(*step)
        if outcome is not None:
            return outcome
        _clear_dialogue(tenant_id, conversation_id)  # the visitor moved on or gave up
        step = None
    if match.intent is None and find_number(question) and find_email(question):
        # "1234, me@x.com": an order number with an email is an order lookup.
        match = IntentMatch("order_status", 1.0, "rule", match.intent or match.runner_up)
        ctx.match = match
    if match.intent is None or match.intent not in actions:
        if mode != "intent":
            return None
        outcome = IntentOutcome(
            None, _result(question, unknown_answer, None, match, started, answered=False), match
        )
    else:
        action, reply = actions[match.intent]
        outcome = ctx.act(match.intent, action, reply, hours, unknown_answer, mode)
        if outcome is None:
            return None
    return outcome


@dataclass(slots=True)
class _Turn:
    tenant_id: str
    question: str
    match: IntentMatch
    started: float
    requester: str
    channel: str
    mode: str = "intent"

    def out(self, intent: str | None, answer: str, **kw: object) -> IntentOutcome:
        answered = bool(kw.pop("answered", True))
        return IntentOutcome(
            intent,
            _result(self.question, answer, intent, self.match, self.started, answered=answered),
            self.match,
            **kw,  # type: ignore[arg-type]
        )

    def act(self, name: str, action: str, reply: str, hours: dict, unknown: str,
            mode: str) -> IntentOutcome | None:  # fmt: skip
        if action == "handoff":
            return self.out(name, "", handoff=True)
        if action == "opening_hours":
            return self.out(name, reply or _hours_line(hours))
        if action == "product_search":
            cards = _cards(self.tenant_id, self.question)
            if not cards and mode == "hybrid":
                return None  # the knowledge base may still know
            if not cards:
                return self.out(name, NO_PRODUCTS, answered=False)
            text = PRODUCTS_LINE
            if self.channel not in ("web", "dashboard"):  # no cards outside the widget
                text += "".join(f"\n- {c.title} ({c.price})" for c in cards)
            return self.out(name, text, cards=cards)
        if action == "order_status":
            if not orders.order_lookup_available(self.tenant_id):
                if mode == "hybrid":
                    return None
                return self.out(name, "Order lookup is not set up for this shop.", answered=False)
            return self.order_step(find_number(self.question), find_email(self.question), 0)
        return self.out(name, reply or unknown, answered=bool(reply))

    # ---- the order dialogue -----------------------------------------------------------------

    def continue_order(self, step: str, number: str | None, attempts: int) -> IntentOutcome | None:
        """The next message of an order dialogue; None when the visitor moved on (another
        intent decided by a rule) or gave up (then the dialogue is cleared by the caller)."""
        new_number, email = find_number(self.question), find_email(self.question)
        if new_number or email:
            return self.order_step(new_number or number, email, attempts)
        if self.match.via == "rule" and self.match.intent != "order_status":
            return None
        if self.mode == "hybrid" and self.match.intent != "order_status":
            return None  # hybrid: anything else may be a question for the LLM
        if attempts + 1 >= MAX_DIALOGUE_ATTEMPTS:
            return None
        again = ASK_EMAIL.format(number=number) if number else ASK_NUMBER
        return self.out("order_status", again, persist=_set_step(step, number, attempts + 1))

    def order_step(self, number: str | None, email: str | None, attempts: int) -> IntentOutcome:
        if number is None:
            return self.out("order_status", ASK_NUMBER, persist=_set_step("need_number"))
        if email is None:
            return self.out(
                "order_status",
                ASK_EMAIL.format(number=number),
                persist=_set_step("need_email", number, attempts),
            )
        try:
            found = orders.lookup_order(self.tenant_id, number, email, requester=self.requester)
        except RateLimitedError:
            return self.out("order_status", TOO_MANY, answered=False, persist=_set_step(None))
        except orders.OrderLookupUnavailable as exc:
            return self.out("order_status", str(exc), answered=False, persist=_set_step(None))
        if found is None:
            return self.out(
                "order_status",
                NOT_FOUND.format(number=number),
                answered=False,
                persist=_set_step("need_email", number, attempts + 1),
            )
        return self.out("order_status", found.summary(), persist=_set_step(None))


def _clear_dialogue(tenant_id: str, conversation_id: str) -> None:
    with session_scope() as session:
        row = _dialogue(session, tenant_id, conversation_id)
        if row is not None:
            session.delete(row)


def _hours_line(hours: dict) -> str:
    described = presence.describe_hours(hours)
    if not described:
        return "We're available around the clock: send us a message any time."
    state = "open now" if presence.is_open(hours) else "closed right now"
    return f"Our opening hours: {described}. We're {state}."


def _cards(tenant_id: str, question: str) -> list[product_search.ProductCard]:
    try:
        return product_search.cards_for(tenant_id, question)
    except Exception:
        log.exception("product cards failed")
        return []
