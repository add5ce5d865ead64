"""message provider, cache tokens, notice; usage overage

New NOT NULL counters get a server default of 0 so existing rows migrate.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 16:42:23.227904
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cache_read_tokens", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("cache_write_tokens", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("notice", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )

    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("overage_tokens", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("overage_cost_usd", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.drop_column("overage_cost_usd")
        batch_op.drop_column("overage_tokens")

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("notice")
        batch_op.drop_column("cache_write_tokens")
        batch_op.drop_column("cache_read_tokens")
        batch_op.drop_column("provider")
