"""Stored items as a terminal table, JSON, CSV or an iCalendar file.

Times are shown in the viewer's timezone (the ``--tz`` option or the settings); the
machine formats keep full ISO 8601 with the offset.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

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
    """The items as one iCalendar file, by the same builder as the calendar feeds."""
    from connectors.calendar.ics import to_ics

    return to_ics(items, zone=zone).decode("utf-8")
