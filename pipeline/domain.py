"""The records that flow through chat2task: messages in, time mentions and items out.

Every stage speaks these types, so sources, the NLP pipeline, storage and the CLI can be
replaced one at a time. They are plain frozen dataclasses: cheap to build, hashable, and
easy to turn into JSON with :func:`to_jsonable`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class MessageKind(enum.StrEnum):
    """What a chat line carries; only ``text`` messages can hold work items."""

    TEXT = "text"
    MEDIA = "media"
    SYSTEM = "system"
    DELETED = "deleted"


class ItemType(enum.StrEnum):
    TASK = "task"
    EVENT = "event"


class Intent(enum.StrEnum):
    """The classifier's label for a whole message or one clause of it."""

    TASK = "task"
    EVENT = "event"
    NONE = "none"


class Priority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"


class Grain(enum.StrEnum):
    """The precision of a resolved time, coarsest last."""

    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class MentionKind(enum.StrEnum):
    INSTANT = "instant"
    INTERVAL = "interval"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a message (a media file in an export, a URL from a webhook)."""

    filename: str | None = None
    media_type: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One normalised chat message, whatever its source.

    ``sent_at`` is always timezone-aware: every relative date in the text is resolved
    against it. ``author`` is ``None`` for system lines (joins, encryption notices).
    ``id`` is the provider's message id where there is one, else a stable content hash
    (see :func:`content_id`), so importing the same export twice yields the same ids.
    """

    id: str
    chat: str
    author: str | None
    sent_at: datetime
    text: str
    kind: MessageKind = MessageKind.TEXT
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    edited: bool = False
    source: str = "whatsapp-export"
    line: int | None = None

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None or self.sent_at.utcoffset() is None:
            raise ValueError(f"Message {self.id!r}: sent_at must be timezone-aware")


def content_id(
    chat: str, author: str | None, sent_at: datetime, text: str, ordinal: int = 0
) -> str:
    """A stable id for a message that has no provider id.

    ``ordinal`` separates identical messages sent in the same minute by the same author
    (people do send "ok" twice), so they are not merged into one.
    """
    key = "\x1f".join([chat, author or "", sent_at.isoformat(), text, str(ordinal)])
    return "h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class TimeMention:
    """A time expression found in text and resolved to an instant or an interval.

    An instant has ``value`` (the start of its grain: "next week" is the Monday at
    ``week`` grain). An interval has ``start`` and ``end``; either may be ``None`` for an
    open side ("after 2 pm", "until Friday"). ``end`` is exclusive at the grain.
    """

    text: str
    start_char: int
    end_char: int
    kind: MentionKind
    grain: Grain
    value: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def anchor(self) -> datetime | None:
        """The one instant that best stands for this mention (a deadline, a start time)."""
        return self.value if self.kind is MentionKind.INSTANT else (self.start or self.end)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "kind": self.kind.value}
        if self.kind is MentionKind.INSTANT:
            data["value"] = _iso(self.value)
        else:
            data["start"] = _iso(self.start)
            data["end"] = _iso(self.end)
        data["grain"] = self.grain.value
        data["span"] = [self.start_char, self.end_char]
        return data


@dataclass(frozen=True, slots=True)
class Entity:
    """A named thing in the text; ``key`` is the roster or CRM id when it is a known one."""

    text: str
    label: str
    start_char: int
    end_char: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A task or an event extracted from one or more messages.

    ``due`` is a task's deadline; ``start``/``end`` are an event's span. ``due_source`` says
    whether the date was written in the message (``explicit``) or came from the default
    policy (``policy``), so a reply or a dashboard can show the difference.
    """

    type: ItemType
    title: str
    priority: Priority
    confidence: float
    message_id: str
    index: int = 0
    due: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    grain: Grain | None = None
    due_source: str | None = None
    assignee: str | None = None
    assignee_reason: str | None = None
    entities: tuple[Entity, ...] = ()
    time_text: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "title": self.title,
            "priority": self.priority.value,
            "due": _iso(self.due),
            "start": _iso(self.start),
            "end": _iso(self.end),
            "grain": self.grain.value if self.grain else None,
            "due_source": self.due_source,
            "time_text": self.time_text,
            "assignee": self.assignee,
            "assignee_reason": self.assignee_reason,
            "entities": [to_jsonable(e) for e in self.entities],
            "confidence": round(self.confidence, 4),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_jsonable(obj: Any) -> Any:
    """Turn domain records (and containers of them) into JSON-ready values."""
    if hasattr(obj, "as_json"):
        return obj.as_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    return obj


__all__ = [
    "Attachment",
    "Entity",
    "Grain",
    "Intent",
    "Item",
    "ItemType",
    "MentionKind",
    "Message",
    "MessageKind",
    "Priority",
    "TimeMention",
    "content_id",
    "to_jsonable",
]
