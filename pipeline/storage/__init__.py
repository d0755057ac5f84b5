"""Persistence of messages, items and import runs in SQLite or PostgreSQL.

Open a :class:`Store` with a database URL; the schema is created and upgraded only by the
Alembic migrations shipped in ``migrations/``.
"""

from pipeline.storage.records import (
    ImportCounts,
    ImportRun,
    IngestResult,
    ItemChanges,
    MessageRef,
    SaveResult,
    StoredItem,
)
from pipeline.storage.store import Store, external_id
from pipeline.storage.tables import ItemStatus

__all__ = [
    "ImportCounts",
    "ImportRun",
    "IngestResult",
    "ItemChanges",
    "ItemStatus",
    "MessageRef",
    "SaveResult",
    "Store",
    "StoredItem",
    "external_id",
]
