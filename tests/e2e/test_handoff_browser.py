"""Human handoff end to end, two browser contexts: a visitor on a host page of another
origin asks for a person; staff sees it in the inbox without a reload, takes over and
replies (the visitor sees "typing…", then the reply with the person's name); the visitor
reloads and keeps the thread; staff hands back and the bot answers again. Then a second
workspace with nobody online: the widget offers the lead form, the lead lands on that
workspace's Leads page, and neither workspace sees the other's inbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.db import session_scope
from app.models import Conversation
from app.services import widgets
from tests.e2e.conftest import shot
from tests.e2e.helpers import PASSWORD, assert_no_serious_axe_violations, sign_up
from tests.e2e.loader_fixtures import Origin
from tests.support.embed_world import seed, wait_ready

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect

OWNER = "owner-handoff@acme-coffee.io"


def _host(path: str) -> tuple[str, str] | None:
    if path != "/":
        return None
    return "text/html", (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Host</title></head><body><h1>Acme Coffee</h1>"
        '<script src="{{APP}}/embed/widget.js" data-widget-id="{{WIDGET}}" async></script>'
        "</body></html>"
    )


@pytest.fixture(scope="module")
def world(app_server: Any) -> Iterator[SimpleNamespace]:
    origins: dict[str, str] = {"APP": app_server.base_url}
    host = Origin(_host, origins)
    seeded = seed(app_server.data_dir, [f"127.0.0.1:{host.url.rsplit(':', 1)[1]}"], email=OWNER)
    origins["WIDGET"] = seeded.widget_id
    with session_scope(seeded.engine) as s:
        widgets.update_widget(
            s, seeded.tenant_id, seeded.widget_id, escalation={"button": "always"}
        )
    wait_ready(seeded)
    yield SimpleNamespace(
        app=app_server.base_url,
        host=host.url,
        seeded=seeded,
        origins=origins,
        data_dir=app_server.data_dir,
        secret_key=app_server.secret_key,
    )
    host.close()
    seeded.engine.dispose()


def _server_settings(world: SimpleNamespace):  # type: ignore[no-untyped-def]
    from app.settings import Settings

    return Settings(data_dir=world.data_dir, secret_key=world.secret_key)


def _log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)


def _open_chat(page: Any, url: str) -> Any:
    page.goto(url)
    bubble = page.locator("chatconnect-widget").locator("button.bubble")
    expect(bubble).to_be_visible()
    if bubble.get_attribute("aria-expanded") != "true":
        bubble.click()
    frame = page.frame_locator("chatconnect-widget iframe")
    expect(frame.locator("#cc-input")).to_be_editable(timeout=60_000)
    return frame


def test_visitor_reaches_a_person_and_back_to_the_bot(world: SimpleNamespace, browser: Any) -> None:
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    visitor_ctx = browser.new_context(viewport={"width": 375, "height": 720})
    staff_ctx.set_default_timeout(30_000)
    visitor_ctx.set_default_timeout(30_000)
    try:
        staff = staff_ctx.new_page()
        _log_in(staff, world.app, OWNER)
        staff.goto(f"{world.app}/inbox")
        expect(staff.locator("#inbox-empty")).to_be_visible()

        visitor = visitor_ctx.new_page()
        frame = _open_chat(visitor, world.host + "/")
        frame.locator("#cc-person").click()
        expect(frame.locator("#cc-handoff-line")).to_contain_text(
            "A person will reply here, usually within 5 minutes"
        )

        # The staff tab learns about it over its websocket: no reload.
        row = staff.locator(".inbox-row")
        expect(row).to_have_count(1)
        expect(staff.locator("#inbox-badge")).to_have_text("1")  # unread
        row.click()
        expect(staff.locator("#inbox-visitor-page")).to_contain_text(world.host)
        # Opened, so read: the badge goes although the conversation still waits.
        expect(staff.locator("#inbox-badge")).to_have_count(0)
        staff.locator("#inbox-take-over").click()
        expect(staff.locator("#inbox-hand-back")).to_be_visible()

        staff.locator("#inbox-reply").fill("Hello, I'm here to help")
        expect(frame.locator("#cc-staff-typing")).to_contain_text("is typing")
        staff.locator("#inbox-send").click()
        reply = frame.locator(".cc-staff")
        expect(reply).to_contain_text("Hello, I'm here to help")
        expect(reply.locator(".cc-staff-name")).to_have_text("owner-handoff")
        expect(frame.locator("#cc-subtitle")).to_contain_text("Chatting with owner-handoff")
        expect(frame.locator("#cc-staff-typing")).to_have_count(0)

        # The visitor writes while a person is in charge: stored, in the inbox, no bot answer.
        frame.locator("#cc-input").fill("Thanks! My order is 1234")
        frame.locator("#cc-input").press("Enter")
        expect(staff.locator(".thread-user").last).to_contain_text("My order is 1234")
        expect(frame.locator(".cc-answer")).to_have_count(0)
        staff.locator("#inbox-note").fill("VIP customer, internal only")
        staff.locator("#inbox-add-note").click()
        expect(staff.locator(".inbox-note")).to_contain_text("VIP customer")
        shot(visitor, "handoff-visitor-phone")
        shot(staff, "handoff-inbox")
        for scheme in ("light", "dark"):
            staff.emulate_media(color_scheme=scheme)
            assert_no_serious_axe_violations(staff, f"handoff-inbox-{scheme}")
            inner = next(f for f in visitor.frames if "/embed/" in f.url)
            assert_no_serious_axe_violations(inner, f"handoff-widget-{scheme}")
        staff.emulate_media(color_scheme="light")

        visitor.reload()
        frame = (
            _open_chat(visitor, world.host + "/")
            if False
            else visitor.frame_locator("chatconnect-widget iframe")
        )
        bubble = visitor.locator("chatconnect-widget").locator("button.bubble")
        if bubble.get_attribute("aria-expanded") != "true":
            bubble.click()
        expect(frame.locator(".cc-staff")).to_contain_text("Hello, I'm here to help")
        expect(frame.locator(".cc-q")).to_have_count(1)
        expect(frame.get_by_text("VIP customer")).to_have_count(0)

        staff.locator("#inbox-hand-back").click()
        expect(staff.locator("#inbox-take-over")).to_be_visible()
        frame.locator("#cc-input").fill("What water temperature should I brew with?")
        frame.locator("#cc-input").press("Enter")
        expect(frame.locator(".cc-answer").last).to_contain_text(
            "92 and 96 degrees", timeout=60_000
        )
    finally:
        staff_ctx.close()
        visitor_ctx.close()


def test_nobody_online_offers_the_lead_form_and_tenants_stay_apart(
    world: SimpleNamespace, browser: Any
) -> None:
    other_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    visitor_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    other_ctx.set_default_timeout(30_000)
    visitor_ctx.set_default_timeout(30_000)
    try:
        # A second workspace: its own (empty) inbox, and A's conversation is a 404 to it.
        other = other_ctx.new_page()
        sign_up(other, world.app, "owner@beta-handoff.io", "Beta Handoff")
        with session_scope(world.seeded.engine) as s:
            conv = (
                s.query(Conversation)
                .filter(Conversation.widget_id == world.seeded.widget_id)
                .first()
            )
            assert conv is not None
            foreign_id = conv.id
        other.goto(f"{world.app}/inbox?c={foreign_id}")
        expect(other.locator("#inbox-empty")).to_be_visible()
        expect(other.locator("#inbox-conversation")).to_have_count(0)
        expect(other.get_by_text("owner-handoff")).to_have_count(0)
        other.locator("#inbox-view-resolved").click()
        expect(other.locator("#inbox-empty")).to_be_visible()
        other.locator("#inbox-view-open").click()
        expect(other.locator("#inbox-empty")).to_be_visible()
        other.goto(f"{world.app}/leads")
        expect(other.locator(".lead-row")).to_have_count(0)

        # Workspace A with nobody online (the staff tab of the first test is closed and
        # marked away): the widget offers the lead form instead.
        with session_scope(world.seeded.engine) as s:
            from app.models import StaffPresence

            for row in s.query(StaffPresence).all():
                s.delete(row)
        visitor = visitor_ctx.new_page()
        frame = _open_chat(visitor, world.host + "/")
        frame.locator("#cc-person").click()
        expect(frame.locator("#cc-handoff-line")).to_contain_text("Nobody is available")
        frame.locator("#cc-lead-email").fill("ann@localhost")
        frame.locator("#cc-lead-consent").click()
        frame.locator("#cc-lead-send").click()
        expect(frame.get_by_role("alert")).to_contain_text("email")
        frame.locator("#cc-lead-name").fill("Ann")
        frame.locator("#cc-lead-email").fill("ann@example.org")
        frame.locator("#cc-lead-message").fill("=1+1 call me back")
        frame.locator("#cc-lead-send").click()
        expect(frame.locator("#cc-handoff-line")).to_contain_text("We have your details")
        shot(visitor, "handoff-lead-sent")

        # The lead is A's: B does not see it.
        other.goto(f"{world.app}/leads")
        expect(other.locator("#leads-search")).to_be_visible()
        expect(other.locator(".lead-row")).to_have_count(0)
        owner_ctx = browser.new_context(viewport={"width": 375, "height": 800})
        try:
            owner = owner_ctx.new_page()
            _log_in(owner, world.app, OWNER)
            owner.goto(f"{world.app}/leads")
            expect(owner.locator(".lead-email")).to_have_text(["ann@example.org"])
            shot(owner, "handoff-leads-phone")
            with owner.expect_download() as download:
                owner.locator("#leads-export").click()
            csv_text = Path(download.value.path()).read_text()
            assert "ann@example.org" in csv_text and "'=1+1 call me back" in csv_text
            for path in ("/leads", "/inbox"):
                owner.goto(world.app + path)
                expect(owner.locator("h1")).to_have_count(1)
                for scheme in ("light", "dark"):
                    owner.emulate_media(color_scheme=scheme)
                    assert_no_serious_axe_violations(
                        owner, f"handoff{path.replace('/', '-')}-{scheme}"
                    )
                    wide = owner.evaluate(
                        "[...document.querySelectorAll('#main *')].filter(e => "
                        "e.getClientRects().length && "
                        "e.getBoundingClientRect().right > window.innerWidth + 1).length"
                    )
                    shot(owner, f"handoff{path.replace('/', '-')}-phone-{scheme}")
                    assert wide == 0, f"{path}: {wide} elements past the right edge at 375 px"
            owner.emulate_media(color_scheme="light")

            # Handoff analytics: two handoffs this month, one lead, one first human reply.
            owner.goto(f"{world.app}/analytics")
            expect(owner.locator("#kpi-handoff_rate")).to_have_text("100.0%")
            expect(owner.locator("#kpi-leads")).to_have_text("1")
            expect(owner.locator("#kpi-first_response_median")).to_have_text(
                re.compile(r"^\d+ s$|^\d+\.\d min$")
            )
            expect(owner.locator("#chart-leads")).to_be_visible()

            # Owner's settings: opening hours, and the widget's handoff rules.
            owner.goto(f"{world.app}/settings")
            owner.locator("#hours-timezone").fill("Europe/Paris")
            owner.locator("#hours-open-mon").fill("09:00")
            owner.locator("#hours-close-mon").fill("17:00")
            owner.locator("#hours-save").click()
            expect(owner.get_by_text("Opening hours saved.")).to_be_visible()
            owner.goto(f"{world.app}/widgets/{world.seeded.widget_id}")
            expect(owner.locator("#handoff-minutes")).to_have_value("5")
            owner.locator("#handoff-minutes").fill("3")
            owner.locator("#handoff-save").click()
            expect(owner.get_by_text("Handoff settings saved.")).to_be_visible()
            with session_scope(world.seeded.engine) as s:
                from app.models import Tenant, Widget

                tenant = s.get(Tenant, world.seeded.tenant_id)
                widget = s.get(Widget, world.seeded.widget_id)
                assert tenant is not None and widget is not None
                assert tenant.opening_hours == {
                    "timezone": "Europe/Paris",
                    "days": {"mon": ["09:00", "17:00"]},
                }
                assert widget.escalation["reply_minutes"] == 3
                assert widget.escalation["button"] == "always"

            # Webhooks: the SSRF rule in the form (this server allows private networks for
            # its loopback test sites, but a metadata address stays refused), then an
            # endpoint's test event and its delivery log (nothing listens on port 9, so the
            # attempt fails and is logged; signed deliveries to a receiver:
            # tests/integration/test_webhooks.py).
            owner.goto(f"{world.app}/settings?tab=webhooks")
            owner.locator("#webhook-url").fill("http://169.254.169.254/hook")
            owner.locator("#webhook-add").click()
            expect(owner.locator("#webhook-error")).to_contain_text("metadata")
            for scheme in ("light", "dark"):
                owner.emulate_media(color_scheme=scheme)
                assert_no_serious_axe_violations(owner, f"handoff-webhooks-{scheme}")
            owner.emulate_media(color_scheme="light")
            with session_scope(world.seeded.engine) as s:
                from app.models import WebhookEndpoint
                from app.security import encrypt_secret

                s.add(
                    WebhookEndpoint(
                        tenant_id=world.seeded.tenant_id,
                        url="http://127.0.0.1:9/hook",
                        events=["lead.created"],
                        secret_encrypted=encrypt_secret("whsec_x", _server_settings(world)),
                    )
                )
            owner.reload()
            owner.locator(".webhook-test").click()
            expect(owner.get_by_text("Test event queued")).to_be_visible()
            owner.get_by_role("button", name="Refresh log").click()
            expect(owner.locator(".webhook-delivery").first).to_contain_text("webhook.test")
            shot(owner, "handoff-webhooks-phone")
        finally:
            owner_ctx.close()
    finally:
        other_ctx.close()
        visitor_ctx.close()
