"""Inbound messages from the webhooks: stored, then handed to the ``inbound`` job.

Providers retry deliveries they think failed, so a message is acknowledged only once it is
in the database, and only messages stored for the first time are queued (a redelivery is
a no-op). Concurrent deliveries are written together ("group commit"): while one write is
in flight the next ones gather, then go in one transaction and one queue submission. When
the service is idle a delivery is written at once; under load the number of transactions
stays low and the acknowledgement latency flat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.domain import Message
from pipeline.jobs.queue import JobQueue
from pipeline.metrics import MESSAGES_IN
from pipeline.storage import MessageRef, Store

log = logging.getLogger(__name__)

INBOUND_JOB = "inbound"


@dataclass(slots=True)
class _Delivery:
    messages: Sequence[Message]
    tenant: str
    channel: str
    done: asyncio.Future[int]
    new_ids: list[int] = field(default_factory=list)


class Inbox:
    """Store inbound messages (deduplicated by provider id) and queue the new ones."""

    def __init__(self, store: Store, queue: JobQueue) -> None:
        self._store = store
        self._queue = queue
        self._waiting: list[_Delivery] = []
        self._writer: asyncio.Task[None] | None = None

    async def accept(self, messages: Sequence[Message], *, tenant: str, channel: str) -> int:
        """Return once ``messages`` are stored; the result is how many were new."""
        if not messages:
            return 0
        delivery = _Delivery(messages, tenant, channel, asyncio.get_running_loop().create_future())
        self._waiting.append(delivery)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        return await delivery.done

    async def close(self) -> None:
        """Finish the writes in flight (on shutdown, before the store closes)."""
        if self._writer is not None:
            await self._writer

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            groups: defaultdict[tuple[str, str], list[_Delivery]] = defaultdict(list)
            for delivery in batch:
                groups[delivery.tenant, delivery.channel].append(delivery)
            for (tenant, channel), deliveries in groups.items():
                try:
                    await asyncio.to_thread(self._write, deliveries, tenant, channel)
                except Exception as exc:  # each waiting request answers with the failure
                    for delivery in deliveries:
                        _settle(delivery.done, exc)
                else:
                    for delivery in deliveries:
                        _settle(delivery.done, len(delivery.new_ids))

    def _write(self, deliveries: list[_Delivery], tenant: str, channel: str) -> None:
        messages = [m for delivery in deliveries for m in delivery.messages]
        result = self._store.save_messages(messages, tenant=tenant)
        unclaimed = set(result.new)
        for delivery in deliveries:
            for message in delivery.messages:
                ref = MessageRef.of(message)
                if ref in unclaimed:  # a message repeated in one batch is new only once
                    unclaimed.discard(ref)
                    delivery.new_ids.append(result.ids[ref])
        new_ids = [id_ for delivery in deliveries for id_ in delivery.new_ids]
        MESSAGES_IN.labels(channel=channel).inc(len(new_ids))
        if not new_ids:
            return
        try:
            self._queue.submit(
                INBOUND_JOB, {"message_ids": new_ids, "channel": channel}, tenant=tenant
            )
        except Exception:
            # The messages are stored: the job's recovery finds them unprocessed and queues
            # them once the queue is back, so the provider still gets its acknowledgement.
            log.exception("could not queue %d inbound message(s)", len(new_ids))


def _settle(future: asyncio.Future[int], outcome: int | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
