"""Social sign-in: the redirect's state, and which account a provider's profile opens.

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
from app.models import Membership, OAuthState, Role, Tenant, User, UserIdentity, utcnow
from app.services import accounts, audit
from app.services.oauth_providers import OAuthError, Profile, enabled_providers, fetch_profile

STATE_TTL = timedelta(minutes=10)
NO_PASSWORD = security.NO_PASSWORD


@dataclass(frozen=True, slots=True)
class Started:
    url: str
    browser_token: str  # the cookie's value


def begin(session: Session, provider_name: str) -> Started:
    from app.services.oauth_providers import authorization_url

    provider = enabled_providers().get(provider_name)
    if provider is None:
        raise OAuthError("unknown_provider")
    state, nonce, browser = security.new_token(), security.new_token(), security.new_token()
    verifier = security.new_token(48)
    session.exec(  # type: ignore[call-overload]
        delete(OAuthState).where(col(OAuthState.expires_at) < utcnow())
    )
    session.add(
        OAuthState(
            id=security.keyed_hash(state, "oauth-state"),
            browser_hash=security.keyed_hash(browser, "oauth-browser"),
            provider=provider_name,
            nonce=nonce,
            verifier_encrypted=security.encrypt_secret(verifier),
            expires_at=utcnow() + STATE_TTL,
        )
    )
    return Started(authorization_url(provider, state, nonce, verifier), browser)


def _consume(session: Session, state: str, browser: str, provider: str) -> OAuthState:
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
    if row.provider != provider or row.expires_at < utcnow():
        raise OAuthError("wrong_state")
    return row


def finish(
    session: Session,
    provider_name: str,
    state: str,
    code: str,
    browser: str,
    ip: str = "",
    user_agent: str = "",
) -> User:
    """The account this sign-in opens (created if new); OAuthError for every refusal."""
    provider = enabled_providers().get(provider_name)
    if provider is None:
        raise OAuthError("unknown_provider")
    row = _consume(session, state, browser, provider_name)
    if not code or len(code) > 2000:
        raise OAuthError("code_refused")
    profile = fetch_profile(
        provider, code, security.decrypt_secret(row.verifier_encrypted), row.nonce
    )
    return _account_for(session, profile, ip, user_agent)


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
    session.add(Membership(user_id=user.id, tenant_id=tenant.id, role=Role.owner))
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
