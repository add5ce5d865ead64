"""Social sign-in providers (Google, Microsoft: OpenID Connect; GitHub: OAuth2 + its API).

Each is on when its client id and secret are set. This module talks to the providers:
discovery, JWKS (cached, refetched once when a token names a key it does not hold: key
rotation), the token exchange (authlib's OAuth2 client, PKCE S256) and ID token checks
(joserfc: signature, then iss, aud/azp, exp/iat, nonce). It returns a verified `Profile`
or raises `OAuthError`; accounts are app.services.social_login's business.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app import routes
from app.settings import Settings, get_settings

HTTP_TIMEOUT_S = 10.0
DISCOVERY_TTL_S = 3600.0
CLOCK_LEEWAY_S = 60
ID_TOKEN_ALGS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
OIDC_SCOPE = "openid email profile"
GITHUB_SCOPE = "read:user user:email"


class OAuthError(Exception):
    """A refused sign-in; `reason` is a short slug for the login page and the audit log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    label: str
    kind: str  # oidc | github
    client_id: str
    client_secret: str
    issuer: str = ""  # oidc
    base_url: str = ""  # github: authorize + token
    api_url: str = ""  # github: /user, /user/emails

    @property
    def scope(self) -> str:
        return OIDC_SCOPE if self.kind == "oidc" else GITHUB_SCOPE


@dataclass(frozen=True, slots=True)
class Profile:
    provider: str
    subject: str
    email: str  # normalized later by the caller
    email_verified: bool
    name: str = ""


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def enabled_providers(settings: Settings | None = None) -> dict[str, Provider]:
    s = settings or get_settings()
    found: dict[str, Provider] = {}
    if s.google_client_id and _secret(s.google_client_secret):
        found["google"] = Provider(
            "google",
            "Google",
            "oidc",
            s.google_client_id,
            _secret(s.google_client_secret),
            issuer=s.google_issuer.rstrip("/"),
        )
    if s.microsoft_client_id and _secret(s.microsoft_client_secret):
        found["microsoft"] = Provider(
            "microsoft",
            "Microsoft",
            "oidc",
            s.microsoft_client_id,
            _secret(s.microsoft_client_secret),
            issuer=s.microsoft_issuer.rstrip("/"),
        )
    if s.github_client_id and _secret(s.github_client_secret):
        found["github"] = Provider(
            "github",
            "GitHub",
            "github",
            s.github_client_id,
            _secret(s.github_client_secret),
            base_url=s.github_url.rstrip("/"),
            api_url=s.github_api_url.rstrip("/"),
        )
    return found


def redirect_uri(provider: str, settings: Settings | None = None) -> str:
    # Every workspace's SSO shares one callback ("sso"); the state row knows the workspace.
    route = "sso" if provider.startswith("sso:") else provider
    return f"{(settings or get_settings()).public_url}{routes.OAUTH_PREFIX}/{route}/callback"


# ---- discovery and keys ----------------------------------------------------------------

_lock = threading.Lock()
_discovery: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, dict[str, Any]] = {}


def reset_caches() -> None:
    with _lock:
        _discovery.clear()
        _jwks.clear()


def _get_json(url: str, **kwargs: Any) -> Any:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False, **kwargs)
    except httpx.HTTPError as exc:
        raise OAuthError("provider_unreachable", f"{url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise OAuthError("provider_error", f"{url} answered {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise OAuthError("provider_error", f"{url} did not answer JSON") from exc


def discovery(provider: Provider) -> dict[str, Any]:
    with _lock:
        cached = _discovery.get(provider.issuer)
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        return cached[1]
    doc = _get_json(f"{provider.issuer}/.well-known/openid-configuration")
    needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    if not isinstance(doc, dict) or any(not isinstance(doc.get(k), str) for k in needed):
        raise OAuthError("provider_error", "incomplete discovery document")
    with _lock:
        _discovery[provider.issuer] = (time.monotonic(), doc)
    return doc


def _key_set(jwks_uri: str, refresh: bool = False) -> KeySet:
    with _lock:
        data = None if refresh else _jwks.get(jwks_uri)
    if data is None:
        data = _get_json(jwks_uri)
        with _lock:
            _jwks[jwks_uri] = data
    try:
        return KeySet.import_key_set(data)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OAuthError("provider_error", "unreadable JWKS") from exc


def _expected_issuer(doc_issuer: str, claims: dict[str, Any]) -> str:
    # Microsoft's multi-tenant endpoints publish "https://.../{tenantid}/v2.0".
    if "{tenantid}" in doc_issuer:
        return doc_issuer.replace("{tenantid}", str(claims.get("tid", "")))
    return doc_issuer


def verify_id_token(
    provider: Provider, id_token: str, nonce: str, now: float | None = None
) -> dict[str, Any]:
    """The ID token's claims once signature, issuer, audience, times and nonce check out."""
    doc = discovery(provider)
    try:
        try:
            token = jwt.decode(id_token, _key_set(doc["jwks_uri"]), algorithms=ID_TOKEN_ALGS)
        except JoseError as exc:
            if type(exc).__name__ != "InvalidKeyIdError":
                raise
            # A key we do not hold yet: the provider may have rotated. Fetch once more.
            token = jwt.decode(
                id_token, _key_set(doc["jwks_uri"], refresh=True), algorithms=ID_TOKEN_ALGS
            )
    except JoseError as exc:
        raise OAuthError("bad_signature", type(exc).__name__) from exc
    claims = dict(token.claims)
    now = time.time() if now is None else now
    if claims.get("iss") != _expected_issuer(doc["issuer"], claims):
        raise OAuthError("wrong_issuer")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if provider.client_id not in audiences:
        raise OAuthError("wrong_audience")
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise OAuthError("wrong_audience")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp < now - CLOCK_LEEWAY_S:
        raise OAuthError("expired_token")
    if isinstance(iat, int | float) and iat > now + CLOCK_LEEWAY_S:
        raise OAuthError("expired_token")
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise OAuthError("wrong_nonce")
    if not claims.get("sub"):
        raise OAuthError("provider_error", "no subject")
    return claims


# ---- the flow --------------------------------------------------------------------------


def _client(provider: Provider, settings: Settings | None = None) -> OAuth2Client:
    return OAuth2Client(
        provider.client_id,
        provider.client_secret,
        scope=provider.scope,
        redirect_uri=redirect_uri(provider.name, settings),
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_S,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
    )


def authorization_url(provider: Provider, state: str, nonce: str, verifier: str) -> str:
    if provider.kind == "oidc":
        endpoint = discovery(provider)["authorization_endpoint"]
        extra = {"nonce": nonce}
    else:
        endpoint = f"{provider.base_url}/login/oauth/authorize"
        extra = {}
    with _client(provider) as client:
        url, _ = client.create_authorization_url(
            endpoint, state=state, code_verifier=verifier, **extra
        )
    return url


def _exchange(provider: Provider, endpoint: str, code: str, verifier: str) -> dict[str, Any]:
    with _client(provider) as client:
        try:
            token = client.fetch_token(
                endpoint,
                code=code,
                code_verifier=verifier,
                headers={"Accept": "application/json"},
            )
        except Exception as exc:  # authlib raises OAuthError or httpx errors: all refusals
            raise OAuthError("code_refused", type(exc).__name__) from exc
    return dict(token)


def fetch_profile(provider: Provider, code: str, verifier: str, nonce: str) -> Profile:
    if provider.kind == "oidc":
        token = _exchange(provider, discovery(provider)["token_endpoint"], code, verifier)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OAuthError("provider_error", "no id_token")
        claims = verify_id_token(provider, id_token, nonce)
        verified = claims.get("email_verified") in (True, "true")
        return Profile(
            provider.name,
            str(claims["sub"]),
            str(claims.get("email") or ""),
            verified,
            str(claims.get("name") or ""),
        )
    token = _exchange(provider, f"{provider.base_url}/login/oauth/access_token", code, verifier)
    access = token.get("access_token")
    if not isinstance(access, str):
        raise OAuthError("code_refused", "no access_token")
    headers = {"Authorization": f"Bearer {access}", "Accept": "application/vnd.github+json"}
    user = _get_json(f"{provider.api_url}/user", headers=headers)
    emails = _get_json(f"{provider.api_url}/user/emails", headers=headers)
    if not isinstance(user, dict) or not user.get("id") or not isinstance(emails, list):
        raise OAuthError("provider_error", "unexpected GitHub answer")
    verified = [e for e in emails if isinstance(e, dict) and e.get("verified") is True]
    chosen = next((e for e in verified if e.get("primary")), verified[0] if verified else None)
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None)
    email = str((chosen or primary or {}).get("email") or "")
    return Profile(
        "github",
        str(user["id"]),
        email,
        chosen is not None,
        str(user.get("name") or user.get("login") or ""),
    )
