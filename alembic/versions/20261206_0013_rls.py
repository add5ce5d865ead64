"""row-level security: every table with a tenant_id gets the tenant_isolation policy

PostgreSQL only (no-op on SQLite). The policy admits a row when its tenant_id equals the
transaction's `app.tenant_id` setting or when the transaction set `app.rls_bypass = 'on'`
(app/rls.py sets both). RLS is enabled and FORCEd, so it also binds a non-superuser role that
owns the tables; superusers and BYPASSRLS roles skip it (README "Row-level security").

The tables are discovered when this runs, so tables created by earlier migrations are all
covered; a later migration that creates a tenant table calls
`app.rls.enable_tenant_rls(op, "table")` (tests/integration/test_rls.py fails if one is missed).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op
from app.rls import disable_tenant_rls, enable_tenant_rls, tenant_tables

revision: str = "0013"
down_revision: str | None = "0011"  # last: after 0012 (intents) and 0011 (actions)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    for table in tenant_tables(op.get_bind()):
        enable_tenant_rls(op, table)


def downgrade() -> None:
    if not _postgres():
        return
    for table in tenant_tables(op.get_bind()):
        disable_tenant_rls(op, table)
