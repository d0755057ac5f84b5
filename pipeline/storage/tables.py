"""The database schema as SQLAlchemy models: the single source the migrations are checked against.

The schema itself is only ever created by the Alembic migrations in ``migrations/``; a test
runs autogenerate against these models to prove the two agree.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class ItemStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class LinkRole(enum.StrEnum):
    """Why a message is linked to an item: it created the item, or it changed it later."""

    ORIGIN = "origin"
    UPDATE = "update"


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC and always read back as UTC.

    SQLite has no time zones (it would silently drop the offset) and PostgreSQL answers in
    the session's zone; normalising on both sides makes the two databases indistinguishable.
    Naive datetimes are refused: their instant is unknowable.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: storage needs aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Row ids: 64-bit on PostgreSQL; SQLite only auto-increments a column typed exactly INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")
#: JSONB on PostgreSQL so JSON values can be compared (the item upsert skips unchanged rows).
Json = JSON().with_variant(JSONB(), "postgresql")

#: Deterministic constraint names, so later migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _tenant() -> Mapped[str]:
    return mapped_column(Text, server_default=sql("'default'"))


def _unique_where(columns: tuple[str, ...], where: str) -> Index:
    """A unique index over the rows matching ``where`` (partial, on SQLite and PostgreSQL)."""
    return Index(None, *columns, unique=True, sqlite_where=sql(where), postgresql_where=sql(where))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {str: Text, datetime: UTCDateTime, int: Integer}


class MessageRow(Base):
    """A chat message; ``message_key`` is :attr:`Message.id` (provider id or content hash)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "chat", "message_key"),
        Index(None, "tenant", "extractor_version"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    source: Mapped[str]
    chat: Mapped[str]
    message_key: Mapped[str]
    author: Mapped[str | None]
    sent_at: Mapped[datetime]
    #: The sender's zone (IANA key or ``+HH:MM``): relative dates resolve against it.
    sent_tz: Mapped[str]
    text: Mapped[str]
    kind: Mapped[str]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    reply_to: Mapped[str | None]
    edited: Mapped[bool] = mapped_column(server_default=sql("false"))
    line: Mapped[int | None]
    received_at: Mapped[datetime]
    extracted_at: Mapped[datetime | None]
    extractor_version: Mapped[str | None]


class ItemRow(Base):
    """A task or an event; ``external_id`` is stable across re-imports (the CRM upsert key)."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("tenant", "external_id"),
        CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status"),
        Index(None, "tenant", "status", "due"),
        # Item ids are shown to users ("done 42"): never hand a deleted item's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    external_id: Mapped[str]
    type: Mapped[str]
    title: Mapped[str]
    priority: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=sql("'open'"))
    due: Mapped[datetime | None]
    start: Mapped[datetime | None]
    end: Mapped[datetime | None]
    grain: Mapped[str | None]
    due_source: Mapped[str | None]
    time_text: Mapped[str | None]
    assignee: Mapped[str | None]
    assignee_reason: Mapped[str | None]
    confidence: Mapped[float] = mapped_column(Float)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    extractor_version: Mapped[str]


class ItemMessageRow(Base):
    """Links an item to the messages it came from; the tenant is the item's (and message's)."""

    __tablename__ = "item_messages"
    __table_args__ = (
        CheckConstraint("role IN ('origin', 'update')", name="role"),
        Index(None, "message_id"),
    )

    item_id: Mapped[int] = mapped_column(
        Id, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str]


class ImportRunRow(Base):
    """One import (a file or a webhook batch) with its counts, for the CLI summary and audits."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    source: Mapped[str]
    chat: Mapped[str | None]
    path: Mapped[str | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: Why the import stopped, when it failed; ``finished_at`` is still set.
    error: Mapped[str | None]
    messages_seen: Mapped[int] = mapped_column(server_default=sql("0"))
    messages_new: Mapped[int] = mapped_column(server_default=sql("0"))
    items_created: Mapped[int] = mapped_column(server_default=sql("0"))
    items_updated: Mapped[int] = mapped_column(server_default=sql("0"))
    items_removed: Mapped[int] = mapped_column(server_default=sql("0"))
    unparsed_lines: Mapped[int] = mapped_column(server_default=sql("0"))


class ContactRow(Base):
    """A WhatsApp number we talk to: its consent, quiet hours and the roster person it is."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("tenant", "address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    #: E.164 with a leading ``+`` (``+15551234567``), whichever provider it came through.
    address: Mapped[str]
    #: The provider that last delivered a message from this number: replies go back through it.
    channel: Mapped[str]
    profile_name: Mapped[str | None]
    person: Mapped[str | None]
    opted_out: Mapped[bool] = mapped_column(server_default=sql("false"))
    consent_changed_at: Mapped[datetime | None]
    #: Quiet hours as local ``HH:MM`` strings in ``timezone``; both set or neither.
    quiet_start: Mapped[str | None]
    quiet_end: Mapped[str | None]
    timezone: Mapped[str | None]
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboundRow(Base):
    """A message we send (confirmation, consent reply, reminder) and its delivery status."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        CheckConstraint(
            "status IN ('pending', 'held', 'sending', 'queued', 'sent', 'delivered', 'read', "
            "'failed', 'undelivered', 'suppressed')",
            name="status",
        ),
        Index(None, "status", "send_after"),
        # One reply per message and kind; one notice (reminder) per item and kind.
        _unique_where(("in_reply_to", "kind"), "in_reply_to IS NOT NULL"),
        _unique_where(("item_id", "kind"), "in_reply_to IS NULL AND item_id IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    channel: Mapped[str]
    to_address: Mapped[str]
    body: Mapped[str]
    kind: Mapped[str]
    urgent: Mapped[bool] = mapped_column(server_default=sql("false"))
    item_id: Mapped[int | None] = mapped_column(Id, ForeignKey("items.id", ondelete="SET NULL"))
    in_reply_to: Mapped[int | None] = mapped_column(
        Id, ForeignKey("messages.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(server_default=sql("'pending'"))
    #: Held messages (quiet hours, rate limit) are not sent before this instant.
    send_after: Mapped[datetime | None]
    provider_id: Mapped[str | None]
    error_code: Mapped[str | None]
    error_message: Mapped[str | None]
    attempts: Mapped[int] = mapped_column(server_default=sql("0"))
    #: ``{"name": …, "values": {…}}``: the template ``body`` was rendered from, so the
    #: approved WhatsApp template can stand in once the 24-hour window has closed.
    template: Mapped[dict[str, Any] | None] = mapped_column(Json)
    #: The approved template actually sent instead of ``body``, if one was.
    sent_template: Mapped[str | None]
    #: When WhatsApp failed the text late for a closed window (Twilio 63016 in a status
    #: callback): the row is sent again, as its template.
    window_closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeadJobRow(Base):
    """A background job that failed for good: kept with its reason for an operator to retry."""

    __tablename__ = "dead_jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    kind: Mapped[str]
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    attempts: Mapped[int]
    error: Mapped[str]
    failed_at: Mapped[datetime]
    retried_at: Mapped[datetime | None]


class ApiKeyRow(Base):
    """An API key: only its SHA-256 is stored; ``prefix`` lets people tell keys apart."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("key_hash"),
        CheckConstraint("role IN ('admin', 'supervisor', 'agent')", name="role"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant: Mapped[str] = _tenant()
    name: Mapped[str]
    prefix: Mapped[str]
    key_hash: Mapped[str]
    role: Mapped[str]
    #: For agents: the roster person whose tasks the key may see and change.
    person: Mapped[str | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ItemSyncRow(Base):
    """One item in one external system: the outbox entry and the link to the remote record.

    The row holds the *desired* state ("push this item"), not a log of actions: pushing always
    sends the item as it is now, so repeated or reordered pushes converge on the same record.
    """

    __tablename__ = "item_sync"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'synced', 'dead')", name="state"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "connector", "remote_id"),
    )

    item_id: Mapped[int] = mapped_column(
        Id, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    connector: Mapped[str] = mapped_column(primary_key=True)
    tenant: Mapped[str] = _tenant()
    state: Mapped[str] = mapped_column(server_default=sql("'pending'"))
    remote_id: Mapped[str | None]
    remote_type: Mapped[str | None]
    #: ETag, SystemModstamp or updated-at of the remote record as of our last push or pull.
    remote_version: Mapped[str | None]
    #: Hash of the fields last pushed: an unchanged item is not pushed again.
    pushed_hash: Mapped[str | None]
    attempts: Mapped[int] = mapped_column(server_default=sql("0"))
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    synced_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class SyncCursorRow(Base):
    """Where polling a connector for remote changes left off."""

    __tablename__ = "sync_cursors"

    tenant: Mapped[str] = mapped_column(Text, primary_key=True)
    connector: Mapped[str] = mapped_column(primary_key=True)
    cursor: Mapped[str]
    updated_at: Mapped[datetime]


#: The Core tables, for the bulk statements of the store.
messages: Table = Base.metadata.tables["messages"]
items: Table = Base.metadata.tables["items"]
item_messages: Table = Base.metadata.tables["item_messages"]
import_runs: Table = Base.metadata.tables["import_runs"]
contacts: Table = Base.metadata.tables["contacts"]
outbound_messages: Table = Base.metadata.tables["outbound_messages"]
dead_jobs: Table = Base.metadata.tables["dead_jobs"]
api_keys: Table = Base.metadata.tables["api_keys"]
item_sync: Table = Base.metadata.tables["item_sync"]
sync_cursors: Table = Base.metadata.tables["sync_cursors"]
