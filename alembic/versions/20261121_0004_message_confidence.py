"""message.confidence: top source score of an answer, for the low-confidence filter

Existing answers are backfilled from their stored sources.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 18:05:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _top_score(sources: object) -> float | None:
    if isinstance(sources, str):
        sources = json.loads(sources or "[]")
    scores = [float(s["score"]) for s in sources or [] if isinstance(s, dict) and "score" in s]
    return max(scores) if scores else None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))

    bind = op.get_bind()
    message = sa.table(
        "message",
        sa.column("id", sa.String),
        sa.column("role", sa.String),
        sa.column("sources", sa.JSON),
        sa.column("confidence", sa.Float),
    )
    rows = bind.execute(
        sa.select(message.c.id, message.c.sources).where(message.c.role == "assistant")
    ).all()
    for row_id, sources in rows:
        score = _top_score(sources)
        if score is not None:
            bind.execute(message.update().where(message.c.id == row_id).values(confidence=score))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("confidence")
