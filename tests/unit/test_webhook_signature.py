"""The README's webhook verification snippet accepts our signatures and nothing else."""

from __future__ import annotations

import time
from pathlib import Path

from app.services.webhooks import sign, verify_signature

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_verify():  # type: ignore[no-untyped-def]
    text = README.read_text()
    start = text.index("def verify(secret: str, header: str")
    code = "import hashlib, hmac, time\n\n" + text[start : text.index("```", start)]
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    return namespace["verify"]


def test_readme_snippet_and_service_agree() -> None:
    verify = _readme_verify()
    body = b'{"type": "lead.created", "data": {"email": "a@b.io"}}'
    now = int(time.time())
    header = sign("whsec_k", now, body)
    assert verify("whsec_k", header, body) and verify_signature("whsec_k", header, body)
    for secret, hdr, data in (
        ("whsec_other", header, body),
        ("whsec_k", header, body + b" "),
        ("whsec_k", sign("whsec_k", now - 3600, body), body),  # replayed an hour later
    ):
        assert not verify(secret, hdr, data)
        assert not verify_signature(secret, hdr, data)
    assert not verify_signature("whsec_k", "garbage", body)
