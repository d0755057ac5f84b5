"""Per-connector field mappings: which CRM field receives which item field, without code.

A mapping file (defaults in ``data/mappings/<type>.yaml``) has one section per item type::

    task:
      object: Task                 # the CRM's object / endpoint name
      fields:                      # CRM field: item field (ITEM_FIELDS below)
        Subject: title
        ActivityDate: due_date
        Priority: priority
      values:                      # how enumerated item fields translate
        priority: {urgent: High, high: High, normal: Normal}
        status: {open: Not Started, done: Completed, cancelled: Deferred}
      custom:                      # CRM field: constant written on every record
        Source__c: WhatsApp
    event: {...}
    owners:                        # roster name: CRM user id (for owner / assignee fields)
      Sarah Cole: "0055g00000ABCDE"

Everything is checked when the file is loaded, so a typo fails at start-up with the file,
the section and the key, not at 3 a.m. on the first urgent task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.errors import ConnectorConfigError
from pipeline.config import validation_problems
from pipeline.domain import ItemType, Priority
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus

DEFAULT_MAPPINGS = Path(__file__).resolve().parents[1] / "data" / "mappings"


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    return moment.astimezone(zone) if moment else None


def _date(moment: datetime | None, zone: tzinfo) -> str | None:
    local = _local(moment, zone)
    return local.date().isoformat() if local else None


def _utc_time(moment: datetime | None) -> str | None:
    return moment.strftime("%H:%M") if moment else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _minutes(item: StoredItem) -> int | None:
    if item.start and item.end:
        return int((item.end - item.start).total_seconds() // 60)
    return None


def _when(item: StoredItem) -> datetime | None:
    """The moment that matters: an event's start, a task's due."""
    return item.start if item.type is ItemType.EVENT else item.due


#: Item fields a mapping may name. Datetimes are ISO 8601 in UTC; ``*_date`` is the local date.
ITEM_FIELDS: dict[str, Callable[[StoredItem, str, tzinfo], Any]] = {
    "title": lambda item, text, zone: item.title,
    "description": lambda item, text, zone: text,
    "external_id": lambda item, text, zone: item.external_id,
    "type": lambda item, text, zone: item.type.value,
    "priority": lambda item, text, zone: item.priority.value,
    "status": lambda item, text, zone: item.status.value,
    "done": lambda item, text, zone: item.status is ItemStatus.DONE,
    "due": lambda item, text, zone: _iso(item.due),
    "due_date": lambda item, text, zone: _date(item.due, zone),
    "due_time_utc": lambda item, text, zone: _utc_time(item.due),
    "start": lambda item, text, zone: _iso(item.start),
    "end": lambda item, text, zone: _iso(item.end),
    "when": lambda item, text, zone: _iso(_when(item)),
    "when_date": lambda item, text, zone: _date(_when(item), zone),
    "when_time_utc": lambda item, text, zone: _utc_time(_when(item)),
    "when_epoch_ms": lambda item, text, zone: (
        str(int(w.timestamp() * 1000)) if (w := _when(item) or item.created_at) else None
    ),
    "duration_minutes": lambda item, text, zone: _minutes(item),
    "assignee": lambda item, text, zone: item.assignee,
    "chat": lambda item, text, zone: item.chat,
    "created_at": lambda item, text, zone: _iso(item.created_at),
}
#: Item fields whose values a mapping must translate, and the values it must cover.
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "priority": tuple(p.value for p in Priority),
    "status": tuple(s.value for s in ItemStatus),
}
#: Pseudo item field: the assignee's CRM user id from the ``owners`` table.
OWNER = "owner"


class ObjectMapping(BaseModel):
    """How one item type becomes one CRM object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: str
    fields: dict[str, str]
    values: dict[str, dict[str, str | int]] = {}
    custom: dict[str, Any] = {}


class _MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: ObjectMapping
    event: ObjectMapping
    owners: dict[str, str | int] = {}


class FieldMapping:
    """A validated mapping file; :meth:`render` turns an item into the CRM's fields."""

    def __init__(
        self,
        source: str,
        task: ObjectMapping,
        event: ObjectMapping,
        owners: Mapping[str, str | int],
    ) -> None:
        self.source = source
        self.objects = {ItemType.TASK: task, ItemType.EVENT: event}
        self.owners = dict(owners)
        self._roster_by_owner = {str(v): k for k, v in owners.items()}
        for kind, section in self.objects.items():
            _check_section(source, kind.value, section)

    @classmethod
    def load(cls, path: Path) -> FieldMapping:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConnectorConfigError(f"mapping file {path} does not exist") from exc
        except yaml.YAMLError as exc:
            raise ConnectorConfigError(f"mapping file {path} is not valid YAML: {exc}") from exc
        try:
            parsed = _MappingFile.model_validate(raw or {})
        except ValidationError as exc:
            problems = validation_problems(exc)
            raise ConnectorConfigError(f"mapping file {path}: {problems}") from exc
        return cls(str(path), parsed.task, parsed.event, parsed.owners)

    @classmethod
    def default(cls, connector_type: str) -> FieldMapping:
        return cls.load(DEFAULT_MAPPINGS / f"{connector_type}.yaml")

    def object_for(self, item: StoredItem) -> str:
        return self.objects[item.type].object

    def render(self, item: StoredItem, text: str, zone: tzinfo) -> dict[str, Any]:
        """The CRM fields for ``item``: mapped fields, translated values, then constants.

        Fields whose value is unknown (no due date, no owner) are left out rather than
        sent empty, so an update never blanks what a user set in the CRM.
        """
        section = self.objects[item.type]
        payload: dict[str, Any] = {}
        for crm_field, item_field in section.fields.items():
            if item_field == OWNER:
                value: Any = self.owners.get(item.assignee) if item.assignee else None
            else:
                value = ITEM_FIELDS[item_field](item, text, zone)
                if item_field in section.values:
                    value = section.values[item_field][value]
            if value is not None:
                payload[crm_field] = value
        payload.update(section.custom)
        return payload

    def crm_field(self, kind: ItemType, item_field: str) -> str | None:
        """The CRM field that receives ``item_field``, for reading changes back."""
        return next((c for c, i in self.objects[kind].fields.items() if i == item_field), None)

    def item_value(self, kind: ItemType, item_field: str, crm_value: Any) -> str | None:
        """A CRM value read back as the item's value (``Completed`` -> ``done``)."""
        table = self.objects[kind].values.get(item_field)
        if table is None:
            return None if crm_value is None else str(crm_value)
        return next((k for k, v in table.items() if v == crm_value), None)

    def assignee_for(self, owner_id: str | int | None) -> str | None:
        return self._roster_by_owner.get(str(owner_id)) if owner_id is not None else None


def _check_section(source: str, kind: str, section: ObjectMapping) -> None:
    known = {*ITEM_FIELDS, OWNER}
    for crm_field, item_field in section.fields.items():
        if item_field not in known:
            raise ConnectorConfigError(
                f"mapping {source}: {kind}.fields.{crm_field} names unknown item field "
                f"{item_field!r}; use one of {', '.join(sorted(known))}"
            )
        if item_field in ENUM_FIELDS:
            table = section.values.get(item_field, {})
            for value in ENUM_FIELDS[item_field]:
                if value not in table:
                    raise ConnectorConfigError(
                        f"mapping field {crm_field!r} has no value for {item_field} "
                        f"{value!r}: add it under {kind}.values.{item_field} in {source}"
                    )
    for item_field in section.values:
        if item_field not in ENUM_FIELDS:
            raise ConnectorConfigError(
                f"mapping {source}: {kind}.values.{item_field}: only "
                f"{', '.join(ENUM_FIELDS)} are translated"
            )
