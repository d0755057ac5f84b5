"""The repository: every read and write of chat2task goes through :class:`Store`.

Each public method runs in one transaction, so a failure leaves nothing half-written. Writes
use bulk statements (``INSERT ... ON CONFLICT`` with ``RETURNING``): an import of tens of
thousands of messages costs a few dozen round trips, not one per row.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from types import TracebackType
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo

from alembic.util import CommandError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from pipeline.domain import (
    Attachment,
    Entity,
    Grain,
    Item,
    ItemType,
    Message,
    MessageKind,
    Priority,
)
from pipeline.errors import InputError, StorageError
from pipeline.storage import engine as db
from pipeline.storage.records import (
    ImportCounts,
    ImportRun,
    IngestResult,
    ItemChanges,
    MessageRef,
    SaveResult,
    StoredItem,
)
from pipeline.storage.tables import (
    ItemStatus,
    LinkRole,
    import_runs,
    item_messages,
    items,
    messages,
)

#: Fixed forever: changing it would change every item's external id (the CRM upsert key).
ITEM_NAMESPACE = uuid.UUID("5d1f6a52-6c1e-4f0b-9a53-6b1c2e7d8f40")
#: Keys per ``IN (...)`` list: well below SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 900
#: Item columns an extraction writes; status and created_at belong to the stored row.
_EXTRACTED = (
    "type", "title", "priority", "due", "start", "end", "grain", "due_source", "time_text",
    "assignee", "assignee_reason", "confidence", "entities", "extractor_version",
)  # fmt: skip

#: Item columns a user (or a CRM) may change after extraction.
EDITABLE = ("status", "title", "priority", "due", "start", "end", "assignee")

T = TypeVar("T")


def external_id(message: Message, index: int, *, tenant: str = "default") -> str:
    """The stable id of a message's ``index``-th item: the same on every re-import."""
    name = "\x1f".join((tenant, message.source, message.chat, message.id, str(index)))
    return str(uuid.uuid5(ITEM_NAMESPACE, name))


class Store:
    """Messages, items and import runs in SQLite or PostgreSQL; open it with :meth:`open`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.url = db.redact(engine.url)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect (and by default migrate), failing early with a :class:`StorageError`."""
        parsed = db.parse_url(url)
        engine = db.connect(parsed)
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StorageError(
                f"Cannot open the database {db.redact(parsed)}: {_reason(exc)}. "
                + db.connection_hint(parsed)
            ) from exc
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it already is."""
        try:
            db.upgrade(self._engine)
        except (SQLAlchemyError, CommandError) as exc:
            raise StorageError(
                f"Cannot migrate the database {self.url}: {_reason(exc)}. If a newer chat2task "
                "created it, upgrade chat2task; otherwise restore a backup or use a new database."
            ) from exc

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; the repositories beside this module (contacts, outbound, sync…)
        build on it so every table shares one engine and one error translation."""
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StorageError(f"Database error on {self.url}: {_reason(exc)}") from exc

    # -- writes -----------------------------------------------------------------------------

    def save_messages(self, messages: Sequence[Message], *, tenant: str = "default") -> SaveResult:
        """Store messages; ones already stored (same source, chat and id) are left as they are."""
        with self.transaction() as conn:
            ids, new = _insert_messages(
                conn, _unique(messages, MessageRef.of), tenant, _now(), extracted_by=None
            )
        return SaveResult(
            inserted=len(new), existing=len(messages) - len(new), ids=ids, new=frozenset(new)
        )

    def replace_items(
        self,
        message: Message,
        items: Sequence[Item],
        *,
        extractor_version: str,
        tenant: str = "default",
    ) -> ItemChanges:
        """Make ``items`` the message's items: see :meth:`ingest`."""
        return self.ingest(
            [(message, items)], extractor_version=extractor_version, tenant=tenant
        ).items

    def ingest(
        self,
        batch: Sequence[tuple[Message, Sequence[Item]]],
        *,
        extractor_version: str,
        tenant: str = "default",
    ) -> IngestResult:
        """Save messages and replace their items, all or nothing.

        An item keeps its row (id, status, created_at) across re-extractions: it is found by
        its external id (message + index). Rows whose content did not change are not touched;
        items a message no longer yields are deleted. Each message is marked as extracted by
        ``extractor_version``. A message given twice keeps the items of its last occurrence.
        """
        latest: dict[MessageRef, tuple[Message, Sequence[Item]]] = {}
        for message, found in batch:
            _check_items(message, found)
            latest[MessageRef.of(message)] = (message, found)
        with self.transaction() as conn:
            now = _now()
            ids, new = _insert_messages(
                conn, [m for m, _ in latest.values()], tenant, now, extracted_by=extractor_version
            )
            changes = _replace_items(
                conn, latest, ids, new, tenant=tenant, version=extractor_version, now=now
            )
        return IngestResult(messages_seen=len(batch), messages_new=len(new), items=changes)

    def set_status(self, item_id: int, status: str, *, tenant: str = "default") -> StoredItem:
        """Mark an item open, done or cancelled; re-extraction never resets it."""
        return self.update_item(item_id, {"status": status}, tenant=tenant)

    def update_item(
        self, item_id: int, changes: Mapping[str, Any], *, tenant: str = "default"
    ) -> StoredItem:
        """Change an item from the API, a chat command or a CRM: ``changes`` maps any of
        :data:`EDITABLE` to its new value (``None`` clears due/start/end/assignee)."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise InputError(
                f"cannot change {', '.join(sorted(unknown))}: editable are {', '.join(EDITABLE)}"
            )
        values = dict(changes)
        if "status" in values:
            values["status"] = _status(values["status"]).value
        if "priority" in values:
            values["priority"] = Priority(values["priority"]).value
        for key in ("due", "start", "end"):
            if values.get(key) is not None and values[key].tzinfo is None:
                raise InputError(f"{key} needs a time zone (got {values[key].isoformat()})")
        with self.transaction() as conn:
            changed = conn.execute(
                update(items)
                .where(items.c.id == item_id, items.c.tenant == tenant)
                .values(**values, updated_at=_now())
            )
            if changed.rowcount == 0:
                raise InputError(f"There is no item {item_id}: list the items to see their ids")
            return _fetch_items(conn, _items_query(tenant).where(items.c.id == item_id))[0]

    def get_items(self, item_ids: Iterable[int], *, tenant: str = "default") -> list[StoredItem]:
        """The items with these ids that belong to ``tenant`` (others are silently absent)."""
        wanted = list(item_ids)
        found: list[StoredItem] = []
        with self.transaction() as conn:
            for chunk in _chunks(wanted):
                found += _fetch_items(conn, _items_query(tenant).where(items.c.id.in_(chunk)))
        return found

    def get_item(self, item_id: int, *, tenant: str = "default") -> StoredItem:
        found = self.get_items([item_id], tenant=tenant)
        if not found:
            raise InputError(f"There is no item {item_id}: list the items to see their ids")
        return found[0]

    @contextmanager
    def import_run(
        self,
        *,
        source: str,
        chat: str | None = None,
        path: str | None = None,
        tenant: str = "default",
    ) -> Iterator[ImportCounts]:
        """Record an import: add each batch's :class:`IngestResult` to the yielded counts.

        The run is committed when it starts, so a crashed import stays visible (no
        ``finished_at``); a failed one records its error.
        """
        with self.transaction() as conn:
            run_id = conn.execute(
                import_runs.insert()
                .values(tenant=tenant, source=source, chat=chat, path=path, started_at=_now())
                .returning(import_runs.c.id)
            ).scalar_one()
        counts = ImportCounts()
        error: str | None = None
        try:
            yield counts
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self.transaction() as conn:
                conn.execute(
                    update(import_runs)
                    .where(import_runs.c.id == run_id)
                    .values(finished_at=_now(), error=error, **dataclasses.asdict(counts))
                )

    # -- reads ------------------------------------------------------------------------------

    def pending_messages(
        self, *, extractor_version: str, limit: int = 1000, tenant: str = "default"
    ) -> list[Message]:
        """Messages never extracted, or extracted by another extractor version, in stored order."""
        query = (
            select(messages)
            .where(
                messages.c.tenant == tenant,
                or_(
                    messages.c.extractor_version.is_(None),
                    messages.c.extractor_version != extractor_version,
                ),
            )
            .order_by(messages.c.id)
            .limit(limit)
        )
        with self.transaction() as conn:
            return [message_from_row(row) for row in conn.execute(query)]

    def list_items(
        self,
        *,
        tenant: str = "default",
        type: ItemType | None = None,
        status: str | None = "open",
        priority: Priority | None = None,
        assignee: str | None = None,
        chat: str | None = None,
        due_from: datetime | None = None,
        due_to: datetime | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[StoredItem]:
        """Items matching every given filter, soonest first (undated last).

        The date range is half-open (``due_from <= when < due_to``) on a task's due date or an
        event's start; ``search`` is a case-insensitive substring of the title.
        """
        when = func.coalesce(items.c.due, items.c.start)
        conditions: list[ColumnElement[bool]] = []
        if type is not None:
            conditions.append(items.c.type == type.value)
        if status is not None:
            conditions.append(items.c.status == _status(status).value)
        if priority is not None:
            conditions.append(items.c.priority == priority.value)
        if assignee is not None:
            conditions.append(items.c.assignee == assignee)
        if chat is not None:
            conditions.append(
                exists()
                .where(item_messages.c.item_id == items.c.id)
                .where(item_messages.c.message_id == messages.c.id, messages.c.chat == chat)
            )
        if due_from is not None:
            conditions.append(when >= due_from)
        if due_to is not None:
            conditions.append(when < due_to)
        if search:
            conditions.append(items.c.title.icontains(search, autoescape=True))
        query = (
            _items_query(tenant)
            .where(*conditions)
            .order_by(when.asc().nulls_last(), items.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.transaction() as conn:
            return _fetch_items(conn, query)

    def counts(self, *, tenant: str = "default") -> dict[str, int]:
        """Totals for the CLI summary: messages, tasks, events, open items, items per priority."""
        totals = {"messages": 0, "tasks": 0, "events": 0, "open": 0}
        totals.update({p.value: 0 for p in Priority})
        by_kind = select(items.c.type, items.c.priority, items.c.status, func.count()).where(
            items.c.tenant == tenant
        )
        with self.transaction() as conn:
            totals["messages"] = conn.execute(
                select(func.count()).where(messages.c.tenant == tenant)
            ).scalar_one()
            grouped = conn.execute(by_kind.group_by(items.c.type, items.c.priority, items.c.status))
            for type_, priority, status, count in grouped:
                totals[f"{type_}s"] += count
                totals[priority] += count
                totals["open"] += count if status == ItemStatus.OPEN else 0
        return totals

    def list_imports(self, *, tenant: str = "default", limit: int = 20) -> list[ImportRun]:
        """The most recent imports, newest first."""
        query = (
            select(import_runs)
            .where(import_runs.c.tenant == tenant)
            .order_by(import_runs.c.id.desc())
            .limit(limit)
        )
        with self.transaction() as conn:
            return [ImportRun(**row._asdict()) for row in conn.execute(query)]


# -- writing ---------------------------------------------------------------------------------


def _insert_messages(
    conn: Connection,
    batch: Sequence[Message],
    tenant: str,
    now: datetime,
    *,
    extracted_by: str | None,
) -> tuple[dict[MessageRef, int], set[MessageRef]]:
    """Insert the messages not stored yet; return every message's row id and the new refs.

    New rows are marked as extracted by ``extracted_by`` right away, saving an update.
    """
    if not batch:
        return {}, set()
    insert = db.insert(conn, messages)
    statement = insert.on_conflict_do_nothing(
        index_elements=[
            messages.c.tenant,
            messages.c.source,
            messages.c.chat,
            messages.c.message_key,
        ]
    ).returning(messages.c.id, messages.c.source, messages.c.chat, messages.c.message_key)
    extracted = {"extracted_at": now if extracted_by else None, "extractor_version": extracted_by}
    rows = [{**_message_row(m, tenant, now), **extracted} for m in batch]
    ids = {MessageRef(r.source, r.chat, r.message_key): r.id for r in conn.execute(statement, rows)}
    new = set(ids)
    by_chat: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for m in batch:
        if MessageRef.of(m) not in new:
            by_chat[m.source, m.chat].append(m.id)
    for (source, chat), keys in by_chat.items():
        for chunk in _chunks(keys):
            found = conn.execute(
                select(messages.c.id, messages.c.message_key).where(
                    messages.c.tenant == tenant,
                    messages.c.source == source,
                    messages.c.chat == chat,
                    messages.c.message_key.in_(chunk),
                )
            )
            ids.update((MessageRef(source, chat, key), id_) for id_, key in found)
    return ids, new


def _replace_items(
    conn: Connection,
    batch: dict[MessageRef, tuple[Message, Sequence[Item]]],
    message_ids: dict[MessageRef, int],
    new_messages: set[MessageRef],
    *,
    tenant: str,
    version: str,
    now: datetime,
) -> ItemChanges:
    """Upsert the batch's items by external id, delete the ones no longer produced, count."""
    # Messages new in this call have no items yet and were marked as extracted on insert.
    stored = [message_ids[ref] for ref in batch if ref not in new_messages]
    before: dict[str, int] = {}
    for chunk in _chunks(stored):
        found = conn.execute(
            select(items.c.external_id, items.c.id)
            .join(item_messages, item_messages.c.item_id == items.c.id)
            .where(
                item_messages.c.message_id.in_(chunk),
                item_messages.c.role == LinkRole.ORIGIN.value,
            )
        )
        before.update((key, id_) for key, id_ in found)

    rows: list[dict[str, Any]] = []
    origin: dict[str, int] = {}  # external id -> message row id
    for ref, (message, found_items) in batch.items():
        for item in found_items:
            row = _item_row(item, external_id(message, item.index, tenant=tenant), version)
            rows.append({**row, "tenant": tenant, "created_at": now, "updated_at": now})
            origin[row["external_id"]] = message_ids[ref]

    written: dict[str, int] = {}
    if rows:
        insert = db.insert(conn, items)
        statement = insert.on_conflict_do_update(
            index_elements=[items.c.tenant, items.c.external_id],
            set_={name: insert.excluded[name] for name in (*_EXTRACTED, "updated_at")},
            where=or_(
                *(items.c[name].is_distinct_from(insert.excluded[name]) for name in _EXTRACTED)
            ),
        ).returning(items.c.external_id, items.c.id)
        written = {key: id_ for key, id_ in conn.execute(statement, rows)}
    created = {key: id_ for key, id_ in written.items() if key not in before}
    if created:
        links = db.insert(conn, item_messages).on_conflict_do_nothing()
        conn.execute(
            links,
            [
                {"item_id": id_, "message_id": origin[key], "role": LinkRole.ORIGIN.value}
                for key, id_ in created.items()
            ],
        )
    stale = [id_ for key, id_ in before.items() if key not in origin]
    for chunk in _chunks(stale):
        conn.execute(delete(items).where(items.c.id.in_(chunk)))
    for chunk in _chunks(stored):
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(chunk))
            .values(extracted_at=now, extractor_version=version)
        )
    updated = len(written) - len(created)
    return ItemChanges(
        created=len(created),
        updated=updated,
        unchanged=len(origin) - len(created) - updated,
        removed=len(stale),
    )


def _check_items(message: Message, found: Sequence[Item]) -> None:
    indexes = [item.index for item in found]
    if any(item.message_id != message.id for item in found):
        raise ValueError(f"Message {message.id!r}: got an item of another message")
    if len(set(indexes)) != len(indexes):
        raise ValueError(f"Message {message.id!r}: two items share an index ({indexes})")


def _message_row(message: Message, tenant: str, now: datetime) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "source": message.source,
        "chat": message.chat,
        "message_key": message.id,
        "author": message.author,
        "sent_at": message.sent_at,
        "sent_tz": _zone_name(message.sent_at),
        "text": message.text,
        "kind": message.kind.value,
        "attachments": [dataclasses.asdict(a) for a in message.attachments],
        "reply_to": message.reply_to,
        "edited": message.edited,
        "line": message.line,
        "received_at": now,
    }


def _item_row(item: Item, external: str, version: str) -> dict[str, Any]:
    return {
        "external_id": external,
        "type": item.type.value,
        "title": item.title,
        "priority": item.priority.value,
        "due": item.due,
        "start": item.start,
        "end": item.end,
        "grain": item.grain.value if item.grain else None,
        "due_source": item.due_source,
        "time_text": item.time_text,
        "assignee": item.assignee,
        "assignee_reason": item.assignee_reason,
        "confidence": float(item.confidence),
        "entities": [dataclasses.asdict(e) for e in item.entities],
        "extractor_version": version,
    }


# -- reading ---------------------------------------------------------------------------------


def _items_query(tenant: str) -> Select[Any]:
    return select(items).where(items.c.tenant == tenant)


def _fetch_items(conn: Connection, query: Select[Any]) -> list[StoredItem]:
    rows = conn.execute(query).all()
    sources: defaultdict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for chunk in _chunks([row.id for row in rows]):
        links = conn.execute(
            select(
                item_messages.c.item_id, messages.c.source, messages.c.chat, messages.c.message_key
            )
            .join(messages, messages.c.id == item_messages.c.message_id)
            .where(item_messages.c.item_id.in_(chunk))
            .order_by(item_messages.c.role, messages.c.id)  # "origin" sorts before "update"
        )
        for item_id, source, chat, key in links:
            sources[item_id].append((source, chat, key))
    return [_to_item(row, sources[row.id]) for row in rows]


def _to_item(row: Row[Any], sources: list[tuple[str, str, str]]) -> StoredItem:
    source, chat, _ = sources[0]
    return StoredItem(
        id=row.id,
        external_id=row.external_id,
        tenant=row.tenant,
        type=ItemType(row.type),
        title=row.title,
        priority=Priority(row.priority),
        status=ItemStatus(row.status),
        due=row.due,
        start=row.start,
        end=row.end,
        grain=Grain(row.grain) if row.grain else None,
        due_source=row.due_source,
        time_text=row.time_text,
        assignee=row.assignee,
        assignee_reason=row.assignee_reason,
        confidence=row.confidence,
        entities=tuple(Entity(**e) for e in row.entities),
        created_at=row.created_at,
        updated_at=row.updated_at,
        extractor_version=row.extractor_version,
        source=source,
        chat=chat,
        message_keys=tuple(key for _, _, key in sources),
    )


def message_from_row(row: Row[Any]) -> Message:
    """A ``messages`` row as a :class:`Message` (for repositories that select messages)."""
    return Message(
        id=row.message_key,
        chat=row.chat,
        author=row.author,
        sent_at=row.sent_at.astimezone(_zone(row.sent_tz)),
        text=row.text,
        kind=MessageKind(row.kind),
        attachments=tuple(Attachment(**a) for a in row.attachments),
        reply_to=row.reply_to,
        edited=row.edited,
        source=row.source,
        line=row.line,
    )


# -- helpers ---------------------------------------------------------------------------------


def _zone_name(moment: datetime) -> str:
    """The sender's zone: an IANA key keeps DST rules, else the fixed offset (``+0530``)."""
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo) and zone.key:
        return zone.key
    return moment.strftime("%z")


def _zone(name: str) -> tzinfo:
    if name[0] in "+-":
        zone = datetime.strptime(name, "%z").tzinfo
        assert zone is not None  # %z always yields one
        return zone
    return ZoneInfo(name)


def _status(value: str) -> ItemStatus:
    try:
        return ItemStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ItemStatus)
        raise InputError(f"Unknown status {value!r}: use one of {allowed}") from None


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's SQL echo and background link."""
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def _unique(values: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    seen: dict[Hashable, T] = {}
    for value in values:
        seen.setdefault(key(value), value)
    return list(seen.values())


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


__all__ = ["ITEM_NAMESPACE", "Store", "external_id"]
