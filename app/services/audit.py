"""The audit trail: who did what to which thing, when, from where, and what changed.

Services call `record(session, ...)` with the session that makes the change, so the event
commits or rolls back together with it. Only outcomes that change nothing (a failed
sign-in) use `record_regardless`, written once the caller's transaction has ended.

The trail is append-only: no code path updates or deletes an `AuditEvent` except the
retention purge (app.services.audit_retention), which deletes by age only. A flush-time
guard below refuses ORM updates and deletes, and tests/unit/test_audit_append_only.py scans
the code for any other path.

Diffs never hold secrets: fields whose names say secret (passwords, keys, tokens, hashes,
seeds, credentials) and values that look like our API keys are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from app.models import AuditEvent
from app.rls import BYPASS_KEY, TENANT_KEY, bind_tenant, cross_tenant

MASK = "••••"
_DEFERRED = "audit_deferred"
_SECRET_NAME = re.compile(
    r"(pass|secret|token|hash|credential|seed|recovery|otp|(^|_)key$|^key_)", re.IGNORECASE
)
_SECRET_VALUE = re.compile(r"sk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{16,}")


class AppendOnlyError(RuntimeError):
    """Something tried to change or delete an audit event through the ORM."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in user, an API key, the system, or someone not signed in."""

    kind: str  # user | api_key | system | anonymous
    id: str = ""
    label: str = ""  # email or key prefix
    ip: str = ""
    user_agent: str = ""

    @classmethod
    def user(cls, user_id: str, email: str, ip: str = "", user_agent: str = "") -> Actor:
        return cls("user", user_id, email, ip, user_agent)

    @classmethod
    def api_key(cls, key_id: str, prefix: str = "", ip: str = "", user_agent: str = "") -> Actor:
        return cls("api_key", key_id, prefix, ip, user_agent)

    @classmethod
    def anonymous(cls, ip: str = "", user_agent: str = "") -> Actor:
        return cls("anonymous", "", "", ip, user_agent)


SYSTEM = Actor("system", label="system")


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_VALUE.sub(MASK, value)
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return mask(value)
    return value


def _plain(value: Any) -> Any:
    """JSON-safe copy (enums and dates as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def mask(values: dict[str, Any]) -> dict[str, Any]:
    """A copy where secret-named fields only say whether they are set."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _SECRET_NAME.search(str(key)):
            out[key] = MASK if value not in (None, "", [], {}) else None
        else:
            out[key] = _mask_value(_plain(value))
    return out


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """{field: {"before": x, "after": y}} for the fields that changed, secrets masked.

    Change is judged on the real values (a changed secret shows as masked -> masked)."""
    before, after = before or {}, after or {}
    changed: dict[str, Any] = {}
    for key in sorted(set(before) | set(after), key=str):
        old, new = _plain(before.get(key)), _plain(after.get(key))
        if old == new:
            continue
        masked_old = mask({key: old})[key]
        masked_new = mask({key: new})[key]
        changed[str(key)] = {"before": masked_old, "after": masked_new}
    return changed


def record(
    session: Session,
    tenant_id: str | None,
    actor: Actor | None,
    action: str,
    target_type: str = "",
    target_id: str = "",
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to `session`: it commits (or not) with the change it describes."""
    who = actor or SYSTEM
    row = AuditEvent(
        tenant_id=tenant_id or None,
        actor_type=who.kind,
        actor_id=(who.id or "")[:32],
        actor_label=(who.label or "")[:254],
        action=action[:64],
        target_type=target_type[:32],
        target_id=(target_id or "")[:64],
        ip=(who.ip or "")[:64],
        user_agent=(who.user_agent or "")[:300],
        diff=diff(before, after),
    )
    session.add(row)
    _fit_row_level_security(session, row.tenant_id)
    return row


def _fit_row_level_security(session: Session, tenant_id: str | None) -> None:
    """The event is written with the change it describes, whatever tenant the session is
    bound to (app/rls.py): an unbound session takes the event's workspace; an event of another
    workspace or of none (a sign-in before any workspace is known) is flushed under the
    bypass, so the audit trail never depends on which scope ran last."""
    bound = session.info.get(TENANT_KEY)
    if session.info.get(BYPASS_KEY) or (tenant_id and bound == tenant_id):
        return
    if tenant_id and not bound:
        bind_tenant(session, tenant_id)
        return
    if session.get_bind().dialect.name == "postgresql":
        with cross_tenant(session, "audit event of another or no workspace"):
            session.flush()


def record_regardless(
    session: Session,
    tenant_id: str | None,
    actor: Actor | None,
    action: str,
    target_type: str = "",
    target_id: str = "",
    **changes: dict[str, Any] | None,
) -> None:
    """Record once the caller's transaction ends, whether it commits or rolls back.

    For outcomes that change nothing and whose caller rolls back (a refused sign-in).
    Written after the end, not beside it: a second writer next to an open write
    transaction would wait on SQLite's lock.
    """
    pending = session.info.setdefault(_DEFERRED, [])
    pending.append(
        (session.get_bind(), (tenant_id, actor, action, target_type, target_id), changes)
    )


@event.listens_for(OrmSession, "after_transaction_end")
def _write_deferred(session: OrmSession, transaction: Any) -> None:
    if transaction.parent is not None or not session.info.get(_DEFERRED):
        return
    pending = session.info.pop(_DEFERRED)
    for bind, args, changes in pending:
        factory = sessionmaker(bind=bind, class_=Session, expire_on_commit=False)
        tenant_id = args[0]
        # Row-level security: the event's own workspace, or none at all (an unknown email).
        info = {TENANT_KEY: tenant_id} if tenant_id else {BYPASS_KEY: "audit without workspace"}
        with factory(info=info) as own:
            record(own, *args, **changes)
            own.commit()


@event.listens_for(OrmSession, "before_flush")
def _refuse_changes(session: OrmSession, _context: Any, _instances: Any) -> None:
    for row in (*session.dirty, *session.deleted):
        if isinstance(row, AuditEvent):
            raise AppendOnlyError("audit events are append-only")
