"""Owner-written Q&A pairs: a close match answers directly, citing the pair, no LLM call."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
from sqlmodel import Session, col, or_

from app.db import TenantScope, session_scope
from app.models import QAPair
from app.rag.answer_types import Source

# Cosine similarity (all-MiniLM-L6-v2) above which a visitor question is "the same
# question" as a pair's. Paraphrases of one question typically score 0.85-0.95 with this
# model; related-but-different questions rarely pass 0.8.
QA_MATCH_THRESHOLD = 0.86
MAX_QUESTION = 1000
MAX_ANSWER = 8000


class QAError(ValueError):
    pass


def _validate(question: str, answer: str) -> tuple[str, str]:
    question, answer = (question or "").strip(), (answer or "").strip()
    if not question or not answer:
        raise QAError("Both a question and an answer are needed.")
    if len(question) > MAX_QUESTION or len(answer) > MAX_ANSWER:
        raise QAError("Keep questions under 1,000 and answers under 8,000 characters.")
    return question, answer


def create_pair(
    session: Session,
    tenant_id: str,
    question: str,
    answer: str,
    widget_id: str | None = None,
    *,
    enabled: bool = True,
) -> QAPair:
    question, answer = _validate(question, answer)
    return TenantScope(session, tenant_id).add(
        QAPair(question=question, answer=answer, widget_id=widget_id, enabled=enabled)
    )


def get_pair(session: Session, tenant_id: str, pair_id: str) -> QAPair:
    return TenantScope(session, tenant_id).get(QAPair, pair_id)


def update_pair(
    session: Session,
    tenant_id: str,
    pair_id: str,
    *,
    question: str,
    answer: str,
    enabled: bool = True,
) -> QAPair:
    pair = TenantScope(session, tenant_id).get(QAPair, pair_id)
    pair.question, pair.answer = _validate(question, answer)
    pair.enabled = enabled
    session.add(pair)
    return pair


def delete_pair(session: Session, tenant_id: str, pair_id: str) -> None:
    TenantScope(session, tenant_id).delete(QAPair, pair_id)


def list_pairs(session: Session, tenant_id: str, widget_id: str | None = None) -> list[QAPair]:
    scope = TenantScope(session, tenant_id)
    query = scope.select(QAPair)
    if widget_id is not None:
        query = query.where(or_(col(QAPair.widget_id).is_(None), QAPair.widget_id == widget_id))
    return list(session.exec(query.order_by(col(QAPair.created_at))))


class QAMatcher:
    """Embeds pair questions once per (pair, version) and compares them to the query."""

    def __init__(self, embedder, threshold: float = QA_MATCH_THRESHOLD) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self.threshold = threshold
        self._vectors: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _pair_vectors(self, pairs: list[QAPair]) -> np.ndarray:
        keys = [(p.id, p.updated_at.isoformat()) for p in pairs]
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = [(k, p.question) for k, p in zip(keys, pairs, strict=True) if k not in known]
        if missing:
            vectors = self.embedder.embed_texts([q for _, q in missing])
            fresh = {key: list(v) for (key, _), v in zip(missing, vectors, strict=True)}
            known.update(fresh)
            with self._lock:
                if len(self._vectors) > 50_000:
                    self._vectors.clear()  # bounded; recomputed on demand
                self._vectors.update(fresh)
        return np.asarray([known[k] for k in keys], dtype=np.float32)

    def best_match(self, tenant_id: str, widget_id: str | None, query: str) -> Source | None:
        with session_scope() as session:
            pairs = [p for p in list_pairs(session, tenant_id, widget_id) if p.enabled]
        if not pairs:
            return None
        query_vector = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        matrix = self._pair_vectors(pairs)
        # Vectors are L2-normalized by the embedders; normalize again to be safe.
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query_vector) or 1.0)
        scores = matrix @ query_vector / np.where(norms == 0, 1.0, norms)
        index = int(np.argmax(scores))
        best, best_score = pairs[index], float(scores[index])
        if best_score < self.threshold:
            return None
        return Source(
            n=1,
            document_id=f"qa:{best.id}",
            title=best.question,
            text=f"Q: {best.question}\nA: {best.answer}",
            score=best_score,
            kind="qa",
        )

    async def __call__(self, tenant_id: str, widget_id: str | None, query: str) -> Source | None:
        return await asyncio.to_thread(self.best_match, tenant_id, widget_id, query)
