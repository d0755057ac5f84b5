"""The ``inbound`` job: a stored webhook message becomes a contact update, a command's
answer, or extracted items with their confirmation.

Payload ``{"message_ids": [row ids], "channel": "twilio" | "meta"}``. Replaying a job is
harmless: a message already extracted by this extractor is not extracted again (that would
undo edits made since), its confirmation is re-queued only if missing (``enqueue``
dedupes), and consent keywords carry their send time so an old STOP cannot undo a newer START.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Row, select

from pipeline import sync
from pipeline.domain import Message, MessageKind, Priority
from pipeline.jobs.queue import JobContext, JobQueue, job
from pipeline.jobs.services import extractor
from pipeline.metrics import EXTRACTION_SECONDS, ITEMS_CREATED
from pipeline.notify import keywords, services
from pipeline.notify.answers import answer
from pipeline.notify.contacts import Contact, touch
from pipeline.notify.outbound import enqueue
from pipeline.notify.replies import RemoteLink, confirmation
from pipeline.storage import StoredItem
from pipeline.storage.store import message_from_row
from pipeline.storage.tables import LinkRole, item_messages, item_sync, messages

log = logging.getLogger(__name__)

CHANNELS = ("twilio", "meta")
#: Messages per recovered job: small enough to retry cheaply, large enough to queue few jobs.
RECOVERY_BATCH = 20


@dataclass(frozen=True, slots=True)
class StoredMessage:
    row_id: int
    message: Message
    extractor_version: str | None


def recover_inbound(context: JobContext, queue: JobQueue) -> int:
    """Re-submit webhook messages never extracted (their job died with a worker)."""
    query = (
        select(messages.c.id, messages.c.tenant, messages.c.source)
        .where(messages.c.source.in_(CHANNELS), messages.c.extracted_at.is_(None))
        .order_by(messages.c.id)
    )
    with context.store.transaction() as conn:
        rows = conn.execute(query).all()
    fresh = services.resubmissions(context, "inbound").fresh(
        (row.id, row.tenant, row.source) for row in rows
    )
    batches: dict[tuple[str, str], list[int]] = {}
    for row_id, tenant, channel in fresh:
        batches.setdefault((tenant, channel), []).append(row_id)
    submitted = 0
    for (tenant, channel), ids in batches.items():
        for start in range(0, len(ids), RECOVERY_BATCH):
            chunk = ids[start : start + RECOVERY_BATCH]
            queue.submit("inbound", {"message_ids": chunk, "channel": channel}, tenant=tenant)
            submitted += 1
    return submitted


@job("inbound", recover=recover_inbound)
def process_inbound(context: JobContext, payload: dict[str, Any], tenant: str) -> None:
    for stored in load_messages(context, [int(i) for i in payload["message_ids"]], tenant):
        handle(context, stored, payload["channel"], tenant)


def load_messages(context: JobContext, ids: Sequence[int], tenant: str) -> list[StoredMessage]:
    query = (
        select(messages)
        .where(messages.c.id.in_(ids), messages.c.tenant == tenant)
        .order_by(messages.c.id)
    )
    with context.store.transaction() as conn:
        return [_stored(row) for row in conn.execute(query)]


def handle(context: JobContext, stored: StoredMessage, channel: str, tenant: str) -> None:
    message = stored.message
    person = extractor(context).roster.person_by_phone(message.chat)
    contact = touch(
        context.store,
        tenant,
        message.chat,
        channel,
        message.author if message.author != message.chat else None,
        message.sent_at,
        person=person.name if person else None,
        timezone=person.timezone if person else None,
    )
    command = keywords.parse(message.text) if message.kind is MessageKind.TEXT else None
    if command is None:
        _extract(context, stored, contact)
        return
    answer(context, contact, command, message_id=stored.row_id, at=message.sent_at)
    if stored.extractor_version is None:  # mark it handled, so recovery leaves it alone
        context.store.ingest(
            [(message, [])], extractor_version=extractor(context).version, tenant=tenant
        )


def _extract(context: JobContext, stored: StoredMessage, contact: Contact) -> None:
    """Extract (unless done before), count, tell the CRM sync, and confirm."""
    found = extractor(context)
    before = _item_ids(context, stored.row_id)
    fresh = stored.extractor_version != found.version
    # The roster name lets "I'll send it" be assigned to the person behind the number.
    speaker = replace(stored.message, author=contact.person or stored.message.author)
    if fresh:
        with EXTRACTION_SECONDS.time():
            context.store.ingest(
                [(speaker, found.extract(speaker))],
                extractor_version=found.version,
                tenant=contact.tenant,
            )
    items = sorted(
        context.store.get_items(_item_ids(context, stored.row_id), tenant=contact.tenant),
        key=lambda item: item.id,
    )
    for item in items:
        if item.id not in before:
            ITEMS_CREATED.labels(type=item.type.value).inc()
    if fresh and items:
        _tell_sync(context, contact.tenant, [item.id for item in items])
    _confirm(context, stored, contact, items, could_hold_work=found.could_hold_work(speaker))


def _confirm(
    context: JobContext,
    stored: StoredMessage,
    contact: Contact,
    items: Sequence[StoredItem],
    *,
    could_hold_work: bool,
) -> None:
    """Confirm the items; say "nothing found" only when the message looked like work
    (no reply to "thanks!")."""
    templates = services.templates(context)
    if items:
        body = confirmation(
            templates,
            items,
            _links(context, [item.id for item in items]),
            contact.zone(context.settings.timezone),
            services.clock(context)(),
        )
        urgent = any(item.priority is Priority.URGENT for item in items)
        kind = "confirmation"
    elif could_hold_work:
        body, urgent, kind = templates.render("nothing_found"), False, "reply"
    else:
        return
    enqueue(context, contact, body=body, kind=kind, urgent=urgent, in_reply_to=stored.row_id)


def _tell_sync(context: JobContext, tenant: str, item_ids: list[int]) -> None:
    """Push new and changed items to the CRMs before confirming, so the reply can name them."""
    sync.push_now(context, services.job_queue(context), tenant, item_ids)


def _item_ids(context: JobContext, message_row_id: int) -> set[int]:
    query = select(item_messages.c.item_id).where(
        item_messages.c.message_id == message_row_id,
        item_messages.c.role == LinkRole.ORIGIN.value,
    )
    with context.store.transaction() as conn:
        return set(conn.execute(query).scalars())


def _links(context: JobContext, item_ids: list[int]) -> dict[int, list[RemoteLink]]:
    """Records the CRM sync already made (usually none yet when we confirm: that is fine)."""
    query = select(item_sync).where(
        item_sync.c.item_id.in_(item_ids), item_sync.c.remote_id.is_not(None)
    )
    links: dict[int, list[RemoteLink]] = {}
    with context.store.transaction() as conn:
        for row in conn.execute(query.order_by(item_sync.c.connector)):
            link = RemoteLink(row.connector, row.remote_id)
            links.setdefault(row.item_id, []).append(link)
    return links


def _stored(row: Row[Any]) -> StoredMessage:
    return StoredMessage(row.id, message_from_row(row), row.extractor_version)
