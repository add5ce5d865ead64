"""Human handoff on SQLite and PostgreSQL: states, compare-and-set ownership (a real race
between two threads), staff messages vs bot answers, notes that never reach the visitor,
the chat service staying quiet during a takeover, escalation rules, presence and hours,
leads, and tenant isolation."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, session_scope
from app.models import Membership, Message, Role, StaffPresence, User
from app.rag.embedding import LocalEmbedder
from app.rag.retriever import retriever_factory
from app.rag.store import EdgeStore
from app.rag.workflow import ChatWorkflow
from app.services import accounts, handoff_flow, inbox, leads, live, presence, qa, visitors, widgets
from app.services.cache import CachedQueryEmbedder, MemoryTTLCache, reset_cache
from app.services.chat import ChatRequest, ChatService, HandoffEvent, TurnSaved
from app.services.conversations import get_or_start_conversation, history
from app.services.escalation import HumanRequestDetector
from app.services.inbox import OwnedByOtherError
from app.services.limits import reset_rate_limiter


@dataclass
class Desk:
    tenant: str
    widget: str
    alice: str  # owner
    bob: str  # member
    other_tenant: str
    other_user: str


def _member(session, tenant_id: str, email: str, name: str) -> str:  # type: ignore[no-untyped-def]
    user = User(email=email, password_hash="x", name=name)
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, tenant_id=tenant_id, role=Role.member))
    return user.id


@pytest.fixture
def desk(engine: Engine) -> Desk:
    with session_scope(engine) as s:
        alice, a = accounts.sign_up(s, "alice@a.io", "a-long-password", "A")
        alice.name = "Alice"
        other, b = accounts.sign_up(s, "zed@b.io", "a-long-password", "B")
        w = widgets.create_widget(s, a.id, "Support")
        bob = _member(s, a.id, "bob@a.io", "Bob")
        return Desk(a.id, w.id, alice.id, bob, b.id, other.id)


def _conversation(desk: Desk, visitor: str = "v1") -> str:
    with session_scope() as s:
        conv, _ = get_or_start_conversation(
            s, desk.tenant, conversation_id=None, widget_id=desk.widget, visitor_id=visitor
        )
        inbox.record_visitor_message(s, desk.tenant, conv, "Hello?")
        return conv.id


def test_request_take_over_hand_back_resolve(desk: Desk) -> None:
    cid = _conversation(desk)
    seen: list[live.LiveEvent] = []
    live.subscribe(live.conversation_topic(desk.tenant, cid), "t", seen.append)
    try:
        with session_scope() as s:
            conv = inbox.request_handoff(s, desk.tenant, cid, "button")
            assert (conv.handoff_status, conv.handoff_reason) == ("waiting_for_human", "button")
            assert not seen  # nothing is announced before the commit
        assert [e.kind for e in seen] == ["status"]
        with session_scope() as s:  # asking again changes nothing
            assert inbox.request_handoff(s, desk.tenant, cid, "phrase").handoff_reason == "button"
            rows = inbox.list_inbox(s, desk.tenant, desk.alice, view="waiting")
            assert [r.id for r in rows] == [cid] and rows[0].unread
            assert inbox.counts(s, desk.tenant, desk.alice).waiting == 1
        with session_scope() as s:
            conv = inbox.take_over(s, desk.tenant, cid, desk.alice)
            assert (conv.handoff_status, conv.assignee_id) == ("human", desk.alice)
        with session_scope() as s:
            assert [r.id for r in inbox.list_inbox(s, desk.tenant, desk.alice, view="mine")] == [
                cid
            ]
            assert inbox.list_inbox(s, desk.tenant, desk.bob, view="mine") == []
            with pytest.raises(OwnedByOtherError, match="Alice"):
                inbox.hand_back(s, desk.tenant, cid, desk.bob)
        with session_scope() as s:
            assert inbox.hand_back(s, desk.tenant, cid, desk.alice).handoff_status == "bot"
        with session_scope() as s:
            inbox.request_handoff(s, desk.tenant, cid, "phrase")
        with session_scope() as s:
            conv = inbox.resolve(s, desk.tenant, cid, desk.bob)
            assert conv.handoff_status == "resolved" and conv.resolved_at is not None
            assert [r.id for r in inbox.list_inbox(s, desk.tenant, desk.bob, view="resolved")] == [
                cid
            ]
    finally:
        live.unsubscribe(live.conversation_topic(desk.tenant, cid), "t")


def test_two_concurrent_take_overs_exactly_one_wins(desk: Desk) -> None:
    cid = _conversation(desk)
    with session_scope() as s:
        inbox.request_handoff(s, desk.tenant, cid, "button")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def claim(user_id: str) -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                inbox.take_over(s, desk.tenant, cid, user_id)
            outcomes[user_id] = "won"
        except OwnedByOtherError as exc:
            outcomes[user_id] = exc

    threads = [threading.Thread(target=claim, args=(u,)) for u in (desk.alice, desk.bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [u for u, o in outcomes.items() if o == "won"]
    losers = [o for o in outcomes.values() if isinstance(o, OwnedByOtherError)]
    assert len(winners) == 1 and len(losers) == 1
    with session_scope() as s:
        assert inbox.get(s, desk.tenant, cid).assignee_id == winners[0]
    assert losers[0].owner_id == winners[0]
    assert losers[0].owner_name == ("Alice" if winners[0] == desk.alice else "Bob")


def test_staff_messages_and_notes(desk: Desk) -> None:
    cid = _conversation(desk)
    with session_scope() as s:
        reply = inbox.post_staff_message(s, desk.tenant, cid, desk.bob, "Hi, Bob here.")
        assert (reply.role, reply.author_id, reply.author_name) == ("staff", desk.bob, "Bob")
        inbox.add_note(s, desk.tenant, cid, desk.bob, "VIP: secret-note-7731")
    with session_scope() as s:
        conv = inbox.get(s, desk.tenant, cid)
        assert conv.handoff_status == "human" and conv.assignee_id == desk.bob  # reply = take over
        assert conv.first_human_reply_at is not None
        with pytest.raises(OwnedByOtherError):
            inbox.post_staff_message(s, desk.tenant, cid, desk.alice, "me too")
    with session_scope() as s:
        public = visitors.find_widget(s, desk.widget)
        assert public is not None
        items = visitors.transcript(s, public, cid, "v1")
        assert [(i.role, i.author) for i in items] == [("user", ""), ("staff", "Bob")]
        assert all("secret-note" not in i.text for i in items)
        assert all("secret-note" not in t.text for t in history(s, desk.tenant, cid))
        assert [n.text for n in inbox.notes(s, desk.tenant, cid)] == ["VIP: secret-note-7731"]
        with pytest.raises(inbox.InboxError):
            inbox.post_staff_message(s, desk.tenant, cid, desk.bob, "   ")


def test_other_tenants_cannot_touch_the_conversation(desk: Desk) -> None:
    cid = _conversation(desk)
    for action in (
        lambda s: inbox.take_over(s, desk.other_tenant, cid, desk.other_user),
        lambda s: inbox.assign_to_me(s, desk.other_tenant, cid, desk.other_user),
        lambda s: inbox.post_staff_message(s, desk.other_tenant, cid, desk.other_user, "hi"),
        lambda s: inbox.add_note(s, desk.other_tenant, cid, desk.other_user, "hi"),
        lambda s: inbox.notes(s, desk.other_tenant, cid),
        lambda s: inbox.hand_back(s, desk.other_tenant, cid, desk.other_user),
        lambda s: inbox.resolve(s, desk.other_tenant, cid, desk.other_user),
        lambda s: inbox.request_handoff(s, desk.other_tenant, cid, "api"),
    ):
        with pytest.raises(NotFoundError), session_scope() as s:
            action(s)
    with session_scope() as s:
        inbox.request_handoff(s, desk.tenant, cid, "button")
    with session_scope() as s:
        assert inbox.list_inbox(s, desk.other_tenant, desk.other_user, view="waiting") == []
        assert inbox.get(s, desk.tenant, cid).assignee_id is None


def test_presence_hours_and_next_step(desk: Desk) -> None:
    cid = _conversation(desk)
    with session_scope() as s:
        presence.heartbeat(s, desk.tenant, desk.bob)
    with session_scope() as s:
        assert presence.online_staff(s, desk.tenant) == ["Bob"]
        assert presence.online_staff(s, desk.other_tenant) == []
        step = handoff_flow.escalate(s, inbox.get(s, desk.tenant, cid), "button")
        assert not step.offer_lead and "usually within 5 minutes" in step.line
    with session_scope() as s:  # away after inactivity
        row = s.exec(
            presence.TenantScope(s, desk.tenant).select(StaffPresence)  # type: ignore[attr-defined]
        ).one()
        row.last_seen_at -= timedelta(seconds=presence.PRESENCE_AWAY_S + 5)
        s.add(row)
    with session_scope() as s:
        assert presence.online_staff(s, desk.tenant) == []
        step = handoff_flow.next_step(
            s,
            inbox.get(s, desk.tenant, cid),
            handoff_flow.widget_rules(s, desk.tenant, desk.widget),
        )
        assert step.offer_lead and "Nobody is available" in step.line
        presence.heartbeat(s, desk.tenant, desk.bob)
        presence.set_hours(s, desk.tenant, {"timezone": "Pacific/Kiritimati", "days": {}})
    with session_scope() as s:  # empty days = always open
        assert presence.availability(s, desk.tenant).staffed
        presence.set_hours(
            s, desk.tenant, {"timezone": "Europe/Paris", "days": {"mon": ["00:00", "00:01"]}}
        )
    with session_scope() as s:
        step = handoff_flow.next_step(
            s,
            inbox.get(s, desk.tenant, cid),
            handoff_flow.widget_rules(s, desk.tenant, desk.widget),
        )
        assert step.offer_lead and "closed" in step.line and "Europe/Paris" in step.line


def test_leads_tied_to_the_conversation(desk: Desk) -> None:
    cid = _conversation(desk)
    with session_scope() as s:
        public = visitors.find_widget(s, desk.widget)
        assert public is not None
        with pytest.raises(leads.LeadError):
            handoff_flow.visitor_lead(
                s, public, cid, "v1", name="A", email="nope", message="", consent=True
            )
        with pytest.raises(leads.LeadError):
            handoff_flow.visitor_lead(
                s, public, cid, "v1", name="A", email="a@x.io", message="", consent=False
            )
        with pytest.raises(NotFoundError):  # another visitor's conversation
            handoff_flow.visitor_lead(
                s, public, cid, "v2", name="A", email="a@x.io", message="", consent=True
            )
        lead = handoff_flow.visitor_lead(
            s,
            public,
            cid,
            "v1",
            name="=HYPERLINK(1)",
            email="ann@x.io",
            message="+call me",
            consent=True,
        )
        lead_id = lead.id
    with session_scope() as s:
        assert inbox.get(s, desk.tenant, cid).handoff_status == "waiting_for_human"
        assert [lead.conversation_id for lead in leads.list_leads(s, desk.tenant)] == [cid]
        assert leads.list_leads(s, desk.tenant, search="ANN@")[0].id == lead_id
        assert leads.list_leads(s, desk.tenant, search="%") == []
        assert leads.list_leads(s, desk.other_tenant) == []
        leads.set_status(s, desk.tenant, lead_id, "contacted")
        with pytest.raises(NotFoundError):
            leads.set_status(s, desk.other_tenant, lead_id, "closed")
        with pytest.raises(leads.LeadError):
            leads.set_status(s, desk.tenant, lead_id, "won")
        text = leads.export_csv(s, desk.tenant)
    assert "'=HYPERLINK(1)" in text and "'+call me" in text and "contacted" in text
    assert "ann@x.io" in text


# ---- the chat service during a handoff ------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def service(desk: Desk, tmp_path, embedder: LocalEmbedder):  # type: ignore[no-untyped-def]
    reset_cache()
    reset_rate_limiter()
    store = EdgeStore(tmp_path / "qdrant")
    query = CachedQueryEmbedder(embedder, MemoryTTLCache())
    yield ChatService(
        ChatWorkflow(retriever_factory(store, query), qa.QAMatcher(query)),
        detector=HumanRequestDetector(query),
    )
    store.close()
    reset_cache()


def _say(service: ChatService, desk: Desk, text: str, cid: str | None = None) -> list[object]:
    async def run() -> list[object]:
        req = ChatRequest(desk.tenant, desk.widget, text, conversation_id=cid, visitor_id="v1")
        return [e async for e in service.stream(req)]

    return asyncio.run(run())


def test_the_bot_is_quiet_while_a_person_owns_the_conversation(
    desk: Desk, service: ChatService
) -> None:
    events = _say(service, desk, "Where is my parcel?")
    cid = events[0].conversation_id  # type: ignore[attr-defined]
    assert any(isinstance(e, TurnSaved) for e in events)
    with session_scope() as s:
        inbox.take_over(s, desk.tenant, cid, desk.alice)
    events = _say(service, desk, "Still there?", cid)
    assert not any(isinstance(e, TurnSaved) for e in events)
    quiet = events[-1]
    assert isinstance(quiet, HandoffEvent) and quiet.status == "human" and quiet.message_id
    assert quiet.staff_name == "Alice"
    with session_scope() as s:
        roles = [
            m.role
            for m in s.exec(
                inbox.TenantScope(s, desk.tenant)
                .select(Message)
                .where(Message.conversation_id == cid)
                .order_by(Message.created_at)
            )
        ]  # type: ignore[attr-defined]
        assert roles == ["user", "assistant", "user"]  # stored, unanswered
        inbox.hand_back(s, desk.tenant, cid, desk.alice)
    events = _say(service, desk, "What about now?", cid)
    assert any(isinstance(e, TurnSaved) for e in events)  # the bot answers again


def test_asking_for_a_person_in_words_escalates(desk: Desk, service: ChatService) -> None:
    for text, reason in (
        ("Je veux parler à un humain", "phrase"),
        ("Could you transfer me to an employee?", "phrase"),
    ):
        events = _say(service, desk, text)
        last = events[-1]
        assert isinstance(last, HandoffEvent) and last.status == "waiting_for_human", text
        assert not any(isinstance(e, TurnSaved) for e in events)
        with session_scope() as s:
            assert inbox.get(s, desk.tenant, last.conversation_id).handoff_reason == reason
    events = _say(service, desk, "How many people fit in the tent?")
    assert any(isinstance(e, TurnSaved) for e in events)
    with session_scope() as s:  # the rule can be switched off
        widgets.update_widget(s, desk.tenant, desk.widget, escalation={"phrases": False})
    assert any(isinstance(e, TurnSaved) for e in _say(service, desk, "talk to a human"))


def test_low_confidence_streak_and_thumbs_down(desk: Desk, service: ChatService) -> None:
    with session_scope() as s:
        widgets.update_widget(
            s, desk.tenant, desk.widget, escalation={"low_confidence_n": 2, "thumbs_down": True}
        )
    first = _say(service, desk, "What is the warranty on the Zorblax?")  # no documents: unknown
    cid = first[0].conversation_id  # type: ignore[attr-defined]
    assert not any(isinstance(e, HandoffEvent) for e in first)
    second = _say(service, desk, "And the Quux 9 battery life?", cid)
    assert isinstance(second[-1], HandoffEvent) and second[-1].status == "waiting_for_human"
    with session_scope() as s:
        assert inbox.get(s, desk.tenant, cid).handoff_reason == "low_confidence"
        inbox.resolve(s, desk.tenant, cid, desk.alice)
    events = _say(service, desk, "Colour options?")
    saved = next(e for e in events if isinstance(e, TurnSaved))
    with session_scope() as s:
        public = visitors.find_widget(s, desk.widget)
        assert public is not None
        step = handoff_flow.visitor_rate(
            s, public, saved.conversation_id, "v1", saved.message_id, -1
        )
        assert step is not None and step.status == "waiting_for_human"
        assert inbox.get(s, desk.tenant, saved.conversation_id).handoff_reason == "thumbs_down"


def test_only_owners_and_admins_change_hours_and_rules_are_validated(desk: Desk) -> None:
    from app.services.permissions import PermissionDeniedError

    hours = {"timezone": "Europe/Paris", "days": {"mon": ["09:00", "17:00"]}}
    with pytest.raises(PermissionDeniedError), session_scope() as s:
        presence.set_hours(s, desk.tenant, hours, role="member")
    with session_scope() as s:
        assert presence.set_hours(s, desk.tenant, hours, role="admin") == hours
    with pytest.raises(widgets.WidgetError), session_scope() as s:
        widgets.update_widget(s, desk.tenant, desk.widget, escalation={"button": "sometimes"})
    with session_scope() as s:
        widgets.update_widget(s, desk.tenant, desk.widget, escalation={"reply_minutes": 3})
        widgets.update_widget(s, desk.tenant, desk.widget, escalation={"thumbs_down": True})
        rules = widgets.get_widget(s, desk.tenant, desk.widget).escalation
        assert (rules["reply_minutes"], rules["thumbs_down"]) == (3, True)  # merged


def test_inbox_filters_and_handoff_analytics(desk: Desk) -> None:
    from datetime import date

    from app.models import Conversation, Lead
    from app.services.analytics import Period
    from app.services.handoff_stats import duration, handoff_stats

    with session_scope() as s:
        other_widget = widgets.create_widget(s, desk.tenant, "Sales").id
    a, b, c = _conversation(desk, "va"), _conversation(desk, "vb"), _conversation(desk, "vc")
    with session_scope() as s:
        inbox.request_handoff(s, desk.tenant, a, "button")
        inbox.request_handoff(s, desk.tenant, b, "phrase")
        conv_c = inbox.get(s, desk.tenant, c)
        conv_c.widget_id = other_widget
        s.add(conv_c)
    with session_scope() as s:
        inbox.request_handoff(s, desk.tenant, c, "button")
    with session_scope() as s:
        by_reason = inbox.list_inbox(s, desk.tenant, desk.alice, view="waiting", reason="phrase")
        assert [r.id for r in by_reason] == [b]
        by_widget = inbox.list_inbox(s, desk.tenant, desk.alice, widget_id=other_widget)
        assert [r.id for r in by_widget] == [c]
        with pytest.raises(inbox.InboxError):
            inbox.list_inbox(s, desk.tenant, desk.alice, view="everything")
    # a: a person answers 60 s after the request and resolves after 300 s; b: 120 s, open.
    with session_scope() as s:
        for cid, reply_s, done_s in ((a, 60, 300), (b, 120, None)):
            conv = s.get(Conversation, cid)
            assert conv is not None and conv.handoff_requested_at is not None
            conv.first_human_reply_at = conv.handoff_requested_at + timedelta(seconds=reply_s)
            if done_s:
                conv.resolved_at = conv.handoff_requested_at + timedelta(seconds=done_s)
            s.add(conv)
        s.add(Lead(tenant_id=desk.tenant, conversation_id=c, email="x@y.io", consent=True))
        s.add(Lead(tenant_id=desk.other_tenant, email="z@y.io", consent=True))
    today = date.today()
    with session_scope() as s:
        stats = handoff_stats(s, desk.tenant, Period.last_days(7, today))
        assert (stats.conversations, stats.handoffs, stats.handoff_rate) == (3, 3, 1.0)
        assert stats.first_response_median_s == 90.0 and stats.first_response_p90_s == 114.0
        assert stats.resolution_median_s == 300.0
        assert stats.leads == 1 and stats.leads_per_day[-1] == (today.isoformat(), 1)
        assert len(stats.leads_per_day) == 7
        one = handoff_stats(s, desk.tenant, Period.last_days(7, today), other_widget)
        assert (one.handoffs, one.first_response_median_s, one.leads) == (1, None, 0)
        empty = handoff_stats(s, desk.other_tenant, Period.last_days(7, today))
        assert (empty.handoffs, empty.handoff_rate, empty.leads) == (0, None, 1)
    assert (duration(None), duration(45), duration(300), duration(7200)) == (
        "—",
        "45 s",
        "5.0 min",
        "2.0 h",
    )
