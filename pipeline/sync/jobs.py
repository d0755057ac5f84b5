"""The ``crm_push`` and ``crm_pull`` job kinds and how they recover.

The ``item_sync`` table, not the queue, knows what is unfinished: ``crm_push`` recovery
re-submits every due row (left behind by a crash, or waiting for its backoff to end), and
``crm_pull`` recovery, which the queue runs every minute, is the polling loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.jobs.queue import JobContext, JobQueue, job
from pipeline.storage import item_sync
from pipeline.sync import enabled_connectors
from pipeline.sync.engine import SyncEngine

PUSH = "crm_push"
PULL = "crm_pull"


def sync_engine(context: JobContext) -> SyncEngine:
    """The process's engine: its connectors (and their sessions) are built once."""
    engine: SyncEngine = context.service(
        "sync_engine", lambda: SyncEngine(context.settings, context.store)
    )
    return engine


def _recover_pushes(context: JobContext, queue: JobQueue) -> int:
    connectors = enabled_connectors(context.settings)
    if not connectors:
        return 0
    rows = item_sync.due(context.store, now=datetime.now(UTC), connectors=connectors)
    for row in rows:
        queue.submit(PUSH, {"item_id": row.item_id, "connector": row.connector}, tenant=row.tenant)
    return len(rows)


def _schedule_pulls(context: JobContext, queue: JobQueue) -> int:
    submitted = 0
    for connector in enabled_connectors(context.settings):
        for tenant in item_sync.tenants(context.store, connector=connector):
            queue.submit(PULL, {"connector": connector}, tenant=tenant)
            submitted += 1
    return submitted


@job(PUSH, recover=_recover_pushes)
def crm_push(context: JobContext, payload: dict[str, Any], tenant: str) -> None:
    """Push one item; connector failures are recorded on its row, not raised (the row's own
    backoff and the recover retry it), so only storage failures reach the queue."""
    sync_engine(context).push(tenant, int(payload["item_id"]), str(payload["connector"]))


@job(PULL, recover=_schedule_pulls)
def crm_pull(context: JobContext, payload: dict[str, Any], tenant: str) -> None:
    """Apply one connector's remote changes; a failure is retried by the queue."""
    sync_engine(context).pull(tenant, str(payload["connector"]))
