"""Workspace SSO over OIDC against local providers: DNS-verified domains, JIT membership,
password login refused for SSO domains (owners keep break-glass), two workspaces apart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app import routes, security
from app.db import session_scope
from app.models import AuditEvent, Membership, Role, User, UserIdentity
from app.services import accounts, audit, oauth_providers, workspace_sso
from app.settings import reset_settings_cache
from tests.api.v1_world import client_for
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider

PASSWORD = "a-long-password"


@pytest.fixture
def idps() -> Iterator[tuple[Provider, Provider]]:
    oauth_providers.reset_caches()
    with running_provider() as a, running_provider() as b:
        yield a, b
    oauth_providers.reset_caches()


@pytest.fixture
async def http(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


def _workspace(engine: Engine, email: str, name: str) -> tuple[str, audit.Actor]:
    with session_scope(engine) as s:
        user, tenant = accounts.sign_up(s, email, PASSWORD, name)
        return tenant.id, audit.Actor.user(user.id, email)


def _setup_sso(
    engine: Engine, tenant: str, actor: audit.Actor, idp: Provider, domain: str, jit: bool
) -> None:
    with session_scope(engine) as s:
        workspace_sso.configure(
            s,
            tenant,
            Role.owner,
            actor,
            issuer=idp.base_url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            enabled=True,
            jit=jit,
        )
        row = workspace_sso.add_domain(s, tenant, Role.owner, domain, actor)
        row_id = row.id
        name, value = workspace_sso.txt_instructions(row)
    records = {name: [value]}
    workspace_sso.txt_resolver = lambda n: records.get(n, [])  # the DNS test hook
    with session_scope(engine) as s:
        workspace_sso.verify_domain(s, tenant, Role.owner, row_id, actor)


async def _sso(
    http: httpx.AsyncClient, idp: Provider, login_email: str, **claims
) -> httpx.Response:
    """Start with `login_email`; the provider answers with `claims` (the email by default)."""
    start = await http.get(f"{routes.OAUTH_PREFIX}/sso/start", params={"email": login_email})
    assert start.status_code == 303
    location = start.headers["location"]
    if not location.startswith(idp.base_url):
        return start
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["redirect_uri"].endswith("/api/auth/oauth/sso/callback")
    merged = {**idp.claims(query["nonce"], email=login_email), **claims}
    code = idp.issue_code(query["code_challenge"], query["redirect_uri"], merged)
    return await http.get(
        f"{routes.OAUTH_PREFIX}/sso/callback", params={"code": code, "state": query["state"]}
    )


async def test_sso_domains_jit_password_refusal_and_two_workspaces(
    http: httpx.AsyncClient, engine: Engine, idps: tuple[Provider, Provider], monkeypatch
) -> None:
    monkeypatch.setattr(workspace_sso, "txt_resolver", workspace_sso.txt_resolver)
    idp_a, idp_b = idps
    tenant_a, owner_a = _workspace(engine, "boss@acme-sso.io", "Acme")
    tenant_b, owner_b = _workspace(engine, "boss@beta-sso.io", "Beta")

    # A domain counts only once its TXT record is there.
    with session_scope(engine) as s:
        pending = workspace_sso.add_domain(s, tenant_a, Role.owner, "acme-sso.io", owner_a).id
        with pytest.raises(PermissionError):
            workspace_sso.add_domain(s, tenant_a, Role.admin, "x-sso.io", owner_a)
    workspace_sso.txt_resolver = lambda name: ["chatconnect-verify=wrong"]
    with pytest.raises(workspace_sso.SsoError, match="No TXT record"), session_scope(engine) as s:
        workspace_sso.verify_domain(s, tenant_a, Role.owner, pending, owner_a)
    with session_scope(engine) as s:
        workspace_sso.remove_domain(s, tenant_a, Role.owner, pending, owner_a)
    _setup_sso(engine, tenant_a, owner_a, idp_a, "acme-sso.io", jit=True)
    _setup_sso(engine, tenant_b, owner_b, idp_b, "beta-sso.io", jit=False)
    # B cannot take A's verified domain.
    with session_scope(engine) as s:
        claim = workspace_sso.add_domain(s, tenant_b, Role.owner, "acme-sso.io", owner_b)
        _name, value = workspace_sso.txt_instructions(claim)
        claim_id = claim.id
    workspace_sso.txt_resolver = lambda n: [value]
    with (
        pytest.raises(workspace_sso.SsoError, match="Another workspace"),
        session_scope(engine) as s,
    ):
        workspace_sso.verify_domain(s, tenant_b, Role.owner, claim_id, owner_b)
    with session_scope(engine) as s:
        workspace_sso.remove_domain(s, tenant_b, Role.owner, claim_id, owner_b)

    # First SSO sign-in: JIT membership in A with the default role, session in A.
    response = await _sso(http, idp_a, "pat@acme-sso.io", sub="pat", name="Pat")
    assert response.headers["location"] == routes.OVERVIEW, response.headers
    with session_scope(engine) as s:
        ident = accounts.identity_for_token(s, response.cookies[routes.SESSION_COOKIE])
        assert (ident.email, ident.tenant_id, ident.role) == ("pat@acme-sso.io", tenant_a, "member")
        pat = s.exec(select(User).where(User.email == "pat@acme-sso.io")).one()
        assert pat.password_hash == security.NO_PASSWORD

    # beta-sso.io goes to B's provider, and B has no JIT: a newcomer is refused.
    start = await http.get(f"{routes.OAUTH_PREFIX}/sso/start", params={"email": "new@beta-sso.io"})
    assert start.headers["location"].startswith(idp_b.base_url)
    refused = await _sso(http, idp_b, "new@beta-sso.io", sub="new")
    assert refused.headers["location"] == f"{routes.LOGIN}?error=not_a_member"
    # A's provider cannot sign in an address of B's domain.
    wrong = await _sso(http, idp_a, "pat@acme-sso.io", sub="x", email="boss@beta-sso.io")
    assert wrong.headers["location"] == f"{routes.LOGIN}?error=domain_not_covered"
    # An address without SSO.
    none = await http.get(f"{routes.OAUTH_PREFIX}/sso/start", params={"email": "a@nowhere-sso.io"})
    assert none.headers["location"] == f"{routes.LOGIN}?error=no_sso"

    # Password login: refused for SSO-domain members, owners keep a break-glass login.
    with session_scope(engine) as s:
        member = User(email="mia@acme-sso.io", password_hash=security.hash_password(PASSWORD))
        s.add(member)
        s.flush()
        s.add(Membership(user_id=member.id, tenant_id=tenant_a, role=Role.admin))
    with pytest.raises(accounts.AccountError, match="single sign-on"), session_scope(engine) as s:
        accounts.authenticate(s, "mia@acme-sso.io", PASSWORD)
    with session_scope(engine) as s:
        assert accounts.authenticate(s, "boss@acme-sso.io", PASSWORD).email == "boss@acme-sso.io"

    # Social sign-in with a verified address of an SSO domain is refused too (nothing kept).
    monkeypatch.setenv("GOOGLE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("GOOGLE_ISSUER", idp_b.base_url)
    reset_settings_cache()
    start = await http.get(f"{routes.OAUTH_PREFIX}/google/start")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    claims = idp_b.claims(query["nonce"], sub="g-mia", email="mia@acme-sso.io")
    code = idp_b.issue_code(query["code_challenge"], query["redirect_uri"], claims)
    social = await http.get(
        f"{routes.OAUTH_PREFIX}/google/callback", params={"code": code, "state": query["state"]}
    )
    assert social.headers["location"] == f"{routes.LOGIN}?error=use_sso"
    with session_scope(engine) as s:
        assert s.exec(select(UserIdentity).where(UserIdentity.subject == "g-mia")).all() == []

    # The client secret never reaches the audit log.
    with session_scope(engine) as s:
        configured = s.exec(select(AuditEvent).where(AuditEvent.action == "sso.configured")).all()
        assert len(configured) == 2
        dumped = json.dumps([e.diff for e in configured])
        assert CLIENT_SECRET not in dumped and '"client_secret"' in dumped
    reset_settings_cache()
