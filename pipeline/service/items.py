"""Items people create through the API rather than by writing a chat message.

Every stored item comes from a message (its origin, the CRM and calendar ids derive from
it), so a created item gets a synthetic ``system`` message of source ``api`` holding its
title: the item then behaves like any extracted one, with a stable external id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from pipeline.domain import Grain, Item, ItemType, Message, MessageKind, Priority
from pipeline.storage import Store, StoredItem, external_id
from pipeline.storage.tables import items

SOURCE = "api"
#: Stored as the item's extractor version: it was written by a person, not extracted.
VERSION = "manual"


def create_item(
    store: Store,
    *,
    tenant: str,
    type: ItemType,
    title: str,
    priority: Priority,
    author: str,
    assignee: str | None = None,
    due: datetime | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> StoredItem:
    now = datetime.now(UTC)
    message = Message(
        id=f"api:{uuid.uuid4()}",
        chat=SOURCE,
        author=author,
        sent_at=now,
        text=title,
        kind=MessageKind.SYSTEM,
        source=SOURCE,
    )
    item = Item(
        type=type,
        title=title,
        priority=priority,
        confidence=1.0,
        message_id=message.id,
        due=due,
        start=start,
        end=end,
        grain=Grain.MINUTE if (due or start) else None,
        due_source=VERSION if (due or start) else None,
        assignee=assignee,
        assignee_reason=f"set by {author}" if assignee else None,
    )
    store.ingest([(message, [item])], extractor_version=VERSION, tenant=tenant)
    key = external_id(message, item.index, tenant=tenant)
    with store.transaction() as conn:
        item_id = conn.execute(
            select(items.c.id).where(items.c.tenant == tenant, items.c.external_id == key)
        ).scalar_one()
    return store.get_item(item_id, tenant=tenant)
