"""Stored items as a terminal table, JSON, CSV or an iCalendar file.

Times are shown in the viewer's timezone (the ``--tz`` option or the settings); the
machine formats keep full ISO 8601 with the offset.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from rich.table import Table

from pipeline.domain import Grain, ItemType, Priority, to_jsonable
from pipeline.storage.records import StoredItem

CSV_FIELDS = (
    "id",
    "external_id",
    "type",
    "title",
    "priority",
    "status",
    "due",
    "start",
    "end",
    "grain",
    "assignee",
    "chat",
    "confidence",
)
_ICAL_PRIORITY = {Priority.URGENT: 1, Priority.HIGH: 3, Priority.NORMAL: 5}
_PRIORITY_STYLE = {Priority.URGENT: "bold red", Priority.HIGH: "yellow", Priority.NORMAL: ""}


def when(item: StoredItem) -> datetime | None:
    """The one time a list shows: a task's deadline, an event's start."""
    return item.due if item.type is ItemType.TASK else item.start


def show_time(value: datetime | None, grain: Grain | None, zone: ZoneInfo) -> str:
    """Human form at the item's precision: a day-grain deadline shows no clock time."""
    if value is None:
        return "—"
    local = value.astimezone(zone)
    if grain in (Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR):
        return local.strftime("%a %d %b %Y")
    return local.strftime("%a %d %b %Y %H:%M")


def as_table(items: Sequence[StoredItem], zone: ZoneInfo, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("#", "type", "title", "when", "priority", "assignee", "status"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            str(item.id),
            item.type.value,
            item.title,
            show_time(when(item), item.grain, zone),
            f"[{_PRIORITY_STYLE[item.priority]}]{item.priority.value}[/]"
            if _PRIORITY_STYLE[item.priority]
            else item.priority.value,
            item.assignee or "unassigned",
            item.status.value,
        )
    return table


def as_json(items: Sequence[StoredItem]) -> str:
    return json.dumps([to_jsonable(item) for item in items], ensure_ascii=False, indent=2)


def as_csv(items: Sequence[StoredItem]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for item in items:
        data = to_jsonable(item)
        writer.writerow(["" if data[f] is None else data[f] for f in CSV_FIELDS])
    return buffer.getvalue()


def as_ics(items: Sequence[StoredItem], zone: ZoneInfo) -> str:
    """VTODO for tasks (DUE), VEVENT for events; UIDs are the items' stable external ids."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//chat2task//chat2task//EN")
    calendar.add("version", "2.0")
    for item in items:
        component = icalendar.Todo() if item.type is ItemType.TASK else icalendar.Event()
        component.add("uid", f"{item.external_id}@chat2task")
        component.add("dtstamp", item.updated_at)
        component.add("summary", item.title)
        component.add("priority", _ICAL_PRIORITY[item.priority])
        if item.type is ItemType.TASK:
            if item.due is not None:
                component.add("due", _ical_time(item.due, item.grain, zone))
            component.add("status", "COMPLETED" if item.status.value == "done" else "NEEDS-ACTION")
        elif item.start is not None:
            start = _ical_time(item.start, item.grain, zone)
            component.add("dtstart", start)
            if item.end is not None:
                component.add("dtend", _ical_time(item.end, item.grain, zone))
            elif isinstance(start, date) and not isinstance(start, datetime):
                component.add("dtend", start + timedelta(days=1))
        calendar.add_component(component)
    return calendar.to_ical().decode("utf-8")


def _ical_time(value: datetime, grain: Grain | None, zone: ZoneInfo) -> datetime | date:
    local = value.astimezone(zone)
    return local.date() if grain in (Grain.DAY, Grain.WEEK, Grain.MONTH) else local
