"""Knowledge > Test retrieval: a real chat turn for a question, with the chunks it
retrieved, the ones the answer cites and the quoted sentences. A mixin of KnowledgeState
(app/state/knowledge.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import reflex as rx

from app.services.answer_html import markdown_to_html
from app.services.chat import ChatInputError, WidgetUnavailableError
from app.services.conversations import BudgetExceededError
from app.services.limits import RateLimitedError
from app.services.retrieval_preview import PreviewError, preview

log = logging.getLogger("chatconnect.knowledge")

SNIPPET_CHARS = 400


@dataclass
class ChunkRow:
    n: int = 0
    title: str = ""
    where: str = ""
    score: str = ""
    relevance: str = ""  # raw cosine, or "—" (found by keywords only / a Q&A pair)
    text: str = ""
    # When the answer quotes this chunk: the preview split around the quoted sentence.
    before: str = ""
    quote: str = ""
    after: str = ""
    cited: bool = False
    qa: bool = False


@dataclass
class WidgetOption:
    id: str = ""
    name: str = ""


def _chunk_row(  # type: ignore[no-untyped-def]
    source, cited: set[int], relevance: float | None = None, quote: str | None = None
) -> ChunkRow:
    where = []
    if source.page:
        where.append(f"page {source.page}")
    if source.section:
        where.append(source.section)
    text = " ".join(source.text.split())
    row = ChunkRow(
        n=source.n,
        title=source.title,
        where=" · ".join(where) if where else f"chunk {source.chunk_index + 1}",
        score=f"{source.score:.3f}",
        relevance="—" if relevance is None else f"{relevance:.2f}",
        text=text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…",
        cited=source.n in cited,
        qa=source.kind == "qa",
    )
    quote = " ".join((quote or "").split())
    at = text.find(quote) if quote else -1
    if at >= 0:
        # A window around the quoted sentence, so it shows even deep inside a long chunk.
        room = max(0, SNIPPET_CHARS - len(quote))
        start = max(0, at - room // 3)
        end = min(len(text), at + len(quote) + room - (at - start))
        row.before = ("…" if start else "") + text[start:at]
        row.quote = quote
        row.after = text[at + len(quote) : end] + ("…" if end < len(text) else "")
    return row


class KnowledgeRetrievalMixin(rx.State, mixin=True):
    widget_options: list[WidgetOption] = []
    test_widget: str = "none"
    test_question: str = ""
    test_running: bool = False
    test_error: str = ""
    test_done: bool = False
    chunks: list[ChunkRow] = []
    answer: str = ""
    answer_html: str = ""  # drawn like the widget draws it
    answered: bool = False
    answer_meta: str = ""

    @rx.event
    def set_test_widget(self, value: str) -> None:
        self._require()  # type: ignore[attr-defined]
        self.test_widget = value

    @rx.event(background=True)
    async def run_test(self, form: dict):
        """A real chat turn off the event lock, so the page stays responsive meanwhile."""
        async with self:
            if self.test_running:
                return
            ident = self._require()  # type: ignore[attr-defined]
            question = str(form.get("question", "")).strip()[:1000]
            widget = self.test_widget if self.test_widget != "none" else None
            if widget and widget not in {w.id for w in self.widget_options}:
                widget = None
            self.test_question = question
            self.test_running, self.test_error = True, ""
        try:
            result = await preview(ident.tenant_id, ident.user_id, question, widget)
        except (PreviewError, ChatInputError) as exc:
            error = str(exc)
        except WidgetUnavailableError:
            error = "That widget is disabled or was deleted: enable it, or test without one."
        except (RateLimitedError, BudgetExceededError) as exc:
            error = str(exc)
        except Exception:  # a provider outage must not leave the box spinning
            log.exception("test retrieval failed")
            error = "The test could not run. Check the provider settings and try again."
        else:
            error = ""
        async with self:
            self.test_running = False
            self.test_error = error
            if error:
                return rx.toast.error(error)
            cited = set(result.cited)
            self.chunks = [
                _chunk_row(c, cited, result.relevance.get(c.n), result.quotes.get(c.n))
                for c in result.chunks
            ]
            self.answer, self.answered, self.test_done = result.answer, result.answered, True
            self.answer_html = markdown_to_html(result.answer)
            source = (
                result.model
                if result.model == result.provider
                else (f"{result.provider} · {result.model}")
            )
            meta = [source, f"{result.latency_ms} ms"]
            if result.tokens:
                meta.append(f"{result.tokens:,} tokens · ${result.cost_usd:.4f}")
            if result.cached:
                meta.append("cached answer")
            if result.qa_pair:
                meta.append("answered by a Q&A pair")
            self.answer_meta = " · ".join(meta)
        return None
