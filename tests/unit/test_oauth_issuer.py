"""Microsoft's multi-tenant discovery publishes a templated issuer; the token names its tenant."""

from __future__ import annotations

from app.services.oauth_providers import _expected_issuer, enabled_providers, redirect_uri
from app.settings import Settings


def test_templated_issuer_takes_the_tokens_tenant() -> None:
    doc = "https://login.microsoftonline.com/{tenantid}/v2.0"
    claims = {"tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}
    assert _expected_issuer(doc, claims) == (
        "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    )
    assert _expected_issuer("https://accounts.google.com", claims) == "https://accounts.google.com"
    # Without a tid the templated issuer matches nothing a real token carries.
    assert "{tenantid}" not in _expected_issuer(doc, {})


def test_providers_are_on_only_with_id_and_secret() -> None:
    s = Settings(
        google_client_id="g",
        microsoft_client_id="m",
        microsoft_client_secret="ms",
        github_client_secret="only-secret",
        public_url="https://chat.example.com",
    )
    assert list(enabled_providers(s)) == ["microsoft"]
    assert redirect_uri("microsoft", s) == (
        "https://chat.example.com/api/auth/oauth/microsoft/callback"
    )
    assert redirect_uri("sso:abc", s) == "https://chat.example.com/api/auth/oauth/sso/callback"
