"""Analytics: one report for a date range and widget, shaped for the charts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import analytics, widgets
from app.services.analytics import AnalyticsError, Period, Scope
from app.services.handoff_stats import duration, handoff_stats
from app.state.auth import AuthState
from app.state.insights_views import KpiView, kpi_views, when

PRESETS = ("7", "30", "90")


@dataclass
class QuestionView:
    question: str = ""
    count: int = 0
    last: str = ""
    conversation_id: str = ""
    reason: str = ""
    variants: str = ""  # "Do you have a student discount? · student discount"


class AnalyticsState(AuthState):
    loaded: bool = False
    preset: str = "30"
    date_from: str = ""
    date_to: str = ""
    widget_id: str = "all"
    widget_options: list[dict[str, str]] = []
    range_error: str = ""
    range_label: str = ""
    kpis: list[KpiView] = []
    # Chart rows: {"label": "Nov 20", "conversations": 3, ...}; cost in dollars (float).
    days: list[dict[str, float | int | str]] = []
    feedback: list[dict[str, int | str]] = []
    feedback_total: int = 0
    top_questions: list[QuestionView] = []
    unanswered: list[QuestionView] = []
    total_messages: int = 0
    grouping: bool = False  # similar questions are being grouped (embeddings)
    # Which report the background grouping belongs to (a newer filter discards it).
    _generation: int = 0
    cost_total: float = 0.0
    tokens_total: int = 0
    conversations_total: int = 0
    handoff_kpis: list[KpiView] = []
    leads_total: int = 0

    def _period(self) -> Period:
        if self.preset in PRESETS:
            period = Period.last_days(int(self.preset))
            self.date_from, self.date_to = period.start.isoformat(), period.end.isoformat()
            return period
        try:
            start, end = date.fromisoformat(self.date_from), date.fromisoformat(self.date_to)
        except ValueError as exc:
            raise AnalyticsError("Pick both a start and an end date.") from exc
        return Period(start, end)

    def _reload(self):  # type: ignore[no-untyped-def]  (None or the grouping event)
        ident = self._require()
        try:
            period = self._period()
        except AnalyticsError as exc:
            self.range_error = str(exc)
            return
        scope = Scope(widget_id=None if self.widget_id == "all" else self.widget_id)
        try:
            with session_scope() as session:
                # Exact-text groups now; the grouping by meaning follows in the background
                # (it may have to load the embedding model).
                rep = analytics.report(session, ident.tenant_id, period, scope)
                handoff = handoff_stats(session, ident.tenant_id, period, scope.widget_id)
                options = widgets.list_widgets(session, ident.tenant_id)
        except NotFoundError:
            self.widget_id = "all"
            self.range_error = "That widget no longer exists."
            return
        self.range_error = ""
        self.range_label = f"{period.start:%b %d, %Y} to {period.end:%b %d, %Y} (UTC)"
        self.widget_options = [{"id": w.id, "name": w.name} for w in options]
        self.kpis = kpi_views(rep.kpis, period.days)
        self.total_messages = rep.kpis.current.messages
        self.cost_total = round(sum(d.cost_usd for d in rep.days), 6)
        self.tokens_total = sum(d.tokens_in + d.tokens_out for d in rep.days)
        self.conversations_total = sum(d.conversations for d in rep.days)
        leads = dict(handoff.leads_per_day)
        self.leads_total = handoff.leads
        self.handoff_kpis = [
            KpiView(
                key="handoff_rate",
                label="Handoff rate",
                value="—" if handoff.handoff_rate is None else f"{handoff.handoff_rate:.1%}",
                hint=f"{handoff.handoffs} of {handoff.conversations} conversations asked for "
                "a person",
            ),
            KpiView(
                key="first_response_median",
                label="First human reply (median)",
                value=duration(handoff.first_response_median_s),
                hint="From the request to a person's first reply",
            ),
            KpiView(
                key="first_response_p90",
                label="First human reply (p90)",
                value=duration(handoff.first_response_p90_s),
            ),
            KpiView(
                key="resolution_median",
                label="Time to resolution (median)",
                value=duration(handoff.resolution_median_s),
            ),
            KpiView(key="leads", label="Leads", value=str(handoff.leads)),
        ]
        self.days = [
            {
                "leads": leads.get(d.day.isoformat(), 0),
                "label": f"{d.day:%b %d}",
                "day": d.day.isoformat(),
                "conversations": d.conversations,
                "messages": d.messages,
                "tokens_in": d.tokens_in,
                "tokens_out": d.tokens_out,
                "cost": round(d.cost_usd, 6),
            }
            for d in rep.days
        ]
        fb = rep.feedback
        self.feedback = [
            {"name": "Helpful", "value": fb.up, "fill": "var(--green-9)"},
            {"name": "Not helpful", "value": fb.down, "fill": "var(--red-9)"},
            {"name": "No feedback", "value": fb.none, "fill": "var(--gray-7)"},
        ]
        self.feedback_total = fb.up + fb.down + fb.none
        self.top_questions = [_question(q) for q in rep.top_questions]
        self.unanswered = [_question(q) for q in rep.unanswered]
        self.loaded = True
        self._generation += 1
        self.grouping = bool(rep.top_questions)
        return AnalyticsState.group_similar_questions if self.grouping else None

    @rx.event(background=True)
    async def group_similar_questions(self):
        """Regroup the question lists by meaning, off the event loop."""
        async with self:
            ident = self._require()
            generation = self._generation
            try:
                period = self._period()
            except AnalyticsError:
                self.grouping = False
                return
            scope = Scope(widget_id=None if self.widget_id == "all" else self.widget_id)

        def compute() -> tuple[list[analytics.QuestionCount], list[analytics.QuestionCount]]:
            embed = analytics.question_embedder()
            with session_scope() as session:
                return (
                    analytics.top_questions(session, ident.tenant_id, period, scope, embed=embed),
                    analytics.unanswered_questions(
                        session, ident.tenant_id, period, scope, embed=embed
                    ),
                )

        top, unanswered = await asyncio.to_thread(compute)
        async with self:
            if generation != self._generation:
                return  # the filters changed meanwhile; that reload regroups itself
            self.top_questions = [_question(q) for q in top]
            self.unanswered = [_question(q) for q in unanswered]
            self.grouping = False

    @rx.event
    def load(self):
        return self._reload()

    @rx.event
    def choose_preset(self, value: str | list[str]):
        value = value if isinstance(value, str) else (value[0] if value else "30")
        self.preset = value if value in (*PRESETS, "custom") else "30"
        if self.preset != "custom":
            return self._reload()
        return None

    @rx.event
    def choose_from(self, value: str):
        self.preset, self.date_from = "custom", value
        return self._reload()

    @rx.event
    def choose_to(self, value: str):
        self.preset, self.date_to = "custom", value
        return self._reload()

    @rx.event
    def choose_widget(self, value: str):
        self.widget_id = value
        return self._reload()


def _question(q: analytics.QuestionCount) -> QuestionView:
    return QuestionView(
        question=q.question,
        count=q.count,
        last=when(q.last_asked),
        conversation_id=q.conversation_id,
        reason=q.reason,
        variants=" · ".join(q.variants),
    )
