"""A small OpenID Connect provider (and GitHub look-alike) on loopback, for the tests.

It speaks the real protocol shapes: discovery, JWKS, an authorization endpoint that
approves at once (for the browser), a token endpoint that checks the client secret, the
redirect URI and PKCE and honours each code once, and GitHub's /login/oauth/access_token,
/user and /user/emails. ID tokens are signed with joserfc; tests choose their claims.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-client-secret-value"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Grant:
    claims: dict[str, Any]
    challenge: str
    redirect_uri: str
    key: RSAKey
    used: bool = False


@dataclass
class Provider:
    base_url: str = ""
    keys: list[RSAKey] = field(default_factory=list)
    published: list[RSAKey] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)
    github_user: dict[str, Any] = field(default_factory=dict)
    github_emails: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    # What the browser flow's /authorize puts in the ID token.
    default_claims: dict[str, Any] = field(default_factory=dict)

    def new_key(self, publish: bool = True) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4)}, private=True)
        self.keys.append(key)
        if publish:
            self.published.append(key)
        return key

    def claims(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.base_url,
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "email": "person@example.com",
            "email_verified": True,
            "name": "Pat Person",
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def issue_code(
        self, challenge: str, redirect_uri: str, claims: dict[str, Any], key: RSAKey | None = None
    ) -> str:
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(claims, challenge, redirect_uri, key or self.published[0])
        return code


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _bearer_ok(self) -> bool:
            auth = self.headers.get("Authorization", "")
            return auth.startswith("Bearer ") and auth[7:] in provider.tokens

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            base = provider.base_url
            if url.path == "/.well-known/openid-configuration":
                self._json(
                    200,
                    {
                        "issuer": base,
                        "authorization_endpoint": f"{base}/authorize",
                        "token_endpoint": f"{base}/token",
                        "jwks_uri": f"{base}/jwks",
                        "response_types_supported": ["code"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    },
                )
            elif url.path == "/jwks":
                self._json(200, {"keys": [k.as_dict(private=False) for k in provider.published]})
            elif url.path in ("/authorize", "/login/oauth/authorize"):
                claims = provider.claims(query.get("nonce", ""), **provider.default_claims)
                code = provider.issue_code(
                    query.get("code_challenge", ""), query.get("redirect_uri", ""), claims
                )
                target = (
                    f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                )
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()
            elif url.path == "/user" and self._bearer_ok():
                self._json(200, provider.github_user)
            elif url.path == "/user/emails" and self._bearer_ok():
                self._json(200, provider.github_emails)
            else:
                self._json(404 if not url.path.startswith("/user") else 401, {"error": "nope"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            path = urlsplit(self.path).path
            if path not in ("/token", "/login/oauth/access_token"):
                self._json(404, {"error": "nope"})
                return
            grant = provider.grants.get(form.get("code", ""))
            if (
                form.get("client_id") != CLIENT_ID
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("grant_type") != "authorization_code"
            ):
                self._json(401, {"error": "invalid_client"})
                return
            if (
                grant is None
                or grant.used
                or form.get("redirect_uri") != grant.redirect_uri
                or s256(form.get("code_verifier", "")) != grant.challenge
            ):
                self._json(400, {"error": "invalid_grant"})
                return
            grant.used = True
            access = secrets.token_urlsafe(16)
            provider.tokens.add(access)
            body: dict[str, Any] = {"access_token": access, "token_type": "Bearer"}
            if path == "/token":
                header = {"alg": "RS256", "kid": grant.key.kid}
                body["id_token"] = jwt.encode(header, grant.claims, grant.key)
            self._json(200, body)

    return Handler


@contextmanager
def running_provider() -> Iterator[Provider]:
    provider = Provider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    provider.new_key()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
