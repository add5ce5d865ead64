"""Tenant isolation at the query-helper level, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, TenantRequiredError, TenantScope, session_scope
from app.models import Membership, Tenant, Widget
from app.services import accounts


def _two_tenants(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "a@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "b@b.io", "a-long-password", "B")
        return a.id, b.id


@pytest.mark.parametrize("tenant", [None, ""])
def test_scope_without_tenant_raises(engine: Engine, tenant: str | None) -> None:
    with session_scope(engine) as s, pytest.raises(TenantRequiredError):
        TenantScope(s, tenant)


def test_other_tenants_rows_behave_like_missing_rows(engine: Engine) -> None:
    a, b = _two_tenants(engine)
    with session_scope(engine) as s:
        widget = TenantScope(s, a).add(Widget(name="A's widget"))
        s.flush()
        widget_id = widget.id
    with session_scope(engine) as s:
        scope_b = TenantScope(s, b)
        with pytest.raises(NotFoundError) as foreign:
            scope_b.get(Widget, widget_id)
        with pytest.raises(NotFoundError) as missing:
            scope_b.get(Widget, "0" * 32)
        assert str(foreign.value) == str(missing.value)
        assert scope_b.find(Widget, widget_id) is None
        assert scope_b.all(Widget) == []
        with pytest.raises(NotFoundError):
            scope_b.delete(Widget, widget_id)
        assert [w.name for w in TenantScope(s, a).all(Widget)] == ["A's widget"]


def test_add_stamps_tenant_and_refuses_foreign_rows(engine: Engine) -> None:
    a, b = _two_tenants(engine)
    with session_scope(engine) as s:
        row = TenantScope(s, a).add(Widget(name="w"))
        assert row.tenant_id == a
        with pytest.raises(TenantRequiredError):
            TenantScope(s, b).add(Widget(name="x", tenant_id=a))


def test_deleting_a_tenant_cascades(engine: Engine) -> None:
    a, _ = _two_tenants(engine)
    with session_scope(engine) as s:
        TenantScope(s, a).add(Widget(name="w"))
    with session_scope(engine) as s:
        s.delete(s.get(Tenant, a))
    with session_scope(engine) as s:
        assert TenantScope(s, a).all(Widget) == []
        assert TenantScope(s, a).all(Membership) == []
