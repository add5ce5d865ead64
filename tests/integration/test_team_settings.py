"""Members, invitations, workspace settings, password change and workspace deletion."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, func, select

from app.db import NotFoundError, session_scope
from app.models import (
    TENANT_TABLES,
    ApiKey,
    AuthSession,
    Invitation,
    Membership,
    Role,
    Tenant,
    User,
    utcnow,
)
from app.rag.types import Chunk
from app.services import accounts, api_keys, documents, providers, team, widgets, workspace
from app.services.permissions import PermissionDeniedError
from app.services.vectors import EMBEDDING_DIM, close_store, get_store
from app.settings import get_settings, reset_settings_cache
from tests.support.fake_llm import FakeLLM, Script

PASSWORD = "a-long-password"


def _owner(engine: Engine, email: str = "o@a.io", name: str = "Acme") -> tuple[str, str]:
    with session_scope(engine) as s:
        user, tenant = accounts.sign_up(s, email, PASSWORD, name)
        return user.id, tenant.id


def _invite_and_join(engine: Engine, tenant: str, email: str, role: str = "member") -> str:
    """A new person joins through an invitation; returns their membership id."""
    with session_scope(engine) as s:
        token = team.create_invitation(s, tenant, Role.owner, role).token
        user, _ = team.sign_up_invited(s, token, email, PASSWORD)
        return s.exec(select(Membership).where(Membership.user_id == user.id)).one().id


# ---- invitations ----------------------------------------------------------------------


def test_invitation_joins_with_role_once_and_stores_only_a_hash(engine: Engine) -> None:
    _, tenant = _owner(engine)
    with session_scope(engine) as s:
        created = team.create_invitation(s, tenant, Role.admin, "admin")
        token, inv_id = created.token, created.invitation.id
    with session_scope(engine) as s:
        row = s.get(Invitation, inv_id)
        assert row is not None and token not in row.token_hash and len(row.token_hash) == 64
        assert row.expires_at - utcnow() > timedelta(days=6, hours=23)
        preview = team.preview_invitation(s, token)
        assert (preview.status, preview.tenant_name, preview.role) == ("valid", "Acme", "admin")
        user, _ = team.sign_up_invited(s, token, "new@a.io", PASSWORD)
        assert user.email == "new@a.io"
    with session_scope(engine) as s:
        members = {m.email: m.role for m in team.list_members(s, tenant)}
        assert members == {"o@a.io": "owner", "new@a.io": "admin"}
        assert team.preview_invitation(s, token).status == "used"
        # Reuse is refused, also by another existing account.
        other, _ = accounts.sign_up(s, "x@b.io", PASSWORD, "B")
        with pytest.raises(team.TeamError, match="already been used"):
            team.accept_invitation(s, token, other)
        assert team.list_pending_invitations(s, tenant) == []


def test_expired_wrong_email_and_unknown_invitations_are_refused(engine: Engine) -> None:
    _, tenant = _owner(engine)
    with session_scope(engine) as s:
        old = team.create_invitation(
            s, tenant, Role.owner, "member", now=utcnow() - timedelta(days=8)
        ).token
        for_bob = team.create_invitation(s, tenant, Role.owner, "member", email="bob@a.io").token
        eve, _ = accounts.sign_up(s, "eve@e.io", PASSWORD, "Eve")
    with session_scope(engine) as s:
        assert team.preview_invitation(s, old).status == "expired"
        with pytest.raises(team.TeamError, match="expired"):
            team.sign_up_invited(s, old, "late@a.io", PASSWORD)
        assert s.exec(select(User).where(User.email == "late@a.io")).first() is None
        with pytest.raises(team.TeamError, match=r"bob@a\.io"):
            team.accept_invitation(s, for_bob, eve)
        assert team.preview_invitation(s, "made-up-token").status == "invalid"
        with pytest.raises(team.TeamError, match="not valid"):
            team.accept_invitation(s, "made-up-token", eve)
        assert len(team.list_members(s, tenant)) == 1


def test_existing_user_joins_second_workspace_and_session_switches(engine: Engine) -> None:
    _, a = _owner(engine, "a@a.io", "A")
    bob_id, _b = _owner(engine, "bob@b.io", "B")
    with session_scope(engine) as s:
        token = team.create_invitation(s, a, Role.owner, "member").token
        bob = s.get(User, bob_id)
        team.accept_invitation(s, token, bob)
        code = accounts.start_login(s, bob, tenant_id=a)
    with session_scope(engine) as s:
        cookie, _ = accounts.complete_login(s, code)
        ident = accounts.identity_for_token(s, cookie)
        assert ident is not None and ident.tenant_id == a and ident.role == Role.member
        assert [t[1] for t in team.member_tenants(s, bob_id)] == ["B", "A"]


def test_invitations_of_another_tenant_are_not_found(engine: Engine) -> None:
    _, a = _owner(engine, "a@a.io", "A")
    _, b = _owner(engine, "b@b.io", "B")
    with session_scope(engine) as s:
        inv = team.create_invitation(s, a, Role.owner, "member").invitation
    with session_scope(engine) as s, pytest.raises(NotFoundError):
        team.revoke_invitation(s, b, Role.owner, inv.id)
    with session_scope(engine) as s:
        assert len(team.list_pending_invitations(s, a)) == 1
        assert team.list_pending_invitations(s, b) == []


# ---- roles ----------------------------------------------------------------------------


def test_last_owner_is_protected_and_only_owners_grant_owner(engine: Engine) -> None:
    owner_id, tenant = _owner(engine)
    admin_m = _invite_and_join(engine, tenant, "admin@a.io", "admin")
    member_m = _invite_and_join(engine, tenant, "m@a.io", "member")
    with session_scope(engine) as s:
        owner_m = s.exec(select(Membership).where(Membership.user_id == owner_id)).one().id
        with pytest.raises(team.TeamError, match="at least one owner"):
            team.change_role(s, tenant, Role.owner, owner_m, "admin")
        with pytest.raises(team.TeamError, match="last owner"):
            team.remove_member(s, tenant, Role.owner, owner_m)
        with pytest.raises(team.TeamError, match="Only an owner"):
            team.change_role(s, tenant, Role.admin, member_m, "owner")
        with pytest.raises(team.TeamError, match="Only an owner"):
            team.create_invitation(s, tenant, Role.admin, "owner")
        team.change_role(s, tenant, Role.admin, member_m, "admin")  # admins may promote to admin
    with session_scope(engine) as s:
        team.change_role(s, tenant, Role.owner, admin_m, "owner")
        # Now there are two owners: the first may step down.
        team.change_role(s, tenant, Role.owner, owner_m, "member")
    with session_scope(engine) as s:
        roles = sorted(m.role for m in team.list_members(s, tenant))
        assert roles == ["admin", "member", "owner"]


def test_removed_member_loses_access_and_sessions(engine: Engine) -> None:
    _, tenant = _owner(engine)
    member_m = _invite_and_join(engine, tenant, "m@a.io")
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.email == "m@a.io")).one()
        code = accounts.start_login(s, user, tenant_id=tenant)
    with session_scope(engine) as s:
        cookie, _ = accounts.complete_login(s, code)
    with session_scope(engine) as s:
        team.remove_member(s, tenant, Role.admin, member_m)
    with session_scope(engine) as s:
        assert accounts.identity_for_token(s, cookie) is None
        assert [m.email for m in team.list_members(s, tenant)] == ["o@a.io"]


# ---- a member is refused admin actions by the server ----------------------------------


def test_member_is_refused_keys_credentials_members_billing(engine: Engine) -> None:
    _, tenant = _owner(engine)
    owner_m = _invite_and_join(engine, tenant, "admin@a.io", "admin")
    with session_scope(engine) as s:
        t = s.get(Tenant, tenant)
        refused = [
            lambda: team.create_invitation(s, tenant, Role.member, "member"),
            lambda: team.change_role(s, tenant, Role.member, owner_m, "member"),
            lambda: team.remove_member(s, tenant, Role.member, owner_m),
            lambda: workspace.set_tier(s, tenant, Role.member, "paid"),
            lambda: workspace.rename_workspace(s, tenant, Role.member, "Mine"),
            lambda: workspace.delete_workspace(s, tenant, Role.admin, "Acme"),
            lambda: providers.save_credentials(s, t, Role.member, {"openai_key": "sk-x"}),
            lambda: providers.set_default_model(s, t, Role.member, "gpt-4o"),
            lambda: asyncio.run(providers.check_connection(t, Role.member, "openai")),
        ]
        for call in refused:
            with pytest.raises(PermissionDeniedError):
                call()
    with session_scope(engine) as s:
        t = s.get(Tenant, tenant)
        assert (t.name, t.tier, t.credentials_encrypted, t.default_model) == (
            "Acme",
            "free",
            None,
            None,
        )
        assert s.exec(select(func.count()).select_from(Invitation)).one() == 1  # the admin's
        assert sorted(m.role for m in team.list_members(s, tenant)) == ["admin", "owner"]


# ---- workspace settings ---------------------------------------------------------------


def test_rename_tier_and_usage(engine: Engine) -> None:
    _, tenant = _owner(engine)
    with session_scope(engine) as s:
        with pytest.raises(workspace.WorkspaceError, match="name"):
            workspace.rename_workspace(s, tenant, Role.admin, "   ")
        with pytest.raises(workspace.WorkspaceError):
            workspace.rename_workspace(s, tenant, Role.admin, "x" * 121)
        workspace.rename_workspace(s, tenant, Role.admin, "  Acme Support ")
        with pytest.raises(workspace.WorkspaceError, match="plan"):
            workspace.set_tier(s, tenant, Role.owner, "platinum")
        workspace.set_tier(s, tenant, Role.owner, "paid")
        api_keys.create_key(s, tenant, "k", ["chat"])
    with session_scope(engine) as s:
        assert s.get(Tenant, tenant).name == "Acme Support"
        usage = workspace.plan_usage(s, tenant)
        settings = get_settings()
        assert usage.tier == "paid" and usage.tokens_budget == settings.budget_paid_tokens_month
        assert usage.chats_per_hour == settings.rate_paid_per_hour
        assert (usage.tokens_used, usage.active_keys, usage.members) == (0, 1, 1)


def test_change_password_needs_current_and_revokes_other_sessions(engine: Engine) -> None:
    user_id, _ = _owner(engine)
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        codes = [accounts.start_login(s, user) for _ in range(2)]
    with session_scope(engine) as s:
        (keep, keep_row), (other, _) = (accounts.complete_login(s, c) for c in codes)
        keep_id = keep_row.id
    with session_scope(engine) as s:
        with pytest.raises(workspace.WorkspaceError, match="current password"):
            workspace.change_password(s, user_id, keep_id, "wrong-password", "another-password")
        with pytest.raises(workspace.WorkspaceError, match="at least"):
            workspace.change_password(s, user_id, keep_id, PASSWORD, "short")
        assert workspace.change_password(s, user_id, keep_id, PASSWORD, "another-password") == 1
    with session_scope(engine) as s:
        assert accounts.identity_for_token(s, keep) is not None
        assert accounts.identity_for_token(s, other) is None
        assert accounts.authenticate(s, "o@a.io", "another-password").id == user_id
        with pytest.raises(accounts.AccountError):
            accounts.authenticate(s, "o@a.io", PASSWORD)


def _vector(seed: int) -> list[float]:
    return [((i * seed) % 7) / 7 + 0.01 for i in range(EMBEDDING_DIM)]


def test_delete_workspace_removes_rows_vectors_files_of_that_tenant_only(engine: Engine) -> None:
    settings = get_settings()
    close_store()
    ids: dict[str, str] = {}
    for label, email in (("a", "a@a.io"), ("b", "b@b.io")):
        _, tenant = _owner(engine, email, label.upper())
        ids[label] = tenant
        with session_scope(engine) as s:
            widget = widgets.create_widget(s, tenant, "W")
            api_keys.create_key(s, tenant, "k", ["chat"], widget_id=widget.id)
            doc = documents.create_text_document(s, tenant, title="Doc", text=f"text of {label}")
            team.create_invitation(s, tenant, Role.owner, "member")
            doc_id = doc.id
        get_store().upsert(
            tenant,
            [
                Chunk(tenant, doc_id, i, f"{label} chunk {i}", vector=_vector(i + 2))
                for i in range(3)
            ],
        )
    # A user of A who is also in B keeps their account; A's only-owner account goes.
    _invite_to = ids["b"]
    with session_scope(engine) as s:
        token = team.create_invitation(s, ids["a"], Role.owner, "member").token
        b_owner = s.exec(select(User).where(User.email == "b@b.io")).one()
        team.accept_invitation(s, token, b_owner)
    assert (settings.files_dir / ids["a"]).exists()

    with session_scope(engine) as s:
        with pytest.raises(workspace.WorkspaceError, match="exactly"):
            workspace.delete_workspace(s, ids["a"], Role.owner, "a")
        workspace.delete_workspace(s, ids["a"], Role.owner, "A")

    store = get_store()
    assert store.count(ids["a"]) == 0 and store.count(_invite_to) == 3
    assert not (settings.files_dir / ids["a"]).exists()
    assert (settings.files_dir / ids["b"]).exists()
    with session_scope(engine) as s:
        assert s.get(Tenant, ids["a"]) is None and s.get(Tenant, ids["b"]) is not None
        for model in TENANT_TABLES:
            left = s.exec(
                select(func.count()).select_from(model).where(model.tenant_id == ids["a"])
            ).one()
            assert left == 0, model.__name__
        assert (
            s.exec(
                select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == ids["b"])
            ).one()
            == 1
        )
        emails = set(s.exec(select(User.email)).all())
        assert emails == {"b@b.io"}  # a@a.io had no other workspace
        assert (
            s.exec(
                select(func.count())
                .select_from(AuthSession)
                .where(col(AuthSession.tenant_id) == ids["a"])
            ).one()
            == 0
        )
    close_store()


# ---- provider credentials and test connection ----------------------------------------


def test_credentials_are_masked_validated_and_tested_against_a_real_server(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, tenant = _owner(engine)
    with FakeLLM(script=Script(text="OK")) as llm, session_scope(engine) as s:
        t = s.get(Tenant, tenant)
        with pytest.raises(providers.ProviderSettingsError, match="http"):
            providers.save_credentials(s, t, Role.admin, {"compat_base_url": "ftp://x"})
        with pytest.raises(providers.ProviderSettingsError, match="API key"):
            providers.save_credentials(s, t, Role.admin, {"openai_key": "sk with spaces"})
        providers.save_credentials(
            s, t, Role.admin, {"compat_base_url": llm.openai_url, "compat_key": "local-key-9876"}
        )
        assert "local-key-9876" not in (t.credentials_encrypted or "")
        masked = providers.credentials.masked_credentials(t)
        assert masked["compat_key"].endswith("9876") and "local-key" not in masked["compat_key"]

        # Without a model for the compatible server, the test says what to do.
        result = asyncio.run(providers.check_connection(t, Role.admin, "openai_compatible"))
        assert not result.ok and "default model" in result.message
        providers.set_default_model(s, t, Role.owner, "llama3.2")
        result = asyncio.run(providers.check_connection(t, Role.admin, "openai_compatible"))
        assert result.ok, result.message
        assert llm.requests[-1].body["model"] == "llama3.2"
        assert llm.requests[-1].headers["authorization"] == "Bearer local-key-9876"

        # A refused key and an unreachable server give clear messages.
        llm.reset(Script(fail_first=5, fail_status=401))
        result = asyncio.run(providers.check_connection(t, Role.admin, "openai_compatible"))
        assert not result.ok and "refused the key" in result.message
        # Gemini through its native API (GEMINI_BASE_URL points it at the fake server).
        monkeypatch.setenv("GEMINI_BASE_URL", llm.gemini_native_url)
        reset_settings_cache()
        llm.reset(Script(text="OK"))
        providers.save_credentials(s, t, Role.admin, {"gemini_key": "gem-key-1234"})
        result = asyncio.run(providers.check_connection(t, Role.admin, "gemini"))
        assert result.ok and "gemini-2.5-flash" in result.message
        assert llm.requests[-1].path.endswith("/models/gemini-2.5-flash:streamGenerateContent")
        assert llm.requests[-1].headers["x-goog-api-key"] == "gem-key-1234"
        result = asyncio.run(providers.check_connection(t, Role.admin, "anthropic"))
        assert not result.ok and "No Anthropic credentials" in result.message
        providers.save_credentials(s, t, Role.admin, {"compat_base_url": "http://127.0.0.1:9"})
        result = asyncio.run(
            providers.check_connection(t, Role.admin, "openai_compatible", timeout_s=3)
        )
        assert not result.ok and ("connect" in result.message or "within" in result.message)
        with pytest.raises(providers.ProviderSettingsError, match="model name"):
            providers.set_default_model(s, t, Role.owner, "bad model; drop")
