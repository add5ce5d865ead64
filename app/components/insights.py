"""UI pieces of the Overview, Conversations and Analytics pages: KPI cards, chart cards,
skeletons, badges. Values arrive preformatted from the states."""

from __future__ import annotations

import reflex as rx

from app.state.insights_views import KpiView


def kpi_card(kpi: KpiView) -> rx.Component:
    color = rx.cond(kpi.good, "green", "red")
    return rx.card(
        rx.vstack(
            rx.text(kpi.label, size="2", color_scheme="gray", weight="medium"),
            rx.text(kpi.value, size="6", weight="bold", id="kpi-" + kpi.key),
            rx.cond(
                kpi.trend != "",
                rx.badge(
                    rx.icon(rx.cond(kpi.trend == "up", "trending-up", "trending-down"), size=12),
                    kpi.delta,
                    color_scheme=color,
                    variant="soft",
                    radius="full",
                ),
                rx.text(kpi.hint, size="1", color_scheme="gray"),
            ),
            spacing="1",
            align="start",
        ),
        width="100%",
    )


def kpi_grid(kpis: rx.Var, grid_id: str = "kpi-grid") -> rx.Component:
    return rx.grid(
        rx.foreach(kpis, kpi_card),
        columns=rx.breakpoints(initial="2", sm="3", lg="5"),
        spacing="3",
        width="100%",
        id=grid_id,
    )


def skeleton_cards(count: int = 5, height: str = "92px") -> rx.Component:
    return rx.grid(
        *[rx.skeleton(rx.box(height=height, width="100%"), loading=True) for _ in range(count)],
        columns=rx.breakpoints(initial="2", sm="3", lg="5"),
        spacing="3",
        width="100%",
    )


def skeleton_rows(count: int = 5) -> rx.Component:
    return rx.vstack(
        *[rx.skeleton(rx.box(height="40px", width="100%"), loading=True) for _ in range(count)],
        spacing="2",
        width="100%",
    )


def section_card(title: str, *children: rx.Component, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3", weight="medium", as_="h2"),
            *children,
            spacing="3",
            width="100%",
        ),
        width="100%",
        min_width="0",
        **props,
    )


def chart_tooltip() -> rx.Component:
    return rx.recharts.graphing_tooltip(
        content_style={
            "background": rx.color("gray", 1),
            "border": f"1px solid {rx.color('gray', 5)}",
            "borderRadius": "8px",
        },
        label_style={"color": rx.color("gray", 12)},
        item_style={"color": rx.color("gray", 11)},
        cursor={"fill": rx.color("gray", 3)},
    )


# Every per-day chart uses the same x axis (band scale: a bar chart's bars and a line
# chart's points sit at the same x for the same day) and the same y-axis width, so the
# charts stacked on the page line up day for day.
Y_AXIS_WIDTH = 56


def x_axis() -> rx.Component:
    return rx.recharts.x_axis(
        data_key="label",
        scale="band",
        tick_line=False,
        axis_line=False,
        min_tick_gap=16,
        tick={"fontSize": 11, "fill": rx.color("gray", 10)},
    )


def y_axis(**props) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.recharts.y_axis(
        tick_line=False,
        axis_line=False,
        width=Y_AXIS_WIDTH,
        allow_decimals=props.pop("allow_decimals", False),
        tick={"fontSize": 11, "fill": rx.color("gray", 10)},
        **props,
    )


def grid_lines() -> rx.Component:
    return rx.recharts.cartesian_grid(
        stroke_dasharray="3 3", vertical=False, stroke=rx.color("gray", 5)
    )


CHANNEL_LABELS = {"web": "Visitor", "dashboard": "Dashboard test", "api": "API"}


def channel_badge(channel: rx.Var) -> rx.Component:
    return rx.badge(
        rx.match(channel, *CHANNEL_LABELS.items(), channel),
        # High contrast: the soft blue badge's text is below 4.5:1 on its own background.
        high_contrast=True,
        color_scheme=rx.match(channel, ("web", "blue"), ("api", "purple"), "gray"),
        variant="soft",
    )
