"""Prometheus metrics of this process: HTTP traffic, chat turns, tokens, cost, rate-limit
rejections, and (read at scrape time from the database) ingestion jobs by status.

Counters live in one registry per process; with several worker processes each exposes its
own, which Prometheus sums across scrape targets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import select

from app.models import IngestJob, JobStatus

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "Prometheus metrics: totals across workspaces"

log = logging.getLogger("chatconnect.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "chatconnect_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "chatconnect_http_request_duration_seconds",
    "Time from request to the end of the response (streams included).",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
CHAT_TURNS = Counter(
    "chatconnect_chat_turns",
    "Answered chat turns by channel, provider and outcome.",
    ["channel", "provider", "outcome"],
    registry=REGISTRY,
)
CHAT_TOKENS = Counter(
    "chatconnect_chat_tokens",
    "LLM tokens used by chat turns.",
    ["direction"],
    registry=REGISTRY,
)
CHAT_COST = Counter(
    "chatconnect_chat_cost_usd", "Provider cost of chat turns in US dollars.", registry=REGISTRY
)
RATE_LIMITED = Counter(
    "chatconnect_rate_limit_rejections",
    "Requests refused by a rate limit or budget, by scope.",
    ["scope"],
    registry=REGISTRY,
)
GC_PAUSE = Histogram(
    "chatconnect_gc_pause_seconds",
    "Cyclic garbage collector pauses by generation (app/process_tuning.py).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
    registry=REGISTRY,
)


def record_turn(
    channel: str,
    provider: str,
    *,
    answered: bool,
    cached: bool,
    tokens_in: int,
    tokens_out: int,
    cost_usd: float,
) -> None:
    outcome = "cached" if cached else ("answered" if answered else "unanswered")
    CHAT_TURNS.labels(channel or "web", provider or "none", outcome).inc()
    if tokens_in:
        CHAT_TOKENS.labels("in").inc(tokens_in)
    if tokens_out:
        CHAT_TOKENS.labels("out").inc(tokens_out)
    if cost_usd:
        CHAT_COST.inc(cost_usd)


def record_rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope).inc()


class IngestJobCollector(Collector):
    """Jobs by status, counted in the database when scraped: right across processes."""

    def collect(self) -> Iterator[Metric]:
        from app.db import session_scope  # late: the database is not needed to import this

        family = GaugeMetricFamily(
            "chatconnect_ingestion_jobs", "Ingestion jobs by status.", labels=["status"]
        )
        try:
            with session_scope(system=_CROSS_TENANT) as session:
                rows = session.exec(
                    select(IngestJob.status, func.count()).group_by(IngestJob.status)
                ).all()
        except Exception as exc:  # a scrape must not fail because the database is away
            log.warning("ingestion job counts unavailable: %s", type(exc).__name__)
            return
        counts = {str(status): int(n) for status, n in rows}
        for status in JobStatus:
            family.add_metric([status.value], counts.get(status.value, 0))
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


REGISTRY.register(IngestJobCollector())


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
