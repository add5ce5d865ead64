"""The Reflex handlers themselves refuse a member: called directly, as a crafted websocket
event would, with no button involved. The identity comes from the (patched) session lookup."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select

from app.db import session_scope
from app.models import ApiKey, Invitation, Membership, Role, Tenant, User
from app.services import accounts, api_keys, audit, catalogue_sync, catalogues, team
from app.services.accounts import Identity
from app.services.permissions import PermissionDeniedError
from app.state.api_keys import ApiKeysState, create_key_as, revoke_key_as
from app.state.knowledge_catalogues import CatalogueState
from app.state.members import MembersState, change_role_as, invite_as
from app.state.settings import SettingsState

PASSWORD = "a-long-password"


def _identity(engine: Engine, email: str, tenant_id: str) -> Identity:
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        m = s.exec(
            select(Membership).where(
                Membership.user_id == user.id, Membership.tenant_id == tenant_id
            )
        ).one()
        tenant = s.get(Tenant, tenant_id)
        return Identity("sess", user.id, email, "", tenant_id, tenant.name, Role(m.role))


@pytest.fixture
def world(engine: Engine) -> dict[str, Any]:
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "o@a.io", PASSWORD, "Acme")
        token = team.create_invitation(s, tenant.id, Role.owner, "member").token
        team.sign_up_invited(s, token, "m@a.io", PASSWORD)
        key = api_keys.create_key(s, tenant.id, "existing", ["chat"]).key
        owner_m = s.exec(select(Membership).where(Membership.role == Role.owner)).one()
        ids = {"tenant": tenant.id, "key": key.id, "owner_m": owner_m.id}
    ids["member"] = _identity(engine, "m@a.io", ids["tenant"])
    ids["owner"] = _identity(engine, "o@a.io", ids["tenant"])
    return ids


def _state(cls: type, ident: Identity, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cls, "_identity", lambda self: ident)
    return cls()


def _counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as s:
        keys = s.exec(select(func.count()).select_from(ApiKey)).one()
        revoked = s.exec(
            select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_not(None))  # type: ignore[union-attr]
        ).one()
        invites = s.exec(select(func.count()).select_from(Invitation)).one()
        return keys, revoked, invites


def test_member_handlers_are_refused_and_change_nothing(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    member: Identity = world["member"]
    before = _counts(engine)

    # The functions the handlers call, directly.
    with pytest.raises(PermissionDeniedError):
        create_key_as(member, "sneaky", ["admin"], None)
    with pytest.raises(PermissionDeniedError):
        revoke_key_as(member, world["key"])
    with pytest.raises(PermissionDeniedError):
        invite_as(member, "owner", "")
    with pytest.raises(PermissionDeniedError):
        change_role_as(member, world["owner_m"], "member")

    # The Reflex handlers, as a crafted event would run them.
    keys = _state(ApiKeysState, member, monkeypatch)
    keys.create({"name": "sneaky"})
    keys.revoke_id = world["key"]
    keys.revoke()
    assert keys.secret == ""

    members = _state(MembersState, member, monkeypatch)
    members.invite({"email": ""})
    assert members.link == ""
    members.change_role(world["owner_m"], "member")

    settings = _state(SettingsState, member, monkeypatch)
    settings.save_provider({"openai_key": "sk-stolen-1234"})
    settings.change_tier("paid")
    settings.rename({"name": "Hijacked"})
    settings.delete_workspace({"confirm": "Acme"})

    assert _counts(engine) == before
    with session_scope(engine) as s:
        tenant = s.get(Tenant, world["tenant"])
        assert (tenant.name, tenant.tier, tenant.credentials_encrypted) == ("Acme", "free", None)
        owner = s.get(Membership, world["owner_m"])
        assert owner.role == Role.owner


def test_owner_handler_creates_key_and_forgets_secret_on_close(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _state(ApiKeysState, world["owner"], monkeypatch)
    keys.create({"name": "backend"})
    assert keys.secret.startswith("sk_") or "_" in keys.secret
    secret = keys.secret
    with session_scope(engine) as s:
        assert api_keys.authenticate_key(s, secret) is not None
    assert [r.name for r in keys.rows] == ["backend", "existing"]
    assert all(secret not in (r.prefix + r.name) for r in keys.rows)
    keys.close_secret()
    assert keys.secret == "" and secret not in repr(keys.dict())


def test_members_cannot_add_change_or_delete_shop_connections(
    engine: Engine, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shop connections carry credentials: a member sees and syncs them, nothing more."""
    with session_scope(engine) as s:
        existing = catalogues.create(
            s, world["tenant"], "json", "Shop", {"url": "https://shop.example/products"}
        )
        existing_id = existing.id
    draft = {"kind": "json", "schedule": "off", "name": "Sneaky", "url": "https://x.example/p"}

    member = _state(CatalogueState, world["member"], monkeypatch)
    member.load()
    assert member.can_manage is False
    member.draft = dict(draft)
    member.add()
    assert "owners and admins" in member.form_error
    member.set_schedule(existing_id, "daily")
    member.ask_delete(existing_id, "Shop")
    assert member.delete_id == ""
    member.delete_id = existing_id  # a crafted event skipping the dialog
    member.confirm_delete()
    with session_scope(engine) as s:
        rows = catalogues.list_catalogues(s, world["tenant"])
        assert [(c.id, c.schedule) for c in rows] == [(existing_id, "off")]

    owner = _state(CatalogueState, world["owner"], monkeypatch)
    monkeypatch.setattr(CatalogueState, "_actor", lambda self, ident: audit.SYSTEM)
    monkeypatch.setattr(catalogue_sync, "wake_workers", lambda: None)
    owner.load()
    assert owner.can_manage is True
    owner.draft = dict(draft)
    owner.add()
    assert owner.form_error == ""
    owner.set_schedule(existing_id, "daily")
    with session_scope(engine) as s:
        rows = catalogues.list_catalogues(s, world["tenant"])
        assert sorted(c.name for c in rows) == ["Shop", "Sneaky"]
        assert next(c for c in rows if c.id == existing_id).schedule == "daily"
