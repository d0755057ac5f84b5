"""What the CRM connectors share, so each CRM module only speaks its own API.

* :class:`CRMOptions`: the options every CRM connector takes (zone of date-only fields, timeout).
* :func:`linked_records`: the CRM contacts and accounts an item mentions, found by name
  (names from :func:`connectors.rest.linked_names`), and those accounts' open deals.
* :func:`remote_change` / :func:`changes_after`: CRM records read back through the mapping as
  :class:`RemoteChange` values, and the polling cursor.
* :func:`check_object` / :func:`check_owners`: the mapping checked against what the CRM describes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import Connector, RemoteChange, RemoteRef
from connectors.errors import ConnectorConfigError
from connectors.mapping import OWNER, FieldMapping
from connectors.rest import linked_names
from pipeline.domain import ItemType
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus
from pipeline.zones import ZoneName


class CRMOptions(BaseModel):
    """Options common to the CRM connectors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The zone whose calendar the CRM's date-only fields (a task's due date) are in.
    timezone: ZoneName = "UTC"
    #: Seconds to wait for an answer: a hung request must become a retriable error.
    timeout: float = Field(default=30.0, gt=0)
    #: Link activities to the one open deal / opportunity of the account they mention.
    link_deals: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# -- linking ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Links:
    """The CRM records an item is linked to, each list first mentioned first."""

    contacts: list[RemoteRef]
    accounts: list[RemoteRef]
    #: The single open deal (opportunity) of each linked account that has exactly one.
    deals: list[RemoteRef]


def linked_records(connector: Connector, item: StoredItem, *, deals: bool = True) -> Links:
    """The contacts and accounts the item mentions that the CRM knows (unambiguously) and,
    with ``deals``, the open deal of each account that has one (a chat about Acme is about
    Acme's deal in flight; with several in flight, which one would be a guess)."""
    contacts = [r for n in linked_names(item, "PERSON") if (r := connector.find_contact(n))]
    accounts = [r for n in linked_names(item, "ORG") if (r := connector.find_account(n))]
    open_deals = [d for a in accounts if (d := connector.find_open_deal(a))] if deals else []
    return Links(contacts, accounts, open_deals)


def only(refs: list[RemoteRef]) -> RemoteRef | None:
    """The single match of a lookup: linking to one of several namesakes would be a guess."""
    return refs[0] if len(refs) == 1 else None


# -- reading records back ---------------------------------------------------------------------

#: Item fields whose CRM values flow back, and the RemoteChange attribute they set.
_MOMENTS = {"due": "due", "due_date": "due", "start": "start", "end": "end"}
#: "when" fields hold an event's start and a task's due.
_WHEN = ("when", "when_date", "when_epoch_ms")
_READ_BACK = {*_MOMENTS, *_WHEN, "status", OWNER}


def read_back_fields(mapping: FieldMapping, kind: ItemType) -> list[str]:
    """The CRM fields to fetch so that :func:`remote_change` can read a record back."""
    return [c for c, i in mapping.objects[kind].fields.items() if i in _READ_BACK]


def parse_moment(value: Any, zone: tzinfo) -> datetime | None:
    """A CRM date or datetime in UTC: ISO 8601, epoch milliseconds, or a date (local midnight).

    A date-only field cannot say the time; local midnight in ``zone`` is the day it names.
    """
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def remote_change(
    mapping: FieldMapping,
    kind: ItemType,
    record: Mapping[str, Any],
    *,
    remote: RemoteRef,
    changed_at: datetime,
    external_id: str | None,
    zone: tzinfo,
) -> RemoteChange:
    """A CRM record's current values as the item's status, times and assignee."""
    values: dict[str, Any] = {}
    for crm_field, item_field in mapping.objects[kind].fields.items():
        raw = record.get(crm_field)
        if item_field == "status":
            status = mapping.item_value(kind, "status", raw)
            values["status"] = ItemStatus(status) if status else None
        elif item_field == OWNER:
            values["assignee"] = mapping.assignee_for(raw)
        elif item_field in _MOMENTS or item_field in _WHEN:
            when = "start" if kind is ItemType.EVENT else "due"
            values.setdefault(_MOMENTS.get(item_field, when), parse_moment(raw, zone))
    return RemoteChange(remote=remote, changed_at=changed_at, external_id=external_id, **values)


def changes_after(
    cursor: str | None, fetch: Callable[[ItemType, datetime | None], Iterable[RemoteChange]]
) -> tuple[list[RemoteChange], str]:
    """Changes to records of every item type after ``cursor``, oldest first, and the next cursor.

    The cursor is the newest change's instant (ISO 8601); ``fetch(kind, since)`` may return
    changes at ``since`` itself (coarse filters), they are dropped here.
    """
    since = parse_moment(cursor, UTC) if cursor else None
    changes = sorted(
        (
            c
            for kind in ItemType
            for c in fetch(kind, since)
            if since is None or c.changed_at > since
        ),
        key=lambda c: c.changed_at,
    )
    newest = changes[-1].changed_at if changes else since
    return changes, newest.isoformat() if newest else ""


# -- checking the mapping against the CRM -----------------------------------------------------


def check_object(
    mapping: FieldMapping,
    kind: ItemType,
    available: Mapping[str, frozenset[str] | None],
    *,
    system: str,
    required: Iterable[str] = (),
) -> str:
    """Every mapped field exists on the CRM object and every value it writes is allowed.

    ``available`` is the object's fields, each with its allowed values (picklist or
    enumeration options) or ``None`` for free fields. Returns a line for ``check()``.
    """
    section = mapping.objects[kind]
    where = f"mapping {mapping.source}: {kind.value}"

    def allowed(crm_field: str, key: str, value: Any) -> None:
        options = available[crm_field]
        if options is not None and str(value) not in options:
            raise ConnectorConfigError(
                f"{where}.{key}: {system} {section.object}.{crm_field} has no value "
                f"{value!r} (it offers: {', '.join(sorted(options))})"
            )

    for crm_field in [*section.fields, *section.custom, *required]:
        if crm_field not in available:
            raise ConnectorConfigError(
                f"{where}: {system} {section.object} has no field {crm_field!r}: create it "
                f"or change the mapping"
            )
    for crm_field, item_field in section.fields.items():
        for key, value in section.values.get(item_field, {}).items():
            allowed(crm_field, f"values.{item_field}.{key}", value)
    for crm_field, value in section.custom.items():
        allowed(crm_field, f"custom.{crm_field}", value)
    return f"{section.object}: {len(section.fields) + len(section.custom)} mapped fields"


def check_owners(mapping: FieldMapping, known: Iterable[str], *, system: str) -> str:
    """Every CRM user id in the mapping's ``owners`` table exists."""
    ids = {str(k) for k in known}
    missing = sorted(n for n, i in mapping.owners.items() if str(i) not in ids)
    if missing:
        raise ConnectorConfigError(
            f"mapping {mapping.source}: owners.{missing[0]}: {system} has no user with id "
            f"{mapping.owners[missing[0]]!r}"
        )
    return f"owners: {len(mapping.owners)} found"
