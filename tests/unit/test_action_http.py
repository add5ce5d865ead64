"""An owner's HTTP action against a local server: arguments encoded into the path and query
only, JSON bodies for writes, secret headers sent but never returned, the response cut to
a size cap and delivered as data, timeouts and refused addresses as error results."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.models import WidgetAction
from app.security import encrypt_secret
from app.services.action_http import MAX_RESULT_CHARS, build_url, run_http_action
from app.settings import reset_settings_cache
from tests.support.fake_shops import FakeShops
from tests.support.loopback_server import LoopbackServer

SECRET = "Bearer hook-secret-5521"


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[str, FakeShops]]:
    shops = FakeShops()
    with LoopbackServer(shops.app()) as srv:
        yield srv.url, shops


@pytest.fixture
def hooks(shop: tuple[str, FakeShops], monkeypatch: pytest.MonkeyPatch) -> tuple[str, FakeShops]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")
    reset_settings_cache()
    url, shops = shop
    shops.hook_calls, shops.hook_delay_s = [], 0.0
    shops.hook_response = {"status": "shipped"}
    return url, shops


def action(url_template: str, method: str = "GET", timeout_s: float = 5.0) -> WidgetAction:
    return WidgetAction(
        tenant_id="t",
        widget_id="w",
        name="hook",
        method=method,
        url_template=url_template,
        header_names=["Authorization"],
        headers_encrypted=encrypt_secret(json.dumps({"Authorization": SECRET})),
        timeout_s=timeout_s,
    )


def test_arguments_cannot_leave_the_path_segment_or_the_host() -> None:
    url = build_url("https://shop.test/o/{id}?q={q}", {"id": "../admin?x=1#", "q": "a&b=c"})
    assert url == "https://shop.test/o/..%2Fadmin%3Fx%3D1%23?q=a%26b%3Dc"
    assert build_url("https://shop.test/u/{id}", {"id": "@evil.test"}).startswith(
        "https://shop.test/u/%40evil"
    )
    with pytest.raises(ValueError, match="missing"):
        build_url("https://shop.test/o/{id}", {})


def test_get_sends_the_secret_header_and_returns_data(hooks: tuple[str, FakeShops]) -> None:
    url, shops = hooks
    out = run_http_action(action(url + "/hooks/orders/{id}"), {"id": "A 7"})
    assert not out.is_error and out.status == 200
    assert out.content.startswith("HTTP 200\n") and '"status":"shipped"' in out.content
    (call,) = shops.hook_calls
    assert call["raw_path"] == "/hooks/orders/A%207" and call["body"] is None
    assert call["headers"]["authorization"] == SECRET
    assert SECRET not in out.content


def test_post_sends_the_arguments_as_json(hooks: tuple[str, FakeShops]) -> None:
    url, shops = hooks
    out = run_http_action(action(url + "/hooks/tickets", "POST"), {"subject": "Hi", "n": 2})
    assert not out.is_error
    assert shops.hook_calls[0]["method"] == "POST"
    assert shops.hook_calls[0]["body"] == {"subject": "Hi", "n": 2}


def test_a_large_response_is_cut(hooks: tuple[str, FakeShops]) -> None:
    url, shops = hooks
    shops.hook_response = {"rows": ["x" * 1000] * 300}  # ~300 KB
    out = run_http_action(action(url + "/hooks/big"), {})
    assert out.content.endswith("… (cut)")
    assert len(out.content) <= MAX_RESULT_CHARS + 40


def test_a_slow_server_is_a_timeout_error(hooks: tuple[str, FakeShops]) -> None:
    url, shops = hooks
    shops.hook_delay_s = 3.0
    out = run_http_action(action(url + "/hooks/slow", timeout_s=1.0), {})
    assert out.is_error and "did not answer in time" in out.content


def test_private_and_metadata_addresses_are_refused(
    hooks: tuple[str, FakeShops], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, shops = hooks
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "0")
    reset_settings_cache()
    out = run_http_action(action(url + "/hooks/x"), {})
    assert out.is_error and "refused" in out.content and shops.hook_calls == []
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")
    reset_settings_cache()
    out = run_http_action(action("http://169.254.169.254/latest/meta-data"), {})
    assert out.is_error and "metadata" in out.content
