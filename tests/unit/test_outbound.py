"""The outbound-HTTP helper: every SSRF case refused before any connection, limits enforced."""

from __future__ import annotations

import httpcore
import pytest
from httpcore._backends.sync import SyncBackend

from app.services.outbound import (
    BlockedURLError,
    FetchTimeoutError,
    OutboundClient,
    OutboundPolicy,
    TooLargeError,
    TooManyRedirectsError,
    check_url,
    system_resolver,
)
from tests.support.http_site import HttpSite, html, redirect

PUBLIC_IP = "93.184.215.14"  # stands for "some host on the internet" (routed to loopback)


def _client(allow_private: bool = False, resolver=system_resolver, **kw) -> OutboundClient:
    return OutboundClient(OutboundPolicy(allow_private=allow_private, **kw), resolver=resolver)


@pytest.fixture
def site():
    with HttpSite({"/": html("<p>home</p>"), "/secret": html("<p>secret</p>")}) as s:
        yield s


@pytest.fixture
def internet(monkeypatch, site):
    """Route connections to PUBLIC_IP to the loopback site: a public host we control."""
    real = SyncBackend.connect_tcp

    def connect(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == PUBLIC_IP:
            return real(self, "127.0.0.1", site.port, *args, **kwargs)
        return real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(SyncBackend, "connect_tcp", connect)
    return site


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "javascript:alert(1)"],
)
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(BlockedURLError, match="http"):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["http://user:pw@example.com/", "https://user@example.com/", "http://:pw@example.com/"]
)
def test_credentials_in_urls_refused(url: str) -> None:
    with pytest.raises(BlockedURLError, match="password"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:{port}/", "loopback"),
        ("http://localhost:{port}/", "loopback"),
        ("http://[::1]:{port}/", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/", "loopback"),
        ("http://2130706433:{port}/", "loopback"),  # 127.0.0.1 as a decimal number
        ("http://10.1.2.3/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.10.1/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0:{port}/", "unspecified"),
        ("http://100.64.0.1/", "reserved"),
        ("http://240.0.0.1/", "reserved"),
    ],
)
def test_refused_addresses_never_dialled(site: HttpSite, url: str, why: str) -> None:
    with _client() as client, pytest.raises(BlockedURLError, match=why):
        client.get(url.format(port=site.port))
    assert client.connects == []
    assert site.connections == 0


def test_hostname_resolving_to_loopback_refused(site: HttpSite) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "docs.evil.test" else []

    with _client(resolver=resolver) as client, pytest.raises(BlockedURLError, match="loopback"):
        client.get(f"http://docs.evil.test:{site.port}/")
    assert client.connects == [] and site.connections == 0


def test_any_private_address_among_several_refuses_the_host(site: HttpSite) -> None:
    with (
        _client(resolver=lambda h, p: [PUBLIC_IP, "10.0.0.7"]) as client,
        pytest.raises(BlockedURLError, match="private"),
    ):
        client.get("http://mixed.test/")
    assert client.connects == []


def test_metadata_refused_even_when_private_networks_allowed(site: HttpSite) -> None:
    with (
        _client(allow_private=True) as client,
        pytest.raises(BlockedURLError, match="metadata"),
    ):
        client.get("http://169.254.169.254/latest/meta-data/")
    assert client.connects == []


def test_redirect_from_allowed_host_to_loopback_refused(internet: HttpSite) -> None:
    internet.routes["/go"] = redirect(f"http://127.0.0.1:{internet.port}/secret")
    internet.routes["/go-name"] = redirect("http://intranet.test/secret")
    names = {"allowed.test": [PUBLIC_IP], "intranet.test": ["10.0.0.5"]}
    with _client(resolver=lambda h, p: names.get(h, [])) as client:
        with pytest.raises(BlockedURLError, match="loopback"):
            client.get("http://allowed.test/go")
        with pytest.raises(BlockedURLError, match="private"):
            client.get("http://allowed.test/go-name")
    assert internet.hits("/go") == 1 and internet.hits("/go-name") == 1
    assert internet.hits("/secret") == 0
    assert {ip for ip, _ in client.connects} == {PUBLIC_IP}


def test_dns_rebinding_refused_at_connect_time(internet: HttpSite) -> None:
    """The name is public when checked and loopback when connecting: never dialled."""
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])

    def resolver(host: str, port: int) -> list[str]:
        return next(answers)

    with _client(resolver=resolver) as client, pytest.raises(BlockedURLError, match="loopback"):
        client.get(f"http://rebind.test:{internet.port}/secret")
    assert client.connects == [] and internet.connections == 0


def test_connects_to_the_vetted_address_keeping_the_host_header(internet: HttpSite) -> None:
    with _client(resolver=lambda h, p: [PUBLIC_IP]) as client:
        result = client.get("http://docs.example.test/")
    assert result.status == 200 and b"home" in result.content
    assert client.connects == [(PUBLIC_IP, 80)]
    assert internet.requests[-1][1]["host"] == "docs.example.test"
    assert internet.requests[-1][1]["user-agent"].startswith("ChatConnectBot/")


def test_private_networks_setting_allows_loopback(site: HttpSite) -> None:
    with _client(allow_private=True) as client:
        result = client.get(f"{site.base}/")
    assert result.status == 200 and result.content == b"<p>home</p>"


def test_redirect_limit_loop_size_and_time(site: HttpSite) -> None:
    for i in range(8):
        site.routes[f"/r{i}"] = redirect(f"/r{i + 1}")
    site.routes["/r8"] = html("<p>end</p>")
    site.routes["/loop-a"] = redirect("/loop-b")
    site.routes["/loop-b"] = redirect("/loop-a")
    site.routes["/big"] = html("x" * 3_000_000)
    site.routes["/slow"] = (-1, {}, b"y" * 400)
    with _client(allow_private=True, max_redirects=5, max_bytes=1_000_000) as client:
        with pytest.raises(TooManyRedirectsError):
            client.get(f"{site.base}/r0")
        ok = client.get(f"{site.base}/r4")
        assert ok.content == b"<p>end</p>" and len(ok.redirects) == 4
        with pytest.raises(TooManyRedirectsError, match="loop"):
            client.get(f"{site.base}/loop-a")
        with pytest.raises(TooLargeError):
            client.get(f"{site.base}/big")
    with (
        _client(allow_private=True, total_timeout_s=0.5, read_timeout_s=0.5) as client,
        pytest.raises(FetchTimeoutError),
    ):
        client.get(f"{site.base}/slow")


def test_guarded_backend_is_the_transport_backend() -> None:
    with _client() as client:
        assert isinstance(client.transport._pool, httpcore.ConnectionPool)
        assert client.transport._pool._network_backend is client.transport.backend


def test_post_is_guarded_not_redirected_and_cuts_a_long_reply(site: HttpSite) -> None:
    """Webhook deliveries: the same address rules, one request (a redirect is the answer),
    and a long reply cut at the cap instead of failing the delivery."""
    site.routes["/hook"] = html("x" * 5000)
    site.routes["/moved"] = redirect("/hook")
    with _client() as client, pytest.raises(BlockedURLError, match="loopback"):
        client.post(f"{site.base}/hook", b"{}")
    assert site.connections == 0
    with _client(allow_private=True, max_bytes=1000) as client:
        answer = client.post(f"{site.base}/hook", b'{"a": 1}')
        moved = client.post(f"{site.base}/moved", b"{}")
    assert (answer.status, len(answer.content)) == (200, 1000)
    assert site.posts == [("/hook", b'{"a": 1}'), ("/moved", b"{}")]
    assert moved.status == 302 and site.hits("/hook") == 1
