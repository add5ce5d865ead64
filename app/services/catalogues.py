"""Product catalogues as a knowledge source: settings, credentials, test, sync requests.

A catalogue stores its connector settings in two parts: `config` (shown back to the owner)
and the connector's `secret_fields` as one Fernet token (never shown back; an empty field
on update keeps the stored value). Syncs are durable `CatalogueJob` rows run by
`app.services.catalogue_sync`; this module only queues them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col, select

from app.connectors import Catalogue as FetchedCatalogue
from app.connectors import ConnectorError, connector_class
from app.db import TenantScope
from app.models import (
    Catalogue,
    CatalogueJob,
    CatalogueProduct,
    CatalogueSchedule,
    JobStatus,
    utcnow,
)
from app.security import decrypt_secret, encrypt_secret
from app.services import audit, outbound
from app.settings import get_settings

MAX_CATALOGUES = 20
SHOP_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
SCHEDULE_EVERY = {
    CatalogueSchedule.hourly: timedelta(hours=1),
    CatalogueSchedule.daily: timedelta(days=1),
}
# The setting that names the shop's address, per connector kind.
BASE_URL_FIELD = {"json": "url", "magento2": "base_url", "odoo": "base_url"}


class CatalogueError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    message: str
    products: int = 0
    skipped: int = 0


# ---- the one place a shop is contacted from ----------------------------------------------


def _shop_client(base_url: str) -> httpx.Client:
    """The HTTP client handed to a connector: the outbound helper's guarded transport, so
    the shop's address is vetted now and again at every connection (no private or metadata
    addresses unless CRAWL_ALLOW_PRIVATE_NETWORKS; no DNS-rebinding window); redirects are
    not followed, the proxy environment is ignored and every request is time-limited. The
    connector caps response sizes itself."""
    allow = get_settings().crawl_allow_private_networks
    outbound.vet_url(base_url, allow_private=allow)
    transport = outbound.GuardedTransport(allow_private=allow, resolver=outbound.system_resolver)
    return httpx.Client(
        transport=transport, timeout=SHOP_TIMEOUT, follow_redirects=False, trust_env=False
    )


def base_url(catalogue: Catalogue) -> str:
    return str(catalogue.config.get(BASE_URL_FIELD.get(catalogue.kind, "url")) or "")


def full_config(catalogue: Catalogue) -> dict[str, Any]:
    """Settings with secrets decrypted: only for handing to a connector, never to a page."""
    secrets = (
        json.loads(decrypt_secret(catalogue.secrets_encrypted))
        if catalogue.secrets_encrypted
        else {}
    )
    return {**catalogue.config, **secrets}


def fetch(
    kind: str, config: Mapping[str, Any], *, max_products: int | None = None
) -> FetchedCatalogue:
    """Read a shop's catalogue (connector errors propagate, with messages safe to show)."""
    cls = connector_class(kind)
    settings = cls.validate_config(config)
    url = str(settings.get(BASE_URL_FIELD.get(kind, "url")) or "")
    try:
        client = _shop_client(url)
    except outbound.OutboundError as exc:
        raise CatalogueError(str(exc), BASE_URL_FIELD.get(kind, "url")) from exc
    with client:
        connector = cls(settings, client)
        return connector.fetch() if max_products is None else connector.fetch(max_products)


def test_connection(kind: str, config: Mapping[str, Any]) -> TestResult:
    """Fetch the catalogue once without storing anything: does it work, how many products."""
    try:
        result = fetch(kind, config)
    except (ConnectorError, CatalogueError) as exc:
        return TestResult(False, str(exc))
    n, k = len(result.products), len(result.skipped)
    return TestResult(True, f"Connected: {n} products" + (f", {k} skipped" if k else ""), n, k)


# ---- settings ----------------------------------------------------------------------------


def _split(kind: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    cls = connector_class(kind)
    public = {k: v for k, v in config.items() if k not in cls.secret_fields and v not in (None, "")}
    secrets = {k: str(config[k]) for k in cls.secret_fields if config.get(k)}
    return public, secrets


def _audited(c: Catalogue) -> dict[str, Any]:
    return {"name": c.name, "kind": c.kind, "config": dict(c.config), "schedule": str(c.schedule)}


def _schedule(value: str) -> CatalogueSchedule:
    try:
        return CatalogueSchedule(value or "off")
    except ValueError:
        raise CatalogueError("Schedule must be off, hourly or daily.", "schedule") from None


def create(
    session: Session,
    tenant_id: str,
    kind: str,
    name: str,
    config: Mapping[str, Any],
    *,
    schedule: str = "off",
    actor: audit.Actor | None = None,
) -> Catalogue:
    """Validate, store (secrets encrypted), audit and queue a first sync."""
    try:
        connector_class(kind).validate_config(config)
    except ConnectorError as exc:
        raise CatalogueError(str(exc), "config") from exc
    name = (name or "").strip()[:120]
    if not name:
        raise CatalogueError("Give the catalogue a name.", "name")
    scope = TenantScope(session, tenant_id)
    if len(scope.all(Catalogue, limit=MAX_CATALOGUES + 1)) >= MAX_CATALOGUES:
        raise CatalogueError(f"A workspace can have at most {MAX_CATALOGUES} catalogues.")
    public, secrets = _split(kind, config)
    catalogue = scope.add(
        Catalogue(
            kind=kind,
            name=name,
            config=public,
            secrets_encrypted=encrypt_secret(json.dumps(secrets)) if secrets else None,
            schedule=_schedule(schedule),
        )
    )
    session.flush()
    audit.record(
        session, tenant_id, actor, "catalogue.created", "catalogue", catalogue.id,
        after=_audited(catalogue),
    )  # fmt: skip
    request_sync(session, tenant_id, catalogue.id)
    return catalogue


def update(
    session: Session,
    tenant_id: str,
    catalogue_id: str,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    schedule: str | None = None,
    actor: audit.Actor | None = None,
) -> Catalogue:
    """Change settings; a secret left empty keeps the stored one."""
    catalogue = TenantScope(session, tenant_id).get(Catalogue, catalogue_id)
    before = _audited(catalogue)
    if name is not None:
        if not name.strip():
            raise CatalogueError("Give the catalogue a name.", "name")
        catalogue.name = name.strip()[:120]
    if config is not None:
        merged = {
            **full_config(catalogue),
            **{k: v for k, v in config.items() if v not in (None, "")},
        }
        for key in [k for k, v in config.items() if v in (None, "")]:
            if key not in connector_class(catalogue.kind).secret_fields:
                merged.pop(key, None)
        try:
            connector_class(catalogue.kind).validate_config(merged)
        except ConnectorError as exc:
            raise CatalogueError(str(exc), "config") from exc
        public, secrets = _split(catalogue.kind, merged)
        catalogue.config = public
        catalogue.secrets_encrypted = encrypt_secret(json.dumps(secrets)) if secrets else None
    if schedule is not None:
        catalogue.schedule = _schedule(schedule)
        catalogue.next_sync_at = next_sync(catalogue.schedule, catalogue.last_synced_at)
    session.add(catalogue)
    audit.record(
        session, tenant_id, actor, "catalogue.updated", "catalogue", catalogue.id,
        before=before, after=_audited(catalogue),
    )  # fmt: skip
    return catalogue


def delete(
    session: Session, tenant_id: str, catalogue_id: str, *, actor: audit.Actor | None = None
) -> list[str]:
    """Delete the catalogue, its products and jobs; returns the product ids whose vector
    points the caller drops (after the commit: `catalogue_sync.drop_points`)."""
    scope = TenantScope(session, tenant_id)
    catalogue = scope.get(Catalogue, catalogue_id)
    before = _audited(catalogue)
    product_ids = list(
        session.exec(
            select(CatalogueProduct.id).where(
                CatalogueProduct.tenant_id == tenant_id,
                CatalogueProduct.catalogue_id == catalogue_id,
            )
        )
    )
    for model in (CatalogueProduct, CatalogueJob):  # explicit: SQLite may run without FKs
        session.execute(
            sa_delete(model).where(
                col(model.tenant_id) == tenant_id, col(model.catalogue_id) == catalogue_id
            )
        )
    session.delete(catalogue)
    audit.record(
        session, tenant_id, actor, "catalogue.deleted", "catalogue", catalogue_id, before=before
    )
    return product_ids


def list_catalogues(session: Session, tenant_id: str) -> list[Catalogue]:
    return TenantScope(session, tenant_id).all(Catalogue, order_by=col(Catalogue.created_at))


def get(session: Session, tenant_id: str, catalogue_id: str) -> Catalogue:
    return TenantScope(session, tenant_id).get(Catalogue, catalogue_id)


def public_config(catalogue: Catalogue) -> dict[str, Any]:
    """What a page may show: the settings plus which secrets are set (never their values)."""
    secret_fields = connector_class(catalogue.kind).secret_fields
    return {
        **catalogue.config,
        **{f"{k}_set": bool(catalogue.secrets_encrypted) for k in secret_fields},
    }


# ---- sync requests -----------------------------------------------------------------------


def next_sync(schedule: CatalogueSchedule, last: datetime | None) -> datetime | None:
    every = SCHEDULE_EVERY.get(CatalogueSchedule(schedule))
    if every is None:
        return None
    return (last or utcnow()) + every


def request_sync(session: Session, tenant_id: str, catalogue_id: str) -> CatalogueJob:
    """Queue a sync unless one is already queued or running (then that one is returned)."""
    catalogue = TenantScope(session, tenant_id).get(Catalogue, catalogue_id)
    active = session.exec(
        select(CatalogueJob).where(
            CatalogueJob.catalogue_id == catalogue.id,
            col(CatalogueJob.status).in_([JobStatus.queued, JobStatus.running]),
        )
    ).first()
    if active is not None:
        return active
    job = CatalogueJob(tenant_id=tenant_id, catalogue_id=catalogue.id)
    session.add(job)
    catalogue.status = "queued"
    session.add(catalogue)
    return job


def enqueue_due(
    session: Session, now: datetime | None = None, *, index_model: str | None = None
) -> int:
    """Queue the scheduled syncs that are due, and (given the worker's `index_model`) the
    synced catalogues indexed under another embedding model (any tenant: the worker's duty)."""
    now = now or utcnow()
    due = list(
        session.exec(
            select(Catalogue).where(
                col(Catalogue.schedule) != CatalogueSchedule.off.value,
                col(Catalogue.next_sync_at).is_not(None),
                col(Catalogue.next_sync_at) <= now,
            )
        )
    )
    if index_model is not None:
        busy = select(CatalogueJob.catalogue_id).where(
            col(CatalogueJob.status).in_([JobStatus.queued, JobStatus.running])
        )
        due += [
            c
            for c in session.exec(
                select(Catalogue).where(
                    col(Catalogue.index_model).is_not(None),
                    col(Catalogue.index_model) != index_model,
                    col(Catalogue.id).not_in(busy),
                )
            )
            if c not in due
        ]
    for catalogue in due:
        if index_model is not None and catalogue.index_model not in (None, index_model):
            # Queued once: the sync re-embeds everything; a failing one is not re-queued.
            catalogue.index_model = None
        request_sync(session, catalogue.tenant_id, catalogue.id)
        # Pushed now so that a slow or failing sync is not queued again on every poll.
        catalogue.next_sync_at = next_sync(catalogue.schedule, now)
        session.add(catalogue)
    return len(due)


# ---- the dashboard form --------------------------------------------------------------------

FORM_FIELDS = {
    "json": (
        "url",
        "items_path",
        "currency",
        "url_template",
        "cart_url",
        "auth_header",
        "auth_value",
        "orders_url",
        "orders_path",
    ),
    "magento2": ("base_url", "token", "store_code", "currency"),
    "odoo": ("base_url", "db", "login", "password", "api_key"),
}


def parse_mapping(text: str) -> dict[str, str]:
    """'title = name' lines (or 'title: name') as a field mapping for the JSON connector."""
    mapping: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        sep = "=" if "=" in line else ":"
        key, _, path = line.partition(sep)
        if not path.strip():
            raise CatalogueError(
                f"Mapping line “{line.strip()[:40]}” needs field = path.", "mapping"
            )
        mapping[key.strip()] = path.strip()
    return mapping


def form_config(kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The connector settings from the dashboard's flat form (one URL box for every kind)."""
    if kind not in FORM_FIELDS:
        raise CatalogueError("Choose a catalogue type.", "kind")
    url_key = BASE_URL_FIELD[kind]
    config: dict[str, Any] = {url_key: str(form.get("url") or "").strip()}
    for key in FORM_FIELDS[kind]:
        if key != url_key and str(form.get(key) or "").strip():
            config[key] = str(form[key]).strip()
    if kind == "json" and str(form.get("mapping") or "").strip():
        config["mapping"] = parse_mapping(str(form["mapping"]))
    return config
