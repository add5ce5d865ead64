"""The Widgets page's event handlers, called directly as the Reflex backend would.

The identity comes only from `_identity()` (the session cookie on the server): without one
every handler refuses, and with another workspace's identity a widget id is "not found".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reflex.istate.data import RouterData
from reflex.state import State
from sqlalchemy import Engine

import app.app  # noqa: F401  (registers the pages and their states)
from app.db import session_scope
from app.services import accounts
from app.services import widgets as svc
from app.services.accounts import Identity
from app.state.widgets import WidgetEditorState, WidgetListState


def _identity(engine: Engine, email: str) -> Identity:
    with session_scope(engine) as s:
        user, tenant = accounts.sign_up(s, email, "a-long-password", email.split("@")[0])
        return Identity(
            session_id="s-" + user.id,
            user_id=user.id,
            email=email,
            name="",
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            role=accounts.Role.owner,
        )


@pytest.fixture
def states(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """make(identity, path) -> (list state, editor state) acting as that visitor."""
    current: dict[str, Identity | None] = {"who": None}
    monkeypatch.setattr(WidgetListState, "_identity", lambda self: current["who"], raising=False)
    monkeypatch.setattr(WidgetEditorState, "_identity", lambda self: current["who"], raising=False)

    def make(who: Identity | None, path: str = "/widgets") -> tuple[Any, Any]:
        current["who"] = who
        root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
        root.router = RouterData.from_router_data(
            {"pathname": path, "asPath": path, "headers": {"origin": "http://test"}}
        )
        lst = root.get_substate(WidgetListState.get_full_name().split(".")[1:])
        editor = root.get_substate(WidgetEditorState.get_full_name().split(".")[1:])
        return lst, editor

    yield make


def _run(handler: Any, state: Any, *args: Any) -> Any:
    result = handler.fn(state, *args)
    if hasattr(result, "__next__"):  # generator handlers (editor load)
        return list(result)
    return result


def test_every_handler_refuses_without_a_session(engine: Engine, states) -> None:  # type: ignore[no-untyped-def]
    owner = _identity(engine, "o@a.io")
    with session_scope(engine) as s:
        widget_id = svc.create_widget(s, owner.tenant_id, "A").id
    lst, editor = states(None, f"/widgets/{widget_id}")
    editor.editing_id = widget_id
    for handler, state, args in (
        (WidgetListState.load, lst, ()),
        (WidgetListState.create, lst, ({"name": "x"},)),
        (WidgetListState.duplicate, lst, (widget_id,)),
        (WidgetListState.set_enabled, lst, (widget_id, False)),
        (WidgetListState.ask_delete, lst, (widget_id, "A")),
        (WidgetListState.confirm_delete, lst, ()),
        (WidgetEditorState.load, editor, ()),
        (WidgetEditorState.save, editor, ()),
        (WidgetEditorState.copy_snippet, editor, ("script",)),
        (WidgetEditorState.set_greeting, editor, ("hi",)),
        (WidgetEditorState.set_domains, editor, ("x.com",)),
        (WidgetEditorState.check_domains, editor, ()),
    ):
        with pytest.raises(PermissionError):
            _run(handler, state, *args)
    with session_scope(engine) as s:
        assert [w.name for w in svc.list_widgets(s, owner.tenant_id)] == ["A"]
        assert svc.get_widget(s, owner.tenant_id, widget_id).enabled


def test_another_workspace_gets_not_found_and_changes_nothing(engine: Engine, states) -> None:  # type: ignore[no-untyped-def]
    owner = _identity(engine, "o@a.io")
    intruder = _identity(engine, "i@b.io")
    with session_scope(engine) as s:
        widget_id = svc.create_widget(s, owner.tenant_id, "A").id

    lst, editor = states(intruder, f"/widgets/{widget_id}")
    _run(WidgetListState.load, lst)
    assert lst.rows == []
    _run(WidgetListState.duplicate, lst, widget_id)
    _run(WidgetListState.set_enabled, lst, widget_id, False)
    lst.delete_id, lst.delete_name = widget_id, "A"
    _run(WidgetListState.confirm_delete, lst)
    _run(WidgetEditorState.load, editor)
    assert editor.missing and editor.editing_id == "" and editor.name == ""
    # Even a forged editing_id in the intruder's state cannot save over A's widget.
    editor.editing_id, editor.name, editor.missing = widget_id, "stolen", False
    _run(WidgetEditorState.save, editor)
    assert editor.missing

    with session_scope(engine) as s:
        widgets = svc.list_widgets(s, owner.tenant_id)
        assert [(w.name, w.enabled) for w in widgets] == [("A", True)]
        assert svc.list_widgets(s, intruder.tenant_id) == []


def test_owner_edits_with_inline_errors_then_saves(engine: Engine, states) -> None:  # type: ignore[no-untyped-def]
    owner = _identity(engine, "o@a.io")
    lst, _ = states(owner)
    _run(WidgetListState.create, lst, {"name": "  "})
    assert lst.create_error == "Give the widget a name."
    _run(WidgetListState.create, lst, {"name": "Help"})
    with session_scope(engine) as s:
        (widget,) = svc.list_widgets(s, owner.tenant_id)
        widget_id = widget.id

    _, editor = states(owner, f"/widgets/{widget_id}/")
    _run(WidgetEditorState.load, editor)
    assert editor.loaded and editor.name == "Help" and editor.model == "default"
    assert f'data-widget-id="{widget_id}"' in editor.script_snippet

    _run(WidgetEditorState.set_greeting, editor, "Hello there")
    _run(WidgetEditorState.set_primary_color, editor, "#12")
    assert "primary_color" in editor.errors
    _run(WidgetEditorState.set_primary_color, editor, "#123456")
    assert "primary_color" not in editor.errors
    _run(WidgetEditorState.set_domains, editor, "good.example.com\nbad domain")
    _run(WidgetEditorState.check_domains, editor)
    assert "bad domain" in editor.errors["allowed_domains"]
    _run(WidgetEditorState.save, editor)
    assert "bad domain" in editor.errors["allowed_domains"]
    with session_scope(engine) as s:  # nothing half-saved
        assert svc.get_widget(s, owner.tenant_id, widget_id).greeting != "Hello there"

    _run(WidgetEditorState.set_domains, editor, "good.example.com, *.example.com")
    _run(WidgetEditorState.set_model, editor, "gpt-4o-mini")
    _run(WidgetEditorState.set_model, editor, "made-up-model")  # not offered: back to default
    _run(WidgetEditorState.set_model, editor, "gpt-4o-mini")
    _run(WidgetEditorState.set_temperature, editor, [1.26])
    _run(WidgetEditorState.save, editor)
    assert editor.errors == {}
    with session_scope(engine) as s:
        saved = svc.get_widget(s, owner.tenant_id, widget_id)
        assert saved.greeting == "Hello there"
        assert saved.allowed_domains == ["good.example.com", "*.example.com"]
        assert saved.appearance["primary_color"] == "#123456"
        assert (saved.model, saved.temperature) == ("gpt-4o-mini", 1.3)

    _run(WidgetListState.duplicate, lst, widget_id)
    _run(WidgetListState.ask_delete, lst, widget_id, "Help")
    _run(WidgetListState.confirm_delete, lst)
    assert [r.name for r in lst.rows] == ["Help (copy)"]
