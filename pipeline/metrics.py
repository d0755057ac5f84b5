"""Prometheus metrics shared by the web process and the job workers.

The counters live in the process that does the work; in the scale-out mode (separate
``chat2task worker`` processes) figures that must add up across processes (deliveries by
status, queue depth) are read from the database and the queue at scrape time instead.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter(
    "chat2task_messages_in_total",
    "Inbound messages accepted by a webhook (duplicates excluded)",
    ["channel"],
    registry=REGISTRY,
)
ITEMS_CREATED = Counter(
    "chat2task_items_created_total",
    "Tasks and events created by extraction",
    ["type"],
    registry=REGISTRY,
)
EXTRACTION_SECONDS = Histogram(
    "chat2task_extraction_seconds",
    "Time to extract one inbound message (NLP, dates, assignment, storage)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
WEBHOOK_SECONDS = Histogram(
    "chat2task_webhook_seconds",
    "Time from a webhook request arriving to its acknowledgement",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
