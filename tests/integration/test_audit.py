"""The audit log: every covered action writes exactly one event, with the right actor and a
masked diff, in the same transaction as the change (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import AuditEvent, Membership, Role, TokenPurpose, User, utcnow
from app.services import (
    account_tokens,
    accounts,
    api_keys,
    audit,
    audit_log,
    audit_retention,
    documents,
    password_reset,
    presence,
    providers,
    team,
    webhooks,
    widgets,
    workspace,
)
from app.services.permissions import PermissionDeniedError
from app.services.vectors import close_store, get_store
from app.settings import reset_settings_cache

PASSWORD = "a-long-password"
PROVIDER_SECRET = "sk-proj-TopSecretValue1234567890"


class Trail:
    """The events written since the last look."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: set[str] = set()

    def new(self) -> list[AuditEvent]:
        with session_scope(self.engine) as s:
            rows = [e for e in s.exec(select(AuditEvent)).all() if e.id not in self.seen]
        self.seen |= {e.id for e in rows}
        return rows

    def one(self, action: str, actor: audit.Actor, tenant: str | None) -> AuditEvent:
        rows = self.new()
        assert [e.action for e in rows] == [action]
        event = rows[0]
        assert (event.actor_type, event.actor_id, event.actor_label) == (
            actor.kind,
            actor.id,
            actor.label,
        )
        assert (event.ip, event.user_agent, event.tenant_id) == (actor.ip, actor.user_agent, tenant)
        return event


def _dump(event: AuditEvent) -> str:
    return json.dumps(event.model_dump(mode="json"))


def test_each_admin_action_writes_one_event_with_actor_and_masked_diff(engine: Engine) -> None:
    close_store()
    trail = Trail(engine)
    with session_scope(engine) as s:
        owner, tenant = accounts.sign_up(
            s, "o@a.io", PASSWORD, "Acme", ip="10.0.0.1", user_agent="UA"
        )
        owner_id, tenant_id = owner.id, tenant.id
    me = audit.Actor.user(owner_id, "o@a.io", "10.0.0.1", "UA")
    event = trail.one("workspace.created", me, tenant_id)
    assert event.diff["name"] == {"before": None, "after": "Acme"}

    # Sign-in success, failure (kept although the caller rolls back), unknown address.
    with session_scope(engine) as s:
        user = accounts.authenticate(s, "o@a.io", PASSWORD, "10.0.0.1", "UA")
        assert trail.new() == []  # granted only with the session (after any second factor)
        accounts.start_login(s, user, ip="10.0.0.1", user_agent="UA")
    assert trail.one("auth.sign_in", me, tenant_id).diff == {
        "method": {"before": None, "after": "password"}
    }
    with pytest.raises(accounts.AccountError), session_scope(engine) as s:
        accounts.authenticate(s, "o@a.io", "wrong-password!", "10.0.0.1", "UA")
    failed = trail.one("auth.sign_in_failed", me, tenant_id)
    assert failed.diff["reason"]["after"] == "wrong_password"
    assert "wrong-password!" not in _dump(failed)
    with pytest.raises(accounts.AccountError), session_scope(engine) as s:
        accounts.authenticate(s, "nobody@a.io", PASSWORD, "10.0.0.9", "UA")
    stranger = trail.one(
        "auth.sign_in_failed", audit.Actor("anonymous", "", "nobody@a.io", "10.0.0.9", "UA"), None
    )
    assert stranger.diff["reason"]["after"] == "unknown_email"

    # Workspace, plan and provider settings.
    with session_scope(engine) as s:
        workspace.rename_workspace(s, tenant_id, Role.owner, "Acme Inc", actor=me)
    assert trail.one("workspace.renamed", me, tenant_id).diff == {
        "name": {"before": "Acme", "after": "Acme Inc"}
    }
    with session_scope(engine) as s:
        workspace.set_tier(s, tenant_id, Role.owner, "paid", actor=me)
    assert trail.one("workspace.plan_changed", me, tenant_id).diff == {
        "tier": {"before": "free", "after": "paid"}
    }
    with session_scope(engine) as s:
        tenant_row = workspace._tenant(s, tenant_id)
        providers.save_credentials(
            s, tenant_row, Role.owner, {"openai_key": PROVIDER_SECRET}, actor=me
        )
    saved = trail.one("credentials.updated", me, tenant_id)
    assert saved.diff == {"openai_key": {"before": None, "after": audit.MASK}}
    assert PROVIDER_SECRET not in _dump(saved) and "1234567890" not in _dump(saved)
    with session_scope(engine) as s:
        providers.clear_provider(s, workspace._tenant(s, tenant_id), Role.owner, "openai", actor=me)
    assert trail.one("credentials.cleared", me, tenant_id).diff == {
        "openai_key": {"before": audit.MASK, "after": None}
    }
    with session_scope(engine) as s:
        providers.set_default_model(
            s, workspace._tenant(s, tenant_id), Role.owner, "gpt-4o-mini", actor=me
        )
    trail.one("workspace.default_model_changed", me, tenant_id)

    # Invitations and members.
    with session_scope(engine) as s:
        inv = team.create_invitation(s, tenant_id, Role.owner, "admin", "x@a.io", actor=me)
        inv_id, inv_token = inv.invitation.id, inv.token
    created = trail.one("invitation.created", me, tenant_id)
    assert created.target_id == inv_id and inv_token not in _dump(created)
    with session_scope(engine) as s:
        team.revoke_invitation(s, tenant_id, Role.owner, inv_id, actor=me)
    trail.one("invitation.revoked", me, tenant_id)
    with session_scope(engine) as s:
        token = team.create_invitation(s, tenant_id, Role.owner, "member", actor=me).token
    trail.one("invitation.created", me, tenant_id)
    with session_scope(engine) as s:
        joiner, _ = team.sign_up_invited(s, token, "m@a.io", PASSWORD, ip="10.0.0.2")
        joiner_id = joiner.id
        membership_id = s.exec(select(Membership).where(Membership.user_id == joiner_id)).one().id
    trail.one("member.joined", audit.Actor.user(joiner_id, "m@a.io", "10.0.0.2"), tenant_id)
    with session_scope(engine) as s:
        team.change_role(s, tenant_id, Role.owner, membership_id, "admin", actor=me)
    assert trail.one("member.role_changed", me, tenant_id).diff == {
        "role": {"before": "member", "after": "admin"}
    }

    # API keys: the secret is never in the event.
    with session_scope(engine) as s:
        created_key = api_keys.create_key(s, tenant_id, "ci", ["admin"], actor=me)
        key_id, key_secret = created_key.key.id, created_key.secret
    key_event = trail.one("api_key.created", me, tenant_id)
    assert key_secret not in _dump(key_event) and key_event.target_id == key_id
    with session_scope(engine) as s:
        api_keys.revoke_key(s, tenant_id, key_id, actor=me)
    trail.one("api_key.revoked", me, tenant_id)

    # Widgets.
    with session_scope(engine) as s:
        widget_id = widgets.create_widget(s, tenant_id, "Help", actor=me).id
    trail.one("widget.created", me, tenant_id)
    with session_scope(engine) as s:
        widgets.update_widget(s, tenant_id, widget_id, actor=me, greeting="Hello", name="Help")
    assert trail.one("widget.updated", me, tenant_id).diff == {
        "greeting": {"before": "Hi! Ask me anything about our docs.", "after": "Hello"}
    }
    with session_scope(engine) as s:
        copy_id = widgets.duplicate_widget(s, tenant_id, widget_id, actor=me).id
    trail.one("widget.created", me, tenant_id)
    with session_scope(engine) as s:
        widgets.delete_widget(s, tenant_id, copy_id, actor=me)
    trail.one("widget.deleted", me, tenant_id)

    # Documents: deleted through the API by a key.
    with session_scope(engine) as s:
        doc_id = documents.create_text_document(s, tenant_id, title="Doc", text="words").id
    trail.new()
    key_actor = audit.Actor.api_key(key_id, "sk_abc", "10.0.0.3", "curl/8")
    with session_scope(engine) as s:
        documents.delete_document(s, tenant_id, doc_id, store=get_store(), actor=key_actor)
    trail.one("document.deleted", key_actor, tenant_id)

    # Passwords: changed (signed in) and reset (by link).
    with session_scope(engine) as s:
        workspace.change_password(
            s, owner_id, "none", PASSWORD, "another-long-pass", tenant_id=tenant_id, actor=me
        )
    changed = trail.one("account.password_changed", me, tenant_id)
    assert changed.diff["password"] == {"before": audit.MASK, "after": audit.MASK}
    assert "another-long-pass" not in _dump(changed)
    with session_scope(engine) as s:
        link_token, _ = account_tokens.issue(s, s.get(User, joiner_id), TokenPurpose.password_reset)
    with session_scope(engine) as s:
        password_reset.reset_password(s, link_token, "reset-long-password", ip="10.0.0.2")
    trail.one(
        "account.password_reset", audit.Actor.user(joiner_id, "m@a.io", "10.0.0.2"), tenant_id
    )

    with session_scope(engine) as s:
        team.remove_member(s, tenant_id, Role.owner, membership_id, actor=me)
    assert trail.one("member.removed", me, tenant_id).diff == {
        "email": {"before": "m@a.io", "after": None},
        "role": {"before": "admin", "after": None},
    }

    # Deleting the workspace is the last event, and the trail outlives it.
    with session_scope(engine) as s:
        workspace.delete_workspace(s, tenant_id, Role.owner, "Acme Inc", actor=me)
    trail.one("workspace.deleted", me, tenant_id)
    with session_scope(engine) as s:
        left = s.exec(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)).all()
        assert len(left) >= 20
    close_store()


def test_event_commits_and_rolls_back_with_its_change(engine: Engine) -> None:
    with session_scope(engine) as s:
        owner, tenant = accounts.sign_up(s, "o@a.io", PASSWORD, "Acme")
        me, tenant_id = audit.Actor.user(owner.id, owner.email), tenant.id
    trail = Trail(engine)
    trail.new()
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        widgets.create_widget(s, tenant_id, "Gone", actor=me)
        raise RuntimeError("the request failed after the change")
    assert trail.new() == []
    with session_scope(engine) as s:
        assert widgets.list_widgets(s, tenant_id) == []
    # A refused change writes nothing either.
    with pytest.raises(PermissionDeniedError), session_scope(engine) as s:
        workspace.set_tier(s, tenant_id, Role.member, "paid", actor=me)
    assert trail.new() == []


def test_events_cannot_be_changed_or_deleted_and_purge_goes_by_age(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        for days in (400, 366, 10):
            event = audit.record(s, "t1", audit.SYSTEM, "test.event")
            event.created_at = now - timedelta(days=days)
    with session_scope(engine) as s:
        row = s.exec(select(AuditEvent)).first()
        assert row is not None
        row.action = "rewritten"
        with pytest.raises(audit.AppendOnlyError):
            s.flush()
        s.rollback()
        s.delete(s.exec(select(AuditEvent)).first())
        with pytest.raises(audit.AppendOnlyError):
            s.flush()
        s.rollback()
    with session_scope(engine) as s:
        assert audit_retention.purge_expired(s, now=now) == 2  # default: 365 days
    with session_scope(engine) as s:
        ages = [(now - e.created_at).days for e in s.exec(select(AuditEvent)).all()]
        assert ages == [10]


def test_listing_filters_pages_exports_and_stays_in_its_workspace(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        alice = audit.Actor.user("u1", "alice@a.io")
        bob = audit.Actor.user("u2", "bob@a.io")
        for i in range(7):
            audit.record(s, "ta", alice, "widget.updated", "widget", f"w{i}").created_at = (
                now - timedelta(days=i)
            )
        audit.record(
            s,
            "ta",
            bob,
            "member.role_changed",
            "membership",
            "m1",
            after={"note": '=HYPERLINK("http://evil")'},
        )
        audit.record(s, "tb", bob, "widget.updated", "widget", "other")
    flt = audit_log.AuditFilter
    with session_scope(engine) as s:
        page = audit_log.list_events(s, "ta", "admin", limit=3)
        assert (page.total, len(page.events)) == (8, 3)
        assert page.events[0].created_at >= page.events[1].created_at >= page.events[2].created_at
        rest = audit_log.list_events(s, "ta", "owner", offset=6, limit=3)
        assert len(rest.events) == 2
        assert audit_log.list_events(s, "ta", "admin", flt(actor="BOB@")).total == 1
        assert audit_log.list_events(s, "ta", "admin", flt(action="widget.")).total == 7
        assert audit_log.list_events(s, "ta", "admin", flt(action="widget")).total == 0
        since = (now - timedelta(days=2)).date()
        recent = audit_log.list_events(s, "ta", "admin", flt(since=since, actor="alice"))
        assert recent.total == 3
        until = (now - timedelta(days=5)).date()
        assert audit_log.list_events(s, "ta", "admin", flt(until=until)).total == 2
        assert audit_log.list_events(s, "tb", "admin").total == 1
        assert audit_log.action_names(s, "ta") == ["member.role_changed", "widget.updated"]
        with pytest.raises(PermissionDeniedError):
            audit_log.list_events(s, "ta", "member")
        text = audit_log.export_csv(s, "ta", "admin", flt(actor="bob"))
    lines = text.strip().splitlines()
    assert lines[0].startswith("time,actor_type,actor")
    assert len(lines) == 2 and "'{" not in lines[1]
    assert "=HYPERLINK" in lines[1]  # inside the JSON cell, which does not start with '='
    assert audit_log.safe_cell("=1+2") == "'=1+2" and audit_log.safe_cell("-x") == "'-x"
    assert audit_log.safe_cell("@SUM(A1)") == "'@SUM(A1)" and audit_log.safe_cell("ok") == "ok"


def test_webhook_and_opening_hours_changes_are_audited(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")  # no DNS here: a loopback receiver URL
    reset_settings_cache()
    trail = Trail(engine)
    with session_scope(engine) as s:
        owner, tenant = accounts.sign_up(s, "h@a.io", PASSWORD, "Hooks")
        me = audit.Actor.user(owner.id, "h@a.io", "10.0.0.3", "UA")
        tenant_id = tenant.id
    trail.new()
    with session_scope(engine) as s:
        endpoint, secret = webhooks.create_endpoint(
            s, tenant_id, Role.owner, "http://127.0.0.1:9/in", ["lead.created"], actor=me
        )
        endpoint_id = endpoint.id
    created = trail.one("webhook.created", me, tenant_id)
    assert created.diff["url"] == {"before": None, "after": "http://127.0.0.1:9/in"}
    assert secret not in _dump(created)
    with session_scope(engine) as s:
        webhooks.delete_endpoint(s, tenant_id, Role.owner, endpoint_id, actor=me)
    deleted = trail.one("webhook.deleted", me, tenant_id)
    assert deleted.diff["events"] == {"before": ["lead.created"], "after": None}

    hours = {"timezone": "Europe/Paris", "days": {"mon": ["09:00", "17:00"]}}
    with session_scope(engine) as s:
        presence.set_hours(s, tenant_id, hours, role=Role.owner, actor=me)
    changed = trail.one("workspace.hours_changed", me, tenant_id)
    assert changed.diff["opening_hours"]["after"]["timezone"] == "Europe/Paris"
    with session_scope(engine) as s:  # saving the same hours again changes nothing
        presence.set_hours(s, tenant_id, hours, role=Role.owner, actor=me)
    assert trail.new() == []
