"""Keeping CRMs in step with the items: push on every change, poll for remote changes.

:func:`item_changed` is the one hook the rest of chat2task calls (after an extraction, a
chat command or an API edit). The job kinds live in :mod:`pipeline.sync.jobs`, the engine in
:mod:`pipeline.sync.engine`; this module stays light because the CLI imports the package for
its commands, and ``chat2task dates`` should not load the storage layer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.jobs.queue import JobContext, JobQueue

log = logging.getLogger(__name__)


def enabled_connectors(settings: Settings) -> list[str]:
    """The names of the connectors to push to and poll."""
    return [name for name, config in settings.connectors.items() if config.enabled]


def item_changed(
    context: JobContext, queue: JobQueue, tenant: str, item_ids: Sequence[int]
) -> None:
    """Push these items (created, edited, completed, rescheduled) to every enabled connector.

    The rows are marked pending before the jobs are submitted, so a lost job is found again
    by the ``crm_push`` recover. A no-op when no connector is configured.
    """
    from pipeline.storage import item_sync
    from pipeline.sync.jobs import PUSH  # also registers the job kinds with the queue

    connectors = enabled_connectors(context.settings)
    if not connectors or not item_ids:
        return
    item_sync.mark_pending(context.store, tenant=tenant, item_ids=item_ids, connectors=connectors)
    for item_id in item_ids:
        for connector in connectors:
            queue.submit(PUSH, {"item_id": item_id, "connector": connector}, tenant=tenant)


def push_now(context: JobContext, queue: JobQueue, tenant: str, item_ids: Sequence[int]) -> None:
    """Push new items at once, in this worker, so the WhatsApp confirmation can name the
    CRM records ("Added to CRM as task #…"). Whatever does not go through now (rate limit,
    outage) stays pending for the ``crm_push`` jobs; a broken connector set-up falls back to
    them too, where it ends in the dead-letter list with its reason."""
    from pipeline.errors import Chat2TaskError
    from pipeline.storage import item_sync
    from pipeline.sync.jobs import sync_engine

    connectors = enabled_connectors(context.settings)
    if not connectors or not item_ids:
        return
    try:
        engine = sync_engine(context)
    except Chat2TaskError:
        log.exception("CRM sync is misconfigured; pushes are left to the crm_push jobs")
        item_changed(context, queue, tenant, item_ids)
        return
    item_sync.mark_pending(context.store, tenant=tenant, item_ids=item_ids, connectors=connectors)
    for item_id in item_ids:
        for connector in connectors:
            engine.push(tenant, item_id, connector)


__all__ = ["enabled_connectors", "item_changed", "push_now"]
