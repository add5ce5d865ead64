"""document.index_model: the (embedding model, vector size) a document was indexed with

NULL means "indexed before this column existed", i.e. with the only model there was then
(all-MiniLM-L6-v2, 384 dimensions); see app.services.ingestion.requeue_other_models.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("index_model", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("index_model")
