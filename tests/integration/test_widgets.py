"""Widget service as the dashboard uses it: validation with fields, copies, tenant walls."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, TenantScope, session_scope
from app.models import Conversation, Widget
from app.rag.pricing import PRICES
from app.services import accounts
from app.services import widgets as svc


def _tenant(engine: Engine, email: str) -> str:
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, email, "a-long-password", "W")
        return tenant.id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Shop.Example.com/path?q=1", "shop.example.com"),
        ("*.example.com", "*.example.com"),
        ("localhost:8080", "localhost:8080"),
        ("127.0.0.1:3000", "127.0.0.1:3000"),
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_normalize_domain_accepts_hosts_ports_and_wildcards(raw: str, expected: str) -> None:
    assert svc.normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "raw", ["exa mple.com", "*.com", "example.com:99999", "-bad-.com", "*.1.2.3.4"]
)
def test_normalize_domain_refuses_bad_entries_with_the_field(raw: str) -> None:
    with pytest.raises(svc.WidgetError) as err:
        svc.normalize_domain(raw)
    assert err.value.field == "allowed_domains"


def test_check_domains_reads_lines_and_commas_and_names_the_bad_one() -> None:
    assert svc.check_domains("example.com, *.example.com\n\nEXAMPLE.com\nlocalhost:3000") == [
        "example.com",
        "*.example.com",
        "localhost:3000",
    ]
    with pytest.raises(svc.WidgetError, match="not a valid domain") as err:
        svc.check_domains("example.com\nnot a domain")
    assert "not a domain" in str(err.value)
    too_many = "\n".join(f"s{i}.example.com" for i in range(svc.MAX_DOMAINS + 1))
    with pytest.raises(svc.WidgetError, match="At most"):
        svc.check_domains(too_many)


def test_split_lines_keeps_commas_in_questions_and_caps_the_count() -> None:
    text = "Hi, how do I pay?\n\n  Shipping?  \n" + "\n".join(f"q{i}" for i in range(10))
    lines = svc.split_lines(text, svc.MAX_STARTERS)
    assert lines[:2] == ["Hi, how do I pay?", "Shipping?"] and len(lines) == svc.MAX_STARTERS


def test_model_choices_are_the_priced_models_plus_a_custom_current_one() -> None:
    assert svc.model_choices() == sorted(PRICES)
    assert svc.model_choices("llama3.1:8b")[0] == "llama3.1:8b"
    assert svc.model_choices("gpt-4o-mini").count("gpt-4o-mini") == 1


def test_embed_snippets_use_the_public_url_and_widget_id() -> None:
    snippets = svc.embed_snippets("https://chat.example.com/", "abc123")
    assert snippets["script"] == (
        '<script src="https://chat.example.com/embed/widget.js" '
        'data-widget-id="abc123" async></script>'
    )
    assert snippets["iframe"].startswith(
        '<iframe src="https://chat.example.com/embed/abc123?mode=inline"'
    )


def test_update_validates_with_fields_and_keeps_the_old_values(engine: Engine) -> None:
    tenant = _tenant(engine, "v@a.io")
    with session_scope(engine) as s:
        widget_id = svc.create_widget(s, tenant, "Help").id
    for fields, field in (
        ({"name": "   "}, "name"),
        ({"appearance": {"primary_color": "blue"}}, "primary_color"),
        ({"appearance": {"avatar_url": "http://x.io/a.png"}}, "avatar_url"),
        ({"allowed_domains": ["ok.com", "bad domain"]}, "allowed_domains"),
        ({"temperature": 2.5}, "temperature"),
    ):
        with pytest.raises(svc.WidgetError) as err, session_scope(engine) as s:
            svc.update_widget(s, tenant, widget_id, **fields)
        assert err.value.field == field
    with session_scope(engine) as s:
        widget = svc.get_widget(s, tenant, widget_id)
        assert widget.name == "Help" and widget.allowed_domains == []
        assert widget.appearance["primary_color"] == svc.DEFAULT_APPEARANCE["primary_color"]


def test_duplicate_copies_every_setting_and_delete_keeps_conversations(engine: Engine) -> None:
    tenant = _tenant(engine, "d@a.io")
    with session_scope(engine) as s:
        source = svc.create_widget(
            s,
            tenant,
            "Shop",
            appearance={"primary_color": "#112233", "theme": "dark", "title": "Shop bot"},
            greeting="Hello!",
            starter_questions=["Where is my order?"],
            placeholder="Ask…",
            system_prompt="Be brief.",
            model="gpt-4o-mini",
            temperature=0.7,
            citations_enabled=False,
            unknown_answer="No idea.",
            allowed_domains=["shop.example.com"],
            enabled=False,
        )
        source_id = source.id
        s.add(Conversation(tenant_id=tenant, widget_id=source_id))
    with session_scope(engine) as s:
        copy = svc.duplicate_widget(s, tenant, source_id)
        copy_id = copy.id
        original = svc.get_widget(s, tenant, source_id)
        assert copy.name == "Shop (copy)" and copy.id != source_id
        for key in svc.EDITABLE - {"name"}:
            assert getattr(copy, key) == getattr(original, key), key
    with session_scope(engine) as s:
        svc.delete_widget(s, tenant, source_id)
    with session_scope(engine) as s:
        assert [w.id for w in svc.list_widgets(s, tenant)] == [copy_id]
        conversation = s.query(Conversation).filter_by(tenant_id=tenant).one()
        assert conversation.widget_id is None


def test_another_workspaces_widget_is_not_found(engine: Engine) -> None:
    a = _tenant(engine, "a@a.io")
    b = _tenant(engine, "b@b.io")
    with session_scope(engine) as s:
        widget_id = svc.create_widget(s, a, "A's").id
    for action in (
        lambda s: svc.get_widget(s, b, widget_id),
        lambda s: svc.update_widget(s, b, widget_id, name="stolen"),
        lambda s: svc.duplicate_widget(s, b, widget_id),
        lambda s: svc.delete_widget(s, b, widget_id),
    ):
        with pytest.raises(NotFoundError), session_scope(engine) as s:
            action(s)
    with session_scope(engine) as s:
        assert svc.list_widgets(s, b) == []
        assert TenantScope(s, a).get(Widget, widget_id).name == "A's"
