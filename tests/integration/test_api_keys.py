"""API keys: secret shown once, keyed hash stored, prefix lookup, revocation, last-used."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, session_scope
from app.models import ApiKey, Role, utcnow
from app.services import accounts, widgets
from app.services.api_keys import (
    ApiKeyError,
    authenticate_key,
    create_key,
    list_keys,
    revoke_key,
)
from app.services.permissions import Action, PermissionDeniedError, can, require


def _tenant(engine: Engine, email: str = "o@a.io") -> str:
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, email, "a-long-password", "A")
        return tenant.id


def test_secret_is_returned_once_and_only_a_hash_is_stored(engine: Engine) -> None:
    tenant = _tenant(engine)
    with session_scope(engine) as s:
        created = create_key(s, tenant, "backend", ["chat"])
        secret, key_id = created.secret, created.key.id
    with session_scope(engine) as s:
        row = s.get(ApiKey, key_id)
        assert row is not None
        assert secret.startswith(row.prefix + "_")
        assert secret not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
        ident = authenticate_key(s, secret)
        assert ident is not None and ident.tenant_id == tenant
        assert ident.allows("chat") and not ident.allows("documents")


def test_unknown_malformed_tampered_and_revoked_keys_fail(engine: Engine) -> None:
    tenant = _tenant(engine)
    with session_scope(engine) as s:
        created = create_key(s, tenant, "k", ["admin"])
    secret = created.secret
    with session_scope(engine) as s:
        assert authenticate_key(s, "") is None
        assert authenticate_key(s, "Bearer nonsense") is None
        assert authenticate_key(s, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
        assert authenticate_key(s, "sk_AAAAAAAAAAAA_" + "x" * 43) is None
        ident = authenticate_key(s, secret)
        assert ident is not None and ident.allows("documents")  # admin implies all
        revoke_key(s, tenant, created.key.id)
    with session_scope(engine) as s:
        assert authenticate_key(s, secret) is None


def test_last_used_is_written_at_most_once_a_minute(engine: Engine) -> None:
    tenant = _tenant(engine)
    with session_scope(engine) as s:
        created = create_key(s, tenant, "k", ["chat"])
    t0 = utcnow()
    with session_scope(engine) as s:
        authenticate_key(s, created.secret, now=t0)
        authenticate_key(s, created.secret, now=t0 + timedelta(seconds=30))
    with session_scope(engine) as s:
        assert s.get(ApiKey, created.key.id).last_used_at == t0  # type: ignore[union-attr]
        authenticate_key(s, created.secret, now=t0 + timedelta(seconds=61))
    with session_scope(engine) as s:
        row = s.get(ApiKey, created.key.id)
        assert row is not None and row.last_used_at == t0 + timedelta(seconds=61)


def test_validation_and_tenant_scoping(engine: Engine) -> None:
    a = _tenant(engine, "a@a.io")
    b = _tenant(engine, "b@b.io")
    with session_scope(engine) as s:
        with pytest.raises(ApiKeyError, match="name"):
            create_key(s, a, " ", ["chat"])
        with pytest.raises(ApiKeyError, match="scope"):
            create_key(s, a, "k", [])
        with pytest.raises(ApiKeyError, match="Unknown scope"):
            create_key(s, a, "k", ["root"])
        foreign_widget = widgets.create_widget(s, b, "B's").id
        with pytest.raises(NotFoundError):
            create_key(s, a, "k", ["chat"], widget_id=foreign_widget)
        bound = create_key(s, b, "bound", ["chat"], widget_id=foreign_widget)
        assert authenticate_key(s, bound.secret).allows_widget(foreign_widget)  # type: ignore[union-attr]
        assert not authenticate_key(s, bound.secret).allows_widget("other")  # type: ignore[union-attr]
        with pytest.raises(NotFoundError):
            revoke_key(s, a, bound.key.id)
        assert list_keys(s, a) == []
        assert [k.name for k in list_keys(s, b)] == ["bound"]


def test_roles() -> None:
    assert can(Role.owner, Action.delete_workspace)
    assert not can(Role.admin, Action.delete_workspace)
    for action in (Action.manage_keys, Action.manage_credentials, Action.manage_members):
        assert can("admin", action) and not can("member", action)
        with pytest.raises(PermissionDeniedError):
            require(Role.member, action)
    assert not can("superuser", Action.manage_keys)
