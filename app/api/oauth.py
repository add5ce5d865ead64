"""Social sign-in over HTTP: /api/auth/oauth/<provider>/start and /callback.

`start` sets a short-lived HttpOnly cookie that binds the redirect to this browser and
sends it to the provider; `callback` checks it (single use), lets the services verify the
provider's answer, and sets the same session cookie as password login. Every refusal lands
on /login?error=<reason> and is audited.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from app import routes
from app.api.auth import _redirect, set_session_cookie
from app.db import session_scope
from app.services import accounts, audit, social_login
from app.services.oauth_providers import OAuthError
from app.settings import get_settings

router = APIRouter(prefix=routes.OAUTH_PREFIX, include_in_schema=False)
COOKIE_MAX_AGE_S = int(social_login.STATE_TTL.total_seconds())


def _cookie_args() -> dict:  # type: ignore[type-arg]
    return {
        "path": routes.OAUTH_PREFIX,
        "httponly": True,
        # Lax: the provider's redirect back is a top-level GET, which Lax cookies join.
        "samesite": "lax",
        "secure": get_settings().cookie_secure,
    }


def _refused(reason: str) -> RedirectResponse:
    response = _redirect(f"{routes.LOGIN}?error={quote(reason)}")
    response.delete_cookie(routes.OAUTH_COOKIE, **_cookie_args())
    return response


def _client(request: Request) -> tuple[str, str]:
    ip = request.client.host if request.client else ""
    return ip, request.headers.get("user-agent", "")[:300]


def _start(provider: str, email: str) -> social_login.Started:
    with session_scope() as session:
        return social_login.begin(session, provider, email)


@router.get("/{provider}/start")
async def start(provider: str, email: str = "") -> RedirectResponse:
    """Provider "sso" takes `email`: its domain picks the workspace's provider."""
    try:
        started = await run_in_threadpool(_start, provider[:32], email[:254])
    except OAuthError as exc:
        return _refused(exc.reason)
    response = RedirectResponse(started.url, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        routes.OAUTH_COOKIE, started.browser_token, max_age=COOKIE_MAX_AGE_S, **_cookie_args()
    )
    return response


def _finish(provider: str, state: str, code: str, browser: str, ip: str, agent: str) -> str:
    """The session token of the signed-in account (OAuthError when refused)."""
    with session_scope() as session:
        signed_in = social_login.finish(session, provider, state, code, browser, ip, agent)
        login_code = accounts.start_login(
            session,
            signed_in.user,
            ip=ip,
            user_agent=agent,
            tenant_id=signed_in.tenant_id,
            method=provider,
        )
        result = accounts.complete_login(session, login_code)
        if result is None:  # cannot happen within one transaction; refuse rather than guess
            raise OAuthError("try_again")
        return result[0]


def _audit_refusal(provider: str, reason: str, ip: str, agent: str) -> None:
    with session_scope() as session:
        audit.record(
            session,
            None,
            audit.Actor.anonymous(ip, agent),
            "auth.sign_in_failed",
            "provider",
            provider,
            after={"method": provider, "reason": reason},
        )


@router.get("/{provider}/callback")
async def callback(request: Request, provider: str) -> RedirectResponse:
    provider = provider[:32]
    params = request.query_params
    ip, agent = _client(request)
    browser = request.cookies.get(routes.OAUTH_COOKIE, "")
    try:
        if params.get("error"):
            raise OAuthError("provider_declined")
        token = await run_in_threadpool(
            _finish,
            provider,
            params.get("state", ""),
            params.get("code", ""),
            browser,
            ip,
            agent,
        )
    except OAuthError as exc:
        await run_in_threadpool(_audit_refusal, provider, exc.reason, ip, agent)
        return _refused(exc.reason)
    response = _redirect(routes.OVERVIEW)
    response.delete_cookie(routes.OAUTH_COOKIE, **_cookie_args())
    set_session_cookie(response, token)
    return response
