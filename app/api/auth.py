"""HTTP routes that set and clear the session cookie (page JavaScript never sees it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app import routes
from app.db import session_scope
from app.services import accounts
from app.settings import get_settings

router = APIRouter(prefix="/api/auth", include_in_schema=False)


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF): the Origin (or Referer) must be ours."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    parts = urlsplit(source)
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {get_settings().public_origin, f"{request.url.scheme}://{request.url.netloc}"}
    return origin in allowed


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


@router.post("/complete")
def complete(request: Request, code: str = Form(default="", max_length=128)) -> RedirectResponse:
    if not _same_origin(request):
        return _redirect(routes.LOGIN)
    with session_scope() as session:
        result = accounts.complete_login(session, code)
    if result is None:
        return _redirect(routes.LOGIN)
    token, _session_row = result
    response = _redirect(routes.OVERVIEW)
    set_session_cookie(response, token)
    return response


def set_session_cookie(response: RedirectResponse, token: str) -> None:
    """The dashboard session: HttpOnly, SameSite=Lax, Secure with an https PUBLIC_URL."""
    settings = get_settings()
    response.set_cookie(
        routes.SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    if _same_origin(request):
        with session_scope() as session:
            accounts.revoke_token(session, request.cookies.get(routes.SESSION_COOKIE))
    response = _redirect(routes.LOGIN)
    response.delete_cookie(
        routes.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().cookie_secure,
    )
    return response
