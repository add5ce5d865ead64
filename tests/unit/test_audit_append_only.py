"""The audit trail is append-only: the code has no path that updates or deletes an event,
except the retention purge, which deletes by age only. Plus the masking of diffs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app.services import audit

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_DELETE = ("app/services/audit_retention.py", "purge_expired")
_RAW_SQL = re.compile(r"\b(update|delete\s+from|truncate|drop\s+table)\b[^;]*\baudit_event\b", re.I)
_MUTATORS = {"update", "delete", "merge", "bulk_update_mappings", "bulk_save_objects"}


def _violations(source: str, path: str) -> list[str]:
    """Every place in `source` that could change or remove an audit event."""
    tree = ast.parse(source)
    touches_audit = "AuditEvent" in source or "audit_event" in source
    found: list[str] = []
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]

    def owner(node: ast.AST) -> str:
        for fn in functions:
            if fn.lineno <= node.lineno <= (fn.end_lineno or fn.lineno):  # type: ignore[attr-defined]
                return fn.name
        return ""

    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and _RAW_SQL.search(node.value):  # type: ignore[attr-defined]
            found.append(f"{path}:{node.lineno} raw SQL changes audit_event")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        first = node.args[0] if node.args else None
        on_audit = isinstance(first, ast.Name) and first.id == "AuditEvent"
        if name in {"update", "delete"} and on_audit:
            if (path, owner(node)) != ALLOWED_DELETE or name != "delete":
                found.append(f"{path}:{node.lineno} {name}(AuditEvent)")
        elif touches_audit and isinstance(func, ast.Attribute) and name in _MUTATORS:
            found.append(f"{path}:{node.lineno} .{name}() in a module that handles audit events")
        elif name == "setattr" and touches_audit:
            found.append(f"{path}:{node.lineno} setattr in a module that handles audit events")
    return found


def test_no_code_path_updates_or_deletes_audit_events() -> None:
    problems: list[str] = []
    for file in sorted((ROOT / "app").rglob("*.py")):
        rel = file.relative_to(ROOT).as_posix()
        problems += _violations(file.read_text(encoding="utf-8"), rel)
    assert problems == []


def test_the_one_purge_deletes_by_age_only() -> None:
    source = (ROOT / ALLOWED_DELETE[0]).read_text(encoding="utf-8")
    tree = ast.parse(source)
    purge = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == ALLOWED_DELETE[1]
    )
    wheres = [
        n
        for n in ast.walk(purge)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "where"
    ]
    assert len(wheres) == 1 and len(wheres[0].args) == 1
    condition = ast.unparse(wheres[0].args[0])
    assert condition == "col(AuditEvent.created_at) < cutoff"


def test_the_scanner_catches_each_kind_of_path() -> None:
    bad = {
        "session.exec(update(AuditEvent).values(action='x'))": "update(AuditEvent)",
        "session.exec(delete(AuditEvent))": "delete(AuditEvent)",
        "session.execute(text('DELETE FROM audit_event'))": "raw SQL",
        "session.execute(text('update audit_event set ip = 1'))": "raw SQL",
        "row = AuditEvent()\nsession.delete(row)": ".delete()",
        "row = AuditEvent()\nsetattr(row, 'ip', '')": "setattr",
    }
    for snippet, expected in bad.items():
        problems = _violations(snippet, "app/x.py")
        assert problems and expected in problems[0], snippet
    # The purge's delete is allowed only in its own function.
    purge = "def purge_expired():\n    delete(AuditEvent).where(x)\n"
    assert _violations(purge, ALLOWED_DELETE[0]) == []
    assert _violations(purge.replace("purge_expired", "other"), ALLOWED_DELETE[0])


def test_diffs_mask_secret_fields_and_key_looking_values() -> None:
    changes = audit.diff(
        {"openai_key": None, "password": "old", "name": "A", "same": 1},
        {
            "openai_key": "sk-live-abcdef123456",
            "password": "new",
            "name": "B",
            "same": 1,
            "note": "pasted sk_AbCdEfGhIjKl_abcdefghijklmnopqrstuvwxyz0123",
            "client_secret": "s3cr3t",
            "totp_seed": "JBSWY3DPEHPK3PXP",
        },
    )
    assert changes == {
        "client_secret": {"before": None, "after": audit.MASK},
        "name": {"before": "A", "after": "B"},
        "note": {"before": None, "after": f"pasted {audit.MASK}"},
        "openai_key": {"before": None, "after": audit.MASK},
        "password": {"before": audit.MASK, "after": audit.MASK},
        "totp_seed": {"before": None, "after": audit.MASK},
    }
    # Fields that merely contain "key" in another sense stay readable.
    assert audit.mask({"monkey": "x", "prefix": "sk_ab", "scopes": ["admin"]}) == {
        "monkey": "x",
        "prefix": "sk_ab",
        "scopes": ["admin"],
    }
