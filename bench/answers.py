"""Answer-quality benchmark for the offline (extractive) answerer.

    python -m bench.answers [--quick] [--split test|tune|all]

The labelled set lives in bench/answer_set/ (documents, questions, their licence). The four
documents are ingested through the real path (upload -> sandboxed parse -> chunk -> embed ->
store, by the durable job runner) into a temporary data dir: the FAQ as a DOCX with the
questions as Heading 2, the policy as a PDF, the technical guide as Markdown and the price
list as CSV. Every question is then asked through `ChatService` (retrieval, the extractive
answerer, sanitizing, persisting), exactly as a visitor's turn, and the stored message is
read back.

Figures (overall and per document shape: faq, prose, table):
- answered_in_kb_rate: in-KB questions whose expected fragments all appear in the answer,
  over the in-KB questions whose evidence is in the top-5 retrieved passages;
- idk_out_of_kb_rate: out-of-KB questions answered "I don't know" (stored answered=False);
- confidence_auc: how well the stored `Message.confidence` ranks right answers above
  wrong ones, over answered turns (a wrong answer: an in-KB question answered without the
  expected fragments, or an out-of-KB question answered at all); null when one class is
  empty. Few answers are wrong, so this rests on few negatives (answered_wrong says how
  many); confidence_auc_ungated is the same measure with the "don't know" gate off
  (`extract_answer(min_evidence=0)` on the same passages), where every out-of-KB question
  adds a wrong quote to rank;
- flagged_wrong_rate / flagged_right_rate: share of wrong / right answers the dashboard's
  "low confidence" filter shows (confidence < analytics.LOW_CONFIDENCE_SCORE).

Splits: "tune" (ids 1-86 divisible by 3) was used to tune the answerer; "test" (the other
ids 1-86) is the reported one, though its failures were looked at once during
development; "holdout" (ids 87-114) was written after the answerer was final and run
once, blind. Results: bench/results/answers.json (answers_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import load_avg, log, machine_info, percentiles_ms, utc_now, write_json

SET_DIR = Path(__file__).with_name("answer_set")
DOCS = SET_DIR / "docs"
SHAPES = ("faq", "prose", "table")
TOP_PASSAGES = 5


# ---------------------------------------------------------------------------------
# Documents in the shapes owners upload
# ---------------------------------------------------------------------------------


def faq_docx(markdown: str) -> bytes:
    """The FAQ as Word writes it: a Title, then each question as a Heading 2."""
    import docx

    document = docx.Document()
    for line in markdown.splitlines():
        if line.startswith("## "):
            document.add_heading(line[3:].strip(), level=2)
        elif line.startswith("# "):
            document.add_heading(line[2:].strip(), level=0)
        elif line.strip():
            document.add_paragraph(line.strip())
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def policy_pdf(text: str) -> bytes:
    """The policy as a typeset PDF: a title, section headings, wrapped paragraphs."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    blocks = [b.strip() for b in text.strip().split("\n\n")]
    story: list[Any] = [Paragraph(blocks[0], styles["Title"])]
    for block in blocks[1:]:
        heading, _, body = block.partition("\n")
        story += [Paragraph(heading, styles["Heading2"]), Paragraph(body, styles["BodyText"])]
        story.append(Spacer(1, 6))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=LETTER, title=blocks[0]).build(story)
    return buf.getvalue()


def documents_to_upload() -> list[tuple[str, bytes]]:
    return [
        ("harbor-lane-faq.docx", faq_docx((DOCS / "faq.md").read_text())),
        ("shipping-returns-privacy.pdf", policy_pdf((DOCS / "policy.txt").read_text())),
        ("python-classes.md", (DOCS / "python-classes.md").read_bytes()),
        ("price-list.csv", (DOCS / "price-list.csv").read_bytes()),
    ]


# ---------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------

_MARKUP = re.compile(r"\\(?=[^\w\s])|`|^>\s?|\[\d+\]", re.M)


def normalize(text: str) -> str:
    """What a reader sees: markdown escapes, code ticks, quote marks and [n] removed,
    whitespace collapsed, case folded."""
    return " ".join(_MARKUP.sub("", text).split()).casefold()


def contains_all(text: str, fragments: list[str]) -> bool:
    seen = normalize(text)
    return all(normalize(f) in seen for f in fragments)


def auc(scores_right: list[float], scores_wrong: list[float]) -> float | None:
    """P(a right answer's confidence > a wrong one's), ties counted half (Mann-Whitney)."""
    if not scores_right or not scores_wrong:
        return None
    wins = sum(1.0 if r > w else 0.5 if r == w else 0.0 for r in scores_right for w in scores_wrong)
    return round(wins / (len(scores_right) * len(scores_wrong)), 3)


@dataclass(slots=True)
class Outcome:
    id: int
    shape: str
    split: str
    question: str
    in_kb: bool
    in_top5: bool
    answered: bool
    correct: bool  # in-KB: the expected fragments are in the answer; out-of-KB: "don't know"
    confidence: float | None
    answer: str
    # The same question with the "don't know" gate off: what would have been quoted, and
    # whether the confidence ranks it right (more wrong answers to rank than the gated run).
    ungated_correct: bool = False
    ungated_confidence: float | None = None


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def summarize(outcomes: list[Outcome], low_confidence: float) -> dict[str, Any]:
    in_kb = [o for o in outcomes if o.in_kb]
    reachable = [o for o in in_kb if o.in_top5]
    out_kb = [o for o in outcomes if not o.in_kb]
    answered = [o for o in outcomes if o.answered]
    right = [o.confidence or 0.0 for o in answered if o.correct]
    wrong = [o.confidence or 0.0 for o in answered if not o.correct]
    quoted = [o for o in outcomes if o.ungated_confidence is not None]
    right_u = [o.ungated_confidence or 0.0 for o in quoted if o.ungated_correct]
    wrong_u = [o.ungated_confidence or 0.0 for o in quoted if not o.ungated_correct]
    return {
        "answered_in_kb_rate": _rate(sum(o.correct for o in reachable), len(reachable)),
        "idk_out_of_kb_rate": _rate(sum(not o.answered for o in out_kb), len(out_kb)),
        "confidence_auc": auc(right, wrong),
        "confidence_auc_ungated": auc(right_u, wrong_u),
        "ungated_right": len(right_u),
        "ungated_wrong": len(wrong_u),
        "answered_in_kb_rate_all": _rate(sum(o.correct for o in in_kb), len(in_kb)),
        "in_kb_top5_rate": _rate(len(reachable), len(in_kb)),
        "in_kb_idk_rate": _rate(sum(not o.answered for o in reachable), len(reachable)),
        "flagged_wrong_rate": _rate(sum(c < low_confidence for c in wrong), len(wrong)),
        "flagged_right_rate": _rate(sum(c < low_confidence for c in right), len(right)),
        "answered_right": len(right),
        "answered_wrong": len(wrong),
        "questions_in_kb": len(in_kb),
        "questions_out_of_kb": len(out_kb),
    }


# ---------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------


def _setup(data_dir: Path):  # type: ignore[no-untyped-def]
    """A workspace with one widget and the four documents, ingested by the job runner."""
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ["RATE_FREE_PER_HOUR"] = "1000000"
    os.environ["RATE_VISITOR_PER_MINUTE"] = "1000000"
    os.environ["RATE_WIDGET_PER_MINUTE"] = "1000000"
    from sqlmodel import select

    from app.db import make_engine, run_migrations, session_scope, set_engine
    from app.models import Document, DocumentStatus
    from app.rag.embedding import LocalEmbedder
    from app.rag.ingest import IngestConfig, JobRunner
    from app.rag.store import EdgeStore
    from app.services import accounts, documents, widgets
    from app.settings import get_settings, reset_settings_cache

    reset_settings_cache()
    settings = get_settings()
    url = settings.resolved_database_url
    run_migrations(url=url)
    engine = make_engine(url)
    set_engine(engine)
    store = EdgeStore(settings.qdrant_path)
    # As app.services.vectors.query_embedder configures queries.
    embedder = LocalEmbedder(torch_threads=1, traced=True)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "bench@example.com", "bench-password-1", "Harbor Lane")
        widget = widgets.create_widget(s, tenant.id, "Shop")
        for filename, data in documents_to_upload():
            documents.create_document(s, tenant.id, filename=filename, data=data, settings=settings)
        ids = tenant.id, widget.id
    started = time.perf_counter()
    config = IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes)
    JobRunner(engine, store, embedder, config).drain()
    with session_scope(engine) as s:
        for doc in s.exec(select(Document)).all():
            if doc.status != DocumentStatus.ready:
                raise SystemExit(f"{doc.filename} did not ingest: {doc.status} {doc.error}")
            log(f"ingested {doc.filename}: {doc.chunk_count} chunks")
    log(f"ingested in {time.perf_counter() - started:.1f}s")
    return ids, store, embedder, engine


async def _ask_all(service, tenant: str, widget: str, questions: list[dict]):  # type: ignore[no-untyped-def]
    """Every question as a visitor's turn; the outcomes and each turn's stored TTFT."""
    from app.db import session_scope
    from app.models import Message
    from app.rag.answer_types import AnswerRequest
    from app.rag.extractive import extract_answer
    from app.rag.sanitize import sanitize_markdown
    from app.services.chat import ChatRequest

    outcomes: list[Outcome] = []
    ttfts: list[int | None] = []
    for q in questions:
        saved = await service.ask(
            ChatRequest(
                tenant_id=tenant, widget_id=widget, message=q["question"], visitor_id=f"v{q['id']}"
            )
        )
        with session_scope() as s:
            stored = s.get(Message, saved.message_id)
            assert stored is not None
            answered, confidence, text = stored.answered, stored.confidence, stored.text
            ttfts.append(stored.ttft_ms)
        # After the turn, so its TTFT includes embedding the question (cached from here on).
        passages, _ = await service.workflow.sources_for(tenant, widget, q["question"])
        top = sorted(passages, key=lambda s: -s.score)[:TOP_PASSAGES]
        evidence = q.get("evidence") or q.get("expected") or []
        in_top5 = bool(q["in_kb"]) and any(contains_all(p.text, evidence) for p in top)
        correct = contains_all(text, q["expected"]) if q["in_kb"] else not answered
        ungated = extract_answer(AnswerRequest(q["question"], passages), min_evidence=0.0)
        quoted = sanitize_markdown(ungated.text, allowed_domains=[], own_base_url="")
        outcomes.append(
            Outcome(
                q["id"],
                q["shape"],
                q["split"],
                q["question"],
                q["in_kb"],
                in_top5,
                answered,
                correct,
                confidence,
                text,
                ungated_correct=ungated.answered
                and q["in_kb"]
                and contains_all(quoted, q["expected"]),
                ungated_confidence=ungated.confidence if ungated.answered else None,
            )
        )
    return outcomes, ttfts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a third of the questions (CI)")
    parser.add_argument("--split", choices=("test", "tune", "holdout", "all"), default="test")
    parser.add_argument("--show", action="store_true", help="print every wrong answer")
    args = parser.parse_args()
    questions = json.loads((SET_DIR / "questions.json").read_text())
    if args.quick:
        questions = questions[::3]
    with tempfile.TemporaryDirectory(prefix="cc-bench-answers-") as tmp:
        (tenant, widget), store, embedder, _engine = _setup(Path(tmp))
        from app.rag.extractive import ExtractiveResponder
        from app.rag.retriever import retriever_factory
        from app.rag.workflow import ChatWorkflow
        from app.services.analytics import LOW_CONFIDENCE_SCORE
        from app.services.cache import CachedQueryEmbedder, MemoryTTLCache
        from app.services.chat import ChatService
        from app.services.qa import QAMatcher

        # The product's chat path (Workflow + tenant-bound hybrid retriever + Q&A pairs).
        query_embedder = CachedQueryEmbedder(embedder, MemoryTTLCache())
        service = ChatService(
            ChatWorkflow(retriever_factory(store, query_embedder), QAMatcher(query_embedder)),
            make_primary=lambda _loaded: None,  # no AI provider: the offline answerer
            fallback=ExtractiveResponder(sentence_pause_s=0.0),  # no pacing: answers only
        )
        started = time.perf_counter()
        outcomes, ttfts = asyncio.run(_ask_all(service, tenant, widget, questions))
        elapsed = time.perf_counter() - started
        store.close()

    def report(split: str) -> dict[str, Any]:
        chosen = [o for o in outcomes if split == "all" or o.split == split]
        out = summarize(chosen, LOW_CONFIDENCE_SCORE)
        out["by_shape"] = {
            shape: summarize([o for o in chosen if o.shape == shape], LOW_CONFIDENCE_SCORE)
            for shape in SHAPES
        }
        return out

    reported = report(args.split)
    summary: dict[str, Any] = {
        "answered_in_kb_rate": reported["answered_in_kb_rate"],
        "idk_out_of_kb_rate": reported["idk_out_of_kb_rate"],
        "confidence_auc": reported["confidence_auc"],
        "split": args.split,
        "reported": reported,
        "splits": {name: report(name) for name in ("test", "tune", "holdout", "all")},
        "goals": {"answered_in_kb_rate": 0.85, "idk_out_of_kb_rate": 1.0, "confidence_auc": 0.8},
        "low_confidence_score": LOW_CONFIDENCE_SCORE,
        "questions": len(outcomes),
        "seconds_per_question": round(elapsed / max(len(outcomes), 1), 3),
        # Stored Message.ttft_ms: turn start to the first streamed piece (the lead-in, which
        # the sentence pacing never delays), so it is the same with pacing on.
        "ttft_ms": percentiles_ms([t / 1000 for t in ttfts if t is not None]),
        "wrong": [
            {
                "id": o.id,
                "split": o.split,
                "question": o.question,
                "answer": o.answer,
                "confidence": o.confidence,
                "in_top5": o.in_top5,
            }
            for o in outcomes
            if not o.correct
        ],
        "quick": args.quick,
        "load_avg": load_avg(),
        "machine": machine_info(),
        "timestamp": utc_now(),
    }
    path = write_json("answers_quick.json" if args.quick else "answers.json", summary)
    print(f"\n{'split ' + args.split:<16}{'answered_in_kb':>16}{'idk_out_of_kb':>15}{'auc':>8}")
    for name, row in [("all shapes", reported), *reported["by_shape"].items()]:
        print(
            f"{name:<16}{row['answered_in_kb_rate']!s:>16}{row['idk_out_of_kb_rate']!s:>15}"
            f"{row['confidence_auc']!s:>8}"
        )
    if args.show:
        for w in summary["wrong"]:
            if args.split != "all" and w["split"] != args.split:
                continue
            print(f"\n#{w['id']} {w['question']}  conf={w['confidence']} top5={w['in_top5']}")
            print("   " + w["answer"].replace("\n", "\n   "))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
