"""The REST API's request and response bodies: validated on the way in, serialised on the way
out, and the source of the schemas in the OpenAPI document (so the two cannot drift)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pipeline.domain import Item, ItemType, Priority
from pipeline.storage import ItemStatus, StoredItem
from pipeline.storage.api_keys import ApiKey, Role

#: Largest id a database row can have (64-bit signed); larger ones cannot exist.
MAX_ID = 2**63 - 1
MAX_PAGE = 200


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found")
    message: str = Field(description="What went wrong and what to do")


class ErrorBody(BaseModel):
    error: ErrorDetail


class _ItemFields(BaseModel):
    """What the pipeline extracts, shared by stored items and ``POST /extract`` results."""

    type: ItemType
    title: str
    priority: Priority
    due: datetime | None
    start: datetime | None
    end: datetime | None
    grain: str | None
    due_source: str | None
    time_text: str | None
    assignee: str | None
    assignee_reason: str | None
    confidence: float


class TaskOut(_ItemFields):
    """A stored task or event; times are UTC."""

    id: int
    external_id: str
    status: ItemStatus
    source: str
    chat: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: StoredItem) -> TaskOut:
        return cls(
            **{name: getattr(item, name) for name in cls.model_fields if name != "grain"},
            grain=item.grain.value if item.grain else None,
        )


class TaskPage(BaseModel):
    items: list[TaskOut]
    limit: int
    offset: int
    next: str | None = Field(description="URL of the next page; null on the last one")


class TaskQuery(BaseModel):
    """``GET /tasks`` filters; a naive ``due_from``/``due_to`` is read in the service's zone."""

    status: ItemStatus | None = None
    priority: Priority | None = None
    assignee: str | None = None
    type: ItemType | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    q: str | None = Field(default=None, description="Case-insensitive substring of the title")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=10**9)


class TaskCreate(_Body):
    title: str = Field(min_length=1, max_length=500)
    priority: Priority = Priority.NORMAL
    due: AwareDatetime | None = None
    assignee: str | None = Field(default=None, min_length=1)


class EventCreate(_Body):
    title: str = Field(min_length=1, max_length=500)
    start: AwareDatetime
    end: AwareDatetime | None = Field(
        default=None, description="Default: start plus the configured event length"
    )
    priority: Priority = Priority.NORMAL
    assignee: str | None = Field(default=None, min_length=1)


class TaskPatch(_Body):
    """Fields to change; ``null`` clears ``due``, ``start``, ``end`` or ``assignee``."""

    status: ItemStatus | None = None
    title: str | None = Field(default=None, min_length=1, max_length=500)
    priority: Priority | None = None
    due: AwareDatetime | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    assignee: str | None = Field(default=None, min_length=1)

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent (so an absent ``due`` is kept, a ``null`` cleared)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class CrmRequest(_Body):
    item_ids: list[int] = Field(min_length=1, max_length=1000)


class CrmResult(BaseModel):
    queued: list[int] = Field(description="Items marked for pushing to the configured CRMs")
    not_found: list[int]


class ExtractRequest(_Body):
    text: str = Field(min_length=1, max_length=10_000)
    sent_at: datetime | None = Field(
        default=None, description="When the message was sent (ISO 8601); default now"
    )
    timezone: str | None = Field(default=None, description="IANA zone; default the service's")
    author: str | None = None


class ExtractedItem(_ItemFields):
    @classmethod
    def of(cls, item: Item) -> ExtractedItem:
        data = item.as_json()
        return cls(**{name: data[name] for name in cls.model_fields})


class ExtractResult(BaseModel):
    items: list[ExtractedItem]


class ContactOut(BaseModel):
    address: str = Field(description="WhatsApp number, E.164")
    profile_name: str | None
    person: str | None
    opted_out: bool
    quiet_start: time | None = Field(description="Local start of the contact's quiet hours")
    quiet_end: time | None
    timezone: str | None


class UserOut(BaseModel):
    name: str
    role: str | None
    email: str | None
    phone: str | None
    timezone: str | None
    whatsapp: ContactOut | None = Field(description="The person's WhatsApp contact and consent")


class Users(BaseModel):
    users: list[UserOut]
    other_contacts: list[ContactOut] = Field(description="Contacts not on the roster")


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    role: Role
    person: str | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(**{name: getattr(key, name) for name in cls.model_fields})


class KeyCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    person: str | None = Field(default=None, description="Required for agent keys")


class KeyCreated(BaseModel):
    key: KeyOut
    secret: str = Field(description="The API key; shown only in this response")


class KeyList(BaseModel):
    keys: list[KeyOut]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]
