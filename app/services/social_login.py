"""Social sign-in: the redirect's state, and which account a provider's profile opens.

- Provider "sso" is a workspace's own OpenID Connect provider, picked by the email's
  verified domain (app.services.workspace_sso); its sign-ins open that workspace.
- `begin` stores a state row (hash of `state`, hash of the browser cookie, nonce, the
  encrypted PKCE verifier, 10 minutes) and returns the provider URL plus the cookie value.
- `finish` consumes the row exactly once (a conditional delete: a replayed or forged state
  finds nothing), checks that the same browser started it, lets the provider module verify
  the code and ID token, then picks the account:
  1. a linked identity (provider + subject) opens its account;
  2. otherwise only a verified email links to the existing account with that address;
  3. otherwise a new account and workspace are created, like sign-up.
  An unverified email never opens, links or creates anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import security
from app.db import TenantScope
from app.models import Membership, OAuthState, Role, Tenant, User, UserIdentity, utcnow
from app.services import accounts, audit, workspace_sso
from app.services.oauth_providers import (
    OAuthError,
    Profile,
    Provider,
    enabled_providers,
    fetch_profile,
)

STATE_TTL = timedelta(minutes=10)
NO_PASSWORD = security.NO_PASSWORD


@dataclass(frozen=True, slots=True)
class Started:
    url: str
    browser_token: str  # the cookie's value


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    tenant_id: str | None = None  # SSO: the workspace the session opens in


def _provider(session: Session, name: str) -> Provider:
    provider = (
        workspace_sso.provider_by_name(session, name)
        if name.startswith(workspace_sso.PROVIDER_PREFIX)
        else enabled_providers().get(name)
    )
    if provider is None:
        raise OAuthError("unknown_provider")
    return provider


def begin(session: Session, provider_name: str, email: str = "") -> Started:
    """Start a sign-in; provider "sso" finds the workspace from the email's domain."""
    from app.services.oauth_providers import authorization_url

    if provider_name == "sso":
        try:
            clean = accounts.normalize_email(email)
        except accounts.AccountError as exc:
            raise OAuthError("no_sso") from exc
        target = workspace_sso.target_for_email(session, clean)
        if target is None:
            raise OAuthError("no_sso")
        provider = workspace_sso.provider_for(target.config)
    else:
        provider = _provider(session, provider_name)
    state, nonce, browser = security.new_token(), security.new_token(), security.new_token()
    verifier = security.new_token(48)
    session.exec(  # type: ignore[call-overload]
        delete(OAuthState).where(col(OAuthState.expires_at) < utcnow())
    )
    session.add(
        OAuthState(
            id=security.keyed_hash(state, "oauth-state"),
            browser_hash=security.keyed_hash(browser, "oauth-browser"),
            provider=provider.name,
            nonce=nonce,
            verifier_encrypted=security.encrypt_secret(verifier),
            expires_at=utcnow() + STATE_TTL,
        )
    )
    return Started(authorization_url(provider, state, nonce, verifier), browser)


def _consume(session: Session, state: str, browser: str, route: str) -> OAuthState:
    if not state or len(state) > 200 or not browser or len(browser) > 200:
        raise OAuthError("wrong_state")
    row = session.get(OAuthState, security.keyed_hash(state, "oauth-state"))
    if row is None:
        raise OAuthError("wrong_state")
    taken = session.exec(  # type: ignore[call-overload]
        delete(OAuthState).where(col(OAuthState.id) == row.id)
    )
    session.commit()  # used up now, whatever happens next
    if taken.rowcount != 1:
        raise OAuthError("wrong_state")
    if not security.hashes_equal(row.browser_hash, security.keyed_hash(browser, "oauth-browser")):
        raise OAuthError("wrong_state")
    is_sso = row.provider.startswith(workspace_sso.PROVIDER_PREFIX)
    if (route == "sso") != is_sso or (not is_sso and row.provider != route):
        raise OAuthError("wrong_state")
    if row.expires_at < utcnow():
        raise OAuthError("wrong_state")
    return row


def finish(
    session: Session,
    route: str,
    state: str,
    code: str,
    browser: str,
    ip: str = "",
    user_agent: str = "",
) -> SignedIn:
    """The account this sign-in opens (created if new); OAuthError for every refusal."""
    row = _consume(session, state, browser, route)
    provider = _provider(session, row.provider)
    if not code or len(code) > 2000:
        raise OAuthError("code_refused")
    profile = fetch_profile(
        provider, code, security.decrypt_secret(row.verifier_encrypted), row.nonce
    )
    if row.provider.startswith(workspace_sso.PROVIDER_PREFIX):
        tenant_id = row.provider.removeprefix(workspace_sso.PROVIDER_PREFIX)
        return SignedIn(_sso_account(session, tenant_id, profile, ip, user_agent), tenant_id)
    user = _account_for(session, profile, ip, user_agent)
    if workspace_sso.password_refused(session, user):
        # A company's SSO domain signs in through the company's provider only (owners
        # excepted, as for passwords); nothing linked or created above is kept.
        raise OAuthError("use_sso")
    return SignedIn(user)


def _sso_account(session: Session, tenant_id: str, profile: Profile, ip: str, agent: str) -> User:
    """SSO: the workspace's provider is the authority for its verified domains."""
    config = workspace_sso.get_config(session, tenant_id)
    if config is None or not config.enabled:
        raise OAuthError("unknown_provider")
    try:
        email = accounts.normalize_email(profile.email)
    except accounts.AccountError as exc:
        raise OAuthError("unverified_email") from exc
    target = workspace_sso.target_for_email(session, email)
    if target is None or target.tenant_id != tenant_id or profile.email_verified is False:
        raise OAuthError("domain_not_covered")
    TenantScope(session, tenant_id)  # an SSO sign-in into this one workspace
    linked = session.exec(
        select(UserIdentity).where(
            UserIdentity.provider == profile.provider, UserIdentity.subject == profile.subject
        )
    ).first()
    user = session.get(User, linked.user_id) if linked else None
    if user is None:
        user = session.exec(select(User).where(User.email == email)).first()
    member = (
        session.exec(
            TenantScope(session, tenant_id).select(Membership).where(Membership.user_id == user.id)
        ).first()
        if user
        else None
    )
    if member is None and not config.jit:
        raise OAuthError("not_a_member")
    if user is None:
        user = User(email=email, password_hash=NO_PASSWORD, name=profile.name[:120])
        session.add(user)
        session.flush()
    if member is None:
        member = Membership(user_id=user.id, tenant_id=tenant_id, role=config.default_role)
        session.add(member)
        session.flush()
        audit.record(
            session,
            tenant_id,
            audit.Actor.user(user.id, email, ip, agent),
            "member.joined",
            "membership",
            member.id,
            after={"email": email, "role": str(config.default_role), "via": "sso"},
        )
    if linked is None:
        session.add(
            UserIdentity(
                user_id=user.id, provider=profile.provider, subject=profile.subject, email=email
            )
        )
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        session.add(user)
    session.flush()
    return user


def _account_for(session: Session, profile: Profile, ip: str, agent: str) -> User:
    linked = session.exec(
        select(UserIdentity).where(
            UserIdentity.provider == profile.provider, UserIdentity.subject == profile.subject
        )
    ).first()
    if linked is not None:
        user = session.get(User, linked.user_id)
        if user is not None:
            return user
    if not profile.email_verified or not profile.email:
        raise OAuthError("unverified_email")
    try:
        email = accounts.normalize_email(profile.email)
    except accounts.AccountError as exc:
        raise OAuthError("unverified_email") from exc
    user = session.exec(select(User).where(User.email == email)).first()
    actor = audit.Actor.user("", email, ip, agent)
    if user is None:
        user = _create_account(session, email, profile, ip, agent)
    else:
        membership = accounts.find_primary_membership(session, user.id)
        audit.record(
            session,
            membership.tenant_id if membership else None,
            audit.Actor(actor.kind, user.id, email, ip, agent),
            "account.sign_in_method_linked",
            "user",
            user.id,
            after={"provider": profile.provider},
        )
    session.add(
        UserIdentity(
            user_id=user.id, provider=profile.provider, subject=profile.subject, email=email
        )
    )
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the provider vouches for the address
        session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent first sign-in of the same person
        raise OAuthError("try_again") from exc
    return user


def _create_account(session: Session, email: str, profile: Profile, ip: str, agent: str) -> User:
    name = (profile.name or email.split("@")[0])[:80]
    user = User(email=email, password_hash=NO_PASSWORD, name=name[:120])
    tenant = Tenant(name=f"{name}'s workspace"[:120])
    session.add(user)
    session.add(tenant)
    session.flush()
    TenantScope(session, tenant.id).add(Membership(user_id=user.id, role=Role.owner))
    audit.record(
        session,
        tenant.id,
        audit.Actor.user(user.id, email, ip, agent),
        "workspace.created",
        "workspace",
        tenant.id,
        after={"name": tenant.name, "owner": email, "via": profile.provider},
    )
    return user


def has_password(user: User) -> bool:
    return bool(user.password_hash) and user.password_hash != NO_PASSWORD
