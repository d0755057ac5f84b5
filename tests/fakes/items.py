"""Stored items as a connector receives them, built with only what a test cares about."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pipeline.domain import Entity, Grain, ItemType, Priority
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus

_NAMESPACE = uuid.UUID("6f1c2a44-36b5-4c1e-9d8e-3d0f5b3a7c11")


def stored_item(key: str = "m1", **changes: Any) -> StoredItem:
    """A task due Friday 27 November 2026 at 15:00 UTC; ``key`` makes its external id."""
    now = datetime.now(UTC).replace(microsecond=0)
    item = StoredItem(
        id=1,
        external_id=str(uuid.uuid5(_NAMESPACE, key)),
        tenant="default",
        type=ItemType.TASK,
        title="Send Q3 report to Acme",
        priority=Priority.HIGH,
        status=ItemStatus.OPEN,
        due=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
        start=None,
        end=None,
        grain=Grain.MINUTE,
        due_source="explicit",
        time_text="Friday 3pm",
        assignee="Sarah Cole",
        assignee_reason="addressed",
        confidence=0.8,
        entities=(),
        created_at=now,
        updated_at=now,
        extractor_version="test",
        source="whatsapp",
        chat="Northwind Sales",
        message_keys=(key,),
    )
    return replace(item, **changes)


def entity(text: str, label: str, key: str | None = None) -> Entity:
    return Entity(text=text, label=label, start_char=0, end_char=len(text), key=key)
