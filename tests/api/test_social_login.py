"""Social sign-in against a local OpenID Connect provider and a GitHub look-alike:
the happy paths, and every refusal the issue lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app import routes
from app.db import session_scope
from app.models import AuditEvent, Membership, User, UserIdentity
from app.services import accounts, oauth_providers
from app.settings import reset_settings_cache
from tests.api.v1_world import client_for
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider

START = f"{routes.OAUTH_PREFIX}/{{}}/start"
CALLBACK = f"{routes.OAUTH_PREFIX}/{{}}/callback"


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    with running_provider() as provider:
        for name in ("GOOGLE", "MICROSOFT", "GITHUB"):
            monkeypatch.setenv(f"{name}_CLIENT_ID", CLIENT_ID)
            monkeypatch.setenv(f"{name}_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("GOOGLE_ISSUER", provider.base_url)
        monkeypatch.setenv("MICROSOFT_ISSUER", provider.base_url)
        monkeypatch.setenv("GITHUB_URL", provider.base_url)
        monkeypatch.setenv("GITHUB_API_URL", provider.base_url)
        reset_settings_cache()
        oauth_providers.reset_caches()
        yield provider
        oauth_providers.reset_caches()


@pytest.fixture
async def http(engine: Engine, idp: Provider) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


async def _start(http: httpx.AsyncClient, provider: str = "google") -> dict[str, str]:
    response = await http.get(START.format(provider))
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "cc_oauth=" in cookie and "HttpOnly" in cookie and "Max-Age=600" in cookie
    assert "samesite=lax" in cookie.lower()
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
    return query


async def _callback(http: httpx.AsyncClient, code: str, state: str, provider: str = "google"):
    return await http.get(CALLBACK.format(provider), params={"code": code, "state": state})


def _refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 303
    assert response.headers["location"] == f"{routes.LOGIN}?error={reason}", response.headers
    assert routes.SESSION_COOKIE not in response.cookies


async def _sign_in(http: httpx.AsyncClient, idp: Provider, provider: str = "google", **claims):
    query = await _start(http, provider)
    merged = {**idp.claims(query["nonce"]), **claims}  # overrides may replace the nonce
    code = idp.issue_code(query["code_challenge"], query["redirect_uri"], merged)
    return query, code, await _callback(http, code, query["state"], provider)


async def test_first_sign_in_creates_account_then_signs_in_again(
    http: httpx.AsyncClient, idp: Provider, engine: Engine
) -> None:
    _, _, response = await _sign_in(http, idp)
    assert response.status_code == 303 and response.headers["location"] == routes.OVERVIEW
    set_cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith(f"{routes.SESSION_COOKIE}="))
    assert "HttpOnly" in session_cookie and "Path=/" in session_cookie
    token = response.cookies[routes.SESSION_COOKIE]
    with session_scope(engine) as s:
        ident = accounts.identity_for_token(s, token)
        assert ident is not None and ident.email == "person@example.com"
        assert ident.tenant_name == "Pat Person's workspace"
        user = s.exec(select(User).where(User.email == "person@example.com")).one()
        assert user.email_verified_at is not None
        links = s.exec(select(UserIdentity)).all()
        assert [(i.provider, i.subject) for i in links] == [("google", "subject-1")]
    # Again: the same account, no second workspace; the subject finds it even after an
    # email change at the provider.
    _, _, again = await _sign_in(http, idp, email="renamed@example.com")
    assert again.headers["location"] == routes.OVERVIEW
    with session_scope(engine) as s:
        assert len(s.exec(select(Membership)).all()) == 1
        methods = [
            e.diff["method"]["after"]
            for e in s.exec(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")).all()
        ]
        assert methods == ["google", "google"]


async def test_refusals_state_code_nonce_audience_issuer_expiry_key(
    http: httpx.AsyncClient, idp: Provider, engine: Engine
) -> None:
    # A forged state finds nothing.
    query = await _start(http)
    _refused(await _callback(http, "any-code", "forged-state"), "wrong_state")
    # A real state used from another browser (its own cookie, not ours) is refused, and
    # that attempt spends it: the browser that started it cannot use it afterwards either.
    query = await _start(http)
    code = idp.issue_code(
        query["code_challenge"], query["redirect_uri"], idp.claims(query["nonce"])
    )
    async with client_for() as other_browser:
        await _start(other_browser)
        _refused(await _callback(other_browser, code, query["state"]), "wrong_state")
    _refused(await _callback(http, code, query["state"]), "wrong_state")
    # Without the cookie at all: refused.
    query = await _start(http)
    http.cookies.clear()
    _refused(await _callback(http, code, query["state"]), "wrong_state")

    # A replayed code: the provider honours each code once.
    query = await _start(http)
    code = idp.issue_code(
        query["code_challenge"], query["redirect_uri"], idp.claims(query["nonce"])
    )
    first = await _callback(http, code, query["state"])
    assert first.headers["location"] == routes.OVERVIEW
    again = await _start(http)
    _refused(await _callback(http, code, again["state"]), "code_refused")

    cases = {
        "wrong_nonce": {"nonce": "not-the-nonce"},
        "wrong_audience": {"aud": "someone-else"},
        "wrong_issuer": {"iss": "https://evil.example"},
        "expired_token": {"exp": 1_000_000_000, "iat": 999_999_000},
    }
    for reason, claims in cases.items():
        _, _, response = await _sign_in(http, idp, **claims)
        _refused(response, reason)
    # Several audiences are fine only when the token names us as its authorized party.
    _, _, response = await _sign_in(http, idp, aud=[CLIENT_ID, "other"], azp="other")
    _refused(response, "wrong_audience")

    # Signed by a key the provider does not publish (even after a JWKS refetch).
    rogue = idp.new_key(publish=False)
    query = await _start(http)
    code = idp.issue_code(
        query["code_challenge"], query["redirect_uri"], idp.claims(query["nonce"]), key=rogue
    )
    _refused(await _callback(http, code, query["state"]), "bad_signature")
    # A rotated key the cached JWKS does not hold yet is fetched and accepted.
    rotated = idp.new_key(publish=True)
    query = await _start(http)
    code = idp.issue_code(
        query["code_challenge"], query["redirect_uri"], idp.claims(query["nonce"]), key=rotated
    )
    assert (await _callback(http, code, query["state"])).headers["location"] == routes.OVERVIEW

    with session_scope(engine) as s:
        refusals = s.exec(
            select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed")
        ).all()
        assert {e.diff["reason"]["after"] for e in refusals} == {
            "wrong_state",
            "code_refused",
            "wrong_nonce",
            "wrong_audience",
            "wrong_issuer",
            "expired_token",
            "bad_signature",
        }


async def test_unverified_email_cannot_take_over_and_verified_email_links(
    http: httpx.AsyncClient, idp: Provider, engine: Engine
) -> None:
    with session_scope(engine) as s:
        owner, _ = accounts.sign_up(s, "victim@example.com", "a-long-password", "Victim")
        owner_id = owner.id
    _, _, response = await _sign_in(
        http, idp, sub="attacker", email="victim@example.com", email_verified=False
    )
    _refused(response, "unverified_email")
    with session_scope(engine) as s:
        assert s.exec(select(UserIdentity)).all() == []
    # The provider vouches for the address: the sign-in method is linked to that account.
    _, _, response = await _sign_in(http, idp, sub="real-owner", email="Victim@Example.com")
    assert response.headers["location"] == routes.OVERVIEW
    with session_scope(engine) as s:
        link = s.exec(select(UserIdentity)).one()
        assert (link.user_id, link.provider) == (owner_id, "google")
        assert len(s.exec(select(User)).all()) == 1


async def test_github_uses_the_user_and_emails_api(
    http: httpx.AsyncClient, idp: Provider, engine: Engine
) -> None:
    idp.github_user = {"id": 4242, "login": "octo", "name": None}
    idp.github_emails = [
        {"email": "unverified@example.com", "primary": True, "verified": False},
        {"email": "octo@example.com", "primary": False, "verified": True},
    ]
    query = await _start(http, "github")
    assert query["scope"] == "read:user user:email" and "nonce" not in query
    code = idp.issue_code(query["code_challenge"], query["redirect_uri"], {})
    response = await _callback(http, code, query["state"], "github")
    assert response.headers["location"] == routes.OVERVIEW
    with session_scope(engine) as s:
        link = s.exec(select(UserIdentity)).one()
        assert (link.provider, link.subject, link.email) == ("github", "4242", "octo@example.com")
    # No verified address at all: refused.
    idp.github_user = {"id": 7, "login": "nomail"}
    idp.github_emails = [{"email": "x@example.com", "primary": True, "verified": False}]
    query = await _start(http, "github")
    code = idp.issue_code(query["code_challenge"], query["redirect_uri"], {})
    _refused(await _callback(http, code, query["state"], "github"), "unverified_email")
    # A disabled provider is refused up front.
    _refused(await http.get(START.format("gitlab")), "unknown_provider")
