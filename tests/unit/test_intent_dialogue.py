"""The order dialogue's steps (app.services.intent_router) without a database or a shop:
what is read from a message, which step comes next, and that the status is shown only for
a lookup that matched (the lookup itself is tested in tests/integration/test_order_lookup)."""

from __future__ import annotations

import pytest

from app.rag.intents import IntentMatch
from app.services import intent_router as r
from app.services import orders
from app.services.limits import RateLimitedError


@pytest.mark.parametrize(
    ("text", "number", "email"),
    [
        ("where is my order 1234?", "1234", None),
        ("order 1234, me@x.com", "1234", "me@x.com"),
        ("#S01234 / Me@Example.com.", "S01234", "Me@Example.com"),
        ("it's me@shop-123.io", None, "me@shop-123.io"),
        ("order 12", None, None),  # too short to be an order number
        ("hello", None, None),
    ],
)
def test_numbers_and_emails_in_messages(text: str, number: str | None, email: str | None) -> None:
    assert r.find_number(text) == number
    assert r.find_email(text) == email


class FakeSession:
    def __init__(self, row: object | None = None) -> None:
        self.row, self.added, self.deleted = row, [], []

    def get(self, model: type, key: str) -> object | None:
        return self.row

    def add(self, row: object) -> None:
        self.added.append(row)

    def delete(self, row: object) -> None:
        self.deleted.append(row)


class Conv:
    id, tenant_id = "c1", "t1"


def _turn(text: str, intent: str | None = "order_status", via: str = "rule") -> r._Turn:
    return r._Turn("t1", text, IntentMatch(intent, 1.0, via), 0.0, "v1", "web")  # type: ignore[arg-type]


def _step(outcome: r.IntentOutcome) -> tuple[str, str | None] | None:
    session = FakeSession()
    assert outcome.persist is not None
    outcome.persist(session, Conv())  # type: ignore[arg-type]
    return (session.added[0].step, session.added[0].order_number) if session.added else None


def test_steps_number_then_email(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def lookup(tenant: str, number: str, email: str, *, requester: str) -> object | None:
        calls.append((number, email))
        if email != "me@x.com":
            return None
        return orders.OrderStatus(number, "shipped", None, None, ("1 x Mug",), ())

    monkeypatch.setattr(r.orders, "lookup_order", lookup)
    first = _turn("where is my order?").order_step(None, None, 0)
    assert first.result.answer == r.ASK_NUMBER and _step(first) == ("need_number", None)
    second = _turn("1234").continue_order("need_number", None, 0)
    assert second is not None and _step(second) == ("need_email", "1234")
    wrong = _turn("you@x.com").continue_order("need_email", "1234", 0)
    assert wrong is not None and "couldn't find order 1234" in wrong.result.answer
    assert "Mug" not in wrong.result.answer and _step(wrong) == ("need_email", "1234")
    right = _turn("me@x.com").continue_order("need_email", "1234", 1)
    assert right is not None and "Order 1234 is shipped" in right.result.answer
    assert _step(right) is None  # the dialogue is over
    assert calls == [("1234", "you@x.com"), ("1234", "me@x.com")]


def test_dialogue_ends_on_another_intent_or_after_attempts() -> None:
    assert (
        _turn("what are your opening hours", "opening_hours").continue_order(
            "need_email", "1234", 0
        )
        is None
    )
    again = _turn("hmm not sure", None, "none").continue_order("need_email", "1234", 0)
    assert again is not None and again.result.answer == r.ASK_EMAIL.format(number="1234")
    assert _turn("hmm", None, "none").continue_order("need_email", "1234", 2) is None
    # Hybrid: a message that is not about the order may be a question for the LLM.
    hybrid = r._Turn(
        "t1", "how do I descale?", IntentMatch(None, 0.3, "none"), 0.0, "v", "web", "hybrid"
    )
    assert hybrid.continue_order("need_email", "1234", 0) is None


def test_rate_limit_and_unavailable_shop_end_the_dialogue(monkeypatch: pytest.MonkeyPatch) -> None:
    def limited(*a: object, **k: object) -> None:
        raise RateLimitedError("conversation", 60)

    monkeypatch.setattr(r.orders, "lookup_order", limited)
    out = _turn("1234 me@x.com").order_step("1234", "me@x.com", 0)
    assert out.result.answer == r.TOO_MANY and _step(out) is None

    def down(*a: object, **k: object) -> None:
        raise orders.OrderLookupUnavailable("I can't reach the shop's order system right now.")

    monkeypatch.setattr(r.orders, "lookup_order", down)
    out = _turn("1234 me@x.com").order_step("1234", "me@x.com", 0)
    assert "can't reach" in out.result.answer and not out.result.answered
