"""What the store hands back: plain frozen records, never ORM rows or open connections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from pipeline.domain import Entity, Grain, ItemType, Message, Priority
from pipeline.storage.tables import ItemStatus


class MessageRef(NamedTuple):
    """Identifies a message within a tenant: :attr:`Message.id` is only unique per chat."""

    source: str
    chat: str
    key: str

    @classmethod
    def of(cls, message: Message) -> MessageRef:
        return cls(message.source, message.chat, message.id)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """``existing`` counts messages already stored (or repeated in the input)."""

    inserted: int
    existing: int
    ids: Mapping[MessageRef, int]
    #: The messages this call inserted (the rest were duplicates).
    new: frozenset[MessageRef] = frozenset()


@dataclass(frozen=True, slots=True)
class ItemChanges:
    """What replacing a message's items did; ``unchanged`` rows were left untouched."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass(frozen=True, slots=True)
class IngestResult:
    messages_seen: int
    messages_new: int
    items: ItemChanges


@dataclass(slots=True)
class ImportCounts:
    """Running totals of one import; :meth:`Store.import_run` writes them when it ends."""

    messages_seen: int = 0
    messages_new: int = 0
    items_created: int = 0
    items_updated: int = 0
    items_removed: int = 0
    unparsed_lines: int = 0

    def add(self, result: IngestResult) -> None:
        self.messages_seen += result.messages_seen
        self.messages_new += result.messages_new
        self.items_created += result.items.created
        self.items_updated += result.items.updated
        self.items_removed += result.items.removed


@dataclass(frozen=True, slots=True)
class ImportRun:
    """A recorded import; ``finished_at`` is ``None`` while it runs or if the process died."""

    id: int
    tenant: str
    source: str
    chat: str | None
    path: str | None
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    messages_seen: int
    messages_new: int
    items_created: int
    items_updated: int
    items_removed: int
    unparsed_lines: int


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as stored, with its status and the messages it came from (origin first).

    Datetimes are in UTC; ``source`` and ``chat`` are those of the origin message.
    """

    id: int
    external_id: str
    tenant: str
    type: ItemType
    title: str
    priority: Priority
    status: ItemStatus
    due: datetime | None
    start: datetime | None
    end: datetime | None
    grain: Grain | None
    due_source: str | None
    time_text: str | None
    assignee: str | None
    assignee_reason: str | None
    confidence: float
    entities: tuple[Entity, ...]
    created_at: datetime
    updated_at: datetime
    extractor_version: str
    source: str
    chat: str
    message_keys: tuple[str, ...]
