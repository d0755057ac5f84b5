"""Operations endpoints: ``/healthz`` for load balancers, ``/metrics`` for Prometheus.

Figures that must add up across processes (queue depth, deliveries by status) are read
from the queue and the database when Prometheus scrapes, not counted in this process:
with separate ``chat2task worker`` processes, this one never sees most deliveries.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from pipeline.jobs.queue import JobQueue
from pipeline.metrics import REGISTRY
from pipeline.service.auth import presented_key
from pipeline.service.errors import ApiError
from pipeline.service.schemas import Health
from pipeline.service.state import STATE, blocking, state
from pipeline.storage import Store
from pipeline.storage.tables import outbound_messages

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _database_ok(store: Store) -> bool:
    try:
        with store.transaction() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any failure means "not usable", whatever the driver raised
        return False
    return True


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers and the queue is reachable; 503 naming what failed."""
    service = state(request)
    checks = {
        "database": "ok" if await blocking(_database_ok, service.store) else "failed",
        "queue": "ok" if await blocking(service.queue.ping) else "failed",
    }
    healthy = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if healthy else "unavailable", checks=checks)
    return web.Response(
        text=body.model_dump_json(), status=200 if healthy else 503, content_type="application/json"
    )


class ScrapeTimeCollector(Collector):
    """Queue depth and outbound messages by tenant, channel and status, read per scrape."""

    def __init__(self, store: Store, queue: JobQueue) -> None:
        self._store = store
        self._queue = queue

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("chat2task_queue_depth", "Jobs waiting, including scheduled")
        depth.add_metric([], self._queue.depth())
        yield depth
        outbound = GaugeMetricFamily(
            "chat2task_outbound_messages",
            "Messages we sent (or hold), by delivery status",
            labels=["tenant", "channel", "status"],
        )
        columns = (
            outbound_messages.c.tenant,
            outbound_messages.c.channel,
            outbound_messages.c.status,
        )
        with self._store.transaction() as conn:
            for tenant, channel, status, count in conn.execute(
                select(*columns, func.count()).group_by(*columns)
            ):
                outbound.add_metric([tenant, channel, status], count)
        yield outbound


def registry_for(store: Store, queue: JobQueue) -> CollectorRegistry:
    """A registry of this application's scrape-time figures (one per app, so tests can
    build many apps without registering the same collector twice globally)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeTimeCollector(store, queue))
    return registry


METRICS = web.AppKey("metrics", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text: the process's counters and histograms, then the scrape-time gauges.

    Open unless ``service.metrics_token`` is set; then Prometheus sends it as a bearer token
    (``authorization: {credentials: …}`` in its scrape config).
    """
    token = state(request).settings.service.metrics_token.get_secret_value()
    presented = presented_key(request) or ""
    if token and not hmac.compare_digest(presented.encode(), token.encode()):
        raise ApiError(
            401, "unauthorized", "send the metrics token as 'Authorization: Bearer <token>'"
        )
    own = request.app[METRICS]
    body = await blocking(lambda: generate_latest(REGISTRY) + generate_latest(own))
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})


def add_routes(app: web.Application) -> None:
    app[METRICS] = registry_for(app[STATE].store, app[STATE].queue)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
