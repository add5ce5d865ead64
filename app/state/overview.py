"""Overview: KPIs of the last 30 days, recent conversations, the setup checklist."""

from __future__ import annotations

import reflex as rx

from app.db import session_scope
from app.services import analytics, conversation_log, model_catalog, onboarding
from app.state.auth import AuthState
from app.state.insights_views import ConversationView, KpiView, conversation_view, kpi_views

PERIOD_DAYS = 30


class OverviewState(AuthState):
    loaded: bool = False
    kpis: list[KpiView] = []
    recent: list[ConversationView] = []
    has_widget: bool = False
    has_knowledge: bool = False
    tested: bool = False
    embedded: bool = False
    steps_done: int = 0
    has_provider: bool = True  # False: answers are quoted passages (offline)

    @rx.event
    def load(self):
        ident = self._require()
        with session_scope() as session:
            report = analytics.kpi_report(
                session, ident.tenant_id, analytics.Period.last_days(PERIOD_DAYS)
            )
            rows = conversation_log.recent_conversations(session, ident.tenant_id, limit=5)
            ticks = onboarding.checklist(session, ident.tenant_id)
            self.has_provider = bool(model_catalog.workspace_providers(session, ident.tenant_id))
        self.kpis = kpi_views(report, PERIOD_DAYS)
        self.recent = [conversation_view(r) for r in rows]
        self.has_widget = ticks.widget_created
        self.has_knowledge = ticks.knowledge_added
        self.tested = ticks.tested
        self.embedded = ticks.embedded
        self.steps_done = ticks.done
        self.loaded = True
