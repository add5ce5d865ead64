"""Analytics: charts and tables for a date range and widget."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex.vars import FunctionStringVar

from app import routes
from app.components.insights import (
    chart_tooltip,
    grid_lines,
    kpi_grid,
    section_card,
    skeleton_cards,
    x_axis,
    y_axis,
)
from app.components.shell import dashboard_page, page_header
from app.state.analytics import AnalyticsState, QuestionView

CHART_HEIGHT = 220
# Cost ticks in dollars; small values keep their significant digits ($0.0004, not $0).
_DOLLARS = FunctionStringVar.create(
    "(v) => '$' + (v === 0 ? '0' : (v >= 1 ? Number(v).toFixed(2) : Number(v).toPrecision(2))"
    ".replace(/\\.?0+$/, ''))"
)
# Every series draws without Recharts' animation: it adds nothing to figures that load
# once, and a screenshot (or a test) would otherwise catch a half-drawn chart.


def _controls() -> rx.Component:
    s = AnalyticsState
    return rx.card(
        rx.flex(
            rx.segmented_control.root(
                rx.segmented_control.item("7 days", value="7"),
                rx.segmented_control.item("30 days", value="30"),
                rx.segmented_control.item("90 days", value="90"),
                rx.segmented_control.item("Custom", value="custom"),
                value=s.preset,
                on_change=s.choose_preset,
                id="range-preset",
                size=rx.breakpoints(initial="1", sm="2"),
                width=rx.breakpoints(initial="100%", sm="auto"),
            ),
            rx.hstack(
                rx.input(
                    type="date",
                    value=s.date_from,
                    on_change=s.choose_from,
                    id="range-from",
                    flex="1",
                    min_width="0",
                    aria_label="From",
                ),
                rx.text("to", size="2", color_scheme="gray"),
                rx.input(
                    type="date",
                    value=s.date_to,
                    on_change=s.choose_to,
                    id="range-to",
                    flex="1",
                    min_width="0",
                    aria_label="To",
                ),
                align="center",
                spacing="2",
                width=rx.breakpoints(initial="100%", sm="auto"),
            ),
            rx.select.root(
                rx.select.trigger(
                    placeholder="All widgets", id="analytics-widget", aria_label="Widget"
                ),
                rx.select.content(
                    rx.select.item("All widgets", value="all"),
                    rx.foreach(
                        s.widget_options, lambda w: rx.select.item(w["name"], value=w["id"])
                    ),
                ),
                value=s.widget_id,
                on_change=s.choose_widget,
            ),
            spacing="3",
            wrap="wrap",
            align="center",
        ),
        rx.cond(
            s.range_error != "",
            rx.callout(
                s.range_error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                margin_top="12px",
                id="range-error",
            ),
        ),
        width="100%",
    )


def _daily_chart(
    title: str,
    chart: Callable[..., rx.Component],
    *series: rx.Component,
    chart_id: str,
    total: rx.Var,
    dollars: bool = False,
    legend: bool = False,
) -> rx.Component:
    """One card with a per-day chart over AnalyticsState.days (same axes, grid, tooltip).

    A range where the series is all zero gets a single 0 tick instead of Recharts' made-up
    0-4 scale."""
    fmt = {"allow_decimals": True, "tick_formatter": _DOLLARS} if dollars else {}
    y = rx.cond(total > 0, y_axis(**fmt), y_axis(domain=[0, 1], ticks=[0], **fmt))
    extras = (
        [rx.recharts.legend(icon_size=10, wrapper_style={"fontSize": "12px"})] if legend else []
    )
    return section_card(
        title,
        chart(
            grid_lines(),
            *series,
            x_axis(),
            y,
            chart_tooltip(),
            *extras,
            data=AnalyticsState.days,
            # One shared day axis: hovering a day shows that day in every chart.
            sync_id="analytics-days",
            width="100%",
            height=CHART_HEIGHT,
        ),
        id=chart_id,
    )


def _conversations_chart() -> rx.Component:
    return _daily_chart(
        "Conversations per day",
        rx.recharts.area_chart,
        rx.recharts.area(
            data_key="conversations",
            name="Conversations",
            stroke=rx.color("accent", 9),
            fill=rx.color("accent", 5),
            type_="linear",
            is_animation_active=False,
        ),
        chart_id="chart-conversations",
        total=AnalyticsState.conversations_total,
    )


def _messages_chart() -> rx.Component:
    return _daily_chart(
        "Messages per day",
        rx.recharts.bar_chart,
        rx.recharts.bar(
            data_key="messages",
            name="Messages",
            fill=rx.color("accent", 9),
            radius=4,
            is_animation_active=False,
        ),
        chart_id="chart-messages",
        total=AnalyticsState.total_messages,
    )


def _tokens_chart() -> rx.Component:
    return _daily_chart(
        "Tokens per day",
        rx.recharts.bar_chart,
        rx.recharts.bar(
            data_key="tokens_in",
            name="Input",
            stack_id="t",
            fill=rx.color("blue", 8),
            is_animation_active=False,
        ),
        rx.recharts.bar(
            data_key="tokens_out",
            name="Output",
            stack_id="t",
            fill=rx.color("violet", 9),
            is_animation_active=False,
        ),
        chart_id="chart-tokens",
        total=AnalyticsState.tokens_total,
        legend=True,
    )


def _cost_chart() -> rx.Component:
    return _daily_chart(
        "Cost per day (USD)",
        rx.recharts.line_chart,
        rx.recharts.line(
            data_key="cost",
            name="Cost (USD)",
            stroke=rx.color("green", 9),
            stroke_width=2,
            dot=False,
            type_="linear",
            is_animation_active=False,
        ),
        chart_id="chart-cost",
        # No cost at all (the offline answerer): one "$0" tick, not a made-up $0-4 scale.
        total=AnalyticsState.cost_total,
        dollars=True,
    )


def _feedback_chart() -> rx.Component:
    s = AnalyticsState
    return section_card(
        "Feedback on answers",
        rx.cond(
            s.feedback_total > 0,
            rx.recharts.pie_chart(
                rx.recharts.pie(
                    data=s.feedback,
                    data_key="value",
                    name_key="name",
                    inner_radius="55%",
                    outer_radius="80%",
                    padding_angle=2,
                    stroke="none",
                    is_animation_active=False,
                ),
                chart_tooltip(),
                rx.recharts.legend(icon_size=10, wrapper_style={"fontSize": "12px"}),
                width="100%",
                height=CHART_HEIGHT,
            ),
            rx.center(
                rx.text("No answers in this range yet.", size="2", color_scheme="gray"),
                height=f"{CHART_HEIGHT}px",
            ),
        ),
        rx.hstack(
            rx.foreach(
                s.feedback,
                lambda f: rx.text(f["name"], ": ", f["value"].to(int), size="1"),
            ),
            spacing="3",
            wrap="wrap",
            id="feedback-figures",
        ),
        id="chart-feedback",
    )


def _question_table(
    title: str, rows: rx.Var, empty: str | rx.Var, table_id: str, show_reason: bool
) -> rx.Component:
    def row(q: QuestionView) -> rx.Component:
        return rx.table.row(
            rx.table.cell(
                rx.link(
                    q.question,
                    href=routes.CONVERSATIONS + "/" + q.conversation_id,
                    size="2",
                    style={"overflowWrap": "anywhere"},
                ),
                rx.cond(
                    q.variants != "",
                    rx.text(
                        "Also asked as: ",
                        q.variants,
                        size="1",
                        color_scheme="gray",
                        class_name="question-variants",
                        style={"overflowWrap": "anywhere"},
                    ),
                ),
                rx.cond(
                    show_reason & (q.reason != ""),
                    rx.box(
                        rx.badge(
                            q.reason,
                            color_scheme=rx.cond(q.reason == "unanswered", "amber", "orange"),
                            variant="soft",
                        ),
                        padding_top="4px",
                    ),
                ),
            ),
            rx.table.cell(q.count, text_align="right"),
            rx.table.cell(rx.text(q.last, size="1", color_scheme="gray", white_space="nowrap")),
        )

    return section_card(
        title,
        rx.cond(
            rows.length() > 0,
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Question"),
                            rx.table.column_header_cell("Times", text_align="right"),
                            rx.table.column_header_cell("Last asked"),
                        )
                    ),
                    rx.table.body(rx.foreach(rows, row)),
                    size="1",
                    width="100%",
                ),
                overflow_x="auto",
                width="100%",
            ),
            rx.text(empty, size="2", color_scheme="gray", padding_y="12px"),
        ),
        id=table_id,
    )


@dashboard_page(routes.ANALYTICS, "Analytics")
def analytics() -> rx.Component:
    s = AnalyticsState
    two_columns = rx.breakpoints(initial="1", md="2")
    return rx.vstack(
        page_header("Analytics", "Trends across conversations, tokens, cost and feedback."),
        _controls(),
        rx.cond(
            s.loaded,
            rx.vstack(
                rx.text(s.range_label, size="2", color_scheme="gray", id="range-label"),
                kpi_grid(s.kpis),
                rx.cond(
                    s.total_messages == 0,
                    rx.callout(
                        "No visitor messages in this range. Test a widget in its preview or "
                        "embed it on your site; dashboard test chats are not counted here.",
                        icon="info",
                        width="100%",
                        id="analytics-empty",
                    ),
                ),
                rx.grid(
                    _conversations_chart(),
                    _messages_chart(),
                    _tokens_chart(),
                    _cost_chart(),
                    columns=two_columns,
                    spacing="4",
                    width="100%",
                ),
                rx.grid(
                    _feedback_chart(),
                    _question_table(
                        "Top questions",
                        s.top_questions,
                        "No questions in this range.",
                        "top-questions",
                        False,
                    ),
                    columns=two_columns,
                    spacing="4",
                    width="100%",
                ),
                rx.cond(
                    s.grouping,
                    rx.text(
                        "Grouping questions that mean the same…",
                        size="1",
                        color_scheme="gray",
                        id="questions-grouping",
                    ),
                ),
                rx.heading("Human handoff", size="4", as_="h2"),
                kpi_grid(s.handoff_kpis, "handoff-kpis"),
                _daily_chart(
                    "Leads per day",
                    rx.recharts.bar_chart,
                    rx.recharts.bar(
                        data_key="leads",
                        name="Leads",
                        fill=rx.color("accent", 9),
                        is_animation_active=False,
                    ),
                    chart_id="chart-leads",
                    total=s.leads_total,
                ),
                _question_table(
                    "Unanswered or low-confidence questions",
                    s.unanswered,
                    rx.cond(
                        s.total_messages > 0,
                        "Every question in this range got a confident answer.",
                        "No questions in this range yet.",
                    ),
                    "unanswered-questions",
                    True,
                ),
                spacing="4",
                width="100%",
            ),
            rx.vstack(skeleton_cards(), skeleton_cards(2, "240px"), spacing="4", width="100%"),
        ),
        spacing="4",
        width="100%",
        on_mount=s.load,
    )
