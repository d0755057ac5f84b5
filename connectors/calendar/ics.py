"""Stored items as iCalendar (RFC 5545): the one builder behind feeds, exports and CalDAV.

Tasks become ``VTODO`` with ``DUE``, events ``VEVENT`` with ``DTSTART``/``DTEND``. The output
depends only on the stored rows (``DTSTAMP`` is the last revision, not "now"), so building
an unchanged item twice gives the same bytes: a CalDAV server sees no change and keeps its
ETag, and a calendar subscribing to the feed sees nothing to update.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from pipeline.domain import Grain, ItemType, Priority
from pipeline.storage import ItemStatus, StoredItem

PRODID = "-//chat2task//chat2task//EN"
#: RFC 5545 PRIORITY: 1 is the highest, 9 the lowest, 0 undefined.
ICAL_PRIORITY = {Priority.URGENT: 1, Priority.HIGH: 3, Priority.NORMAL: 5}
#: Times known only to the day or coarser are all-day values (``VALUE=DATE``).
DATE_GRAINS = frozenset({Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR})
_TODO_STATUS = {
    ItemStatus.OPEN: "NEEDS-ACTION",
    ItemStatus.DONE: "COMPLETED",
    ItemStatus.CANCELLED: "CANCELLED",
}
_EVENT_STATUS = {
    ItemStatus.OPEN: "CONFIRMED",
    ItemStatus.DONE: "CONFIRMED",
    ItemStatus.CANCELLED: "CANCELLED",
}


@dataclass(frozen=True, slots=True)
class Reminders:
    """How long before a task's deadline or an event's start calendars alert; ``None``: never.

    The defaults are the product's rule: a day to finish a task, an hour to get to a meeting.
    """

    task: timedelta | None = timedelta(hours=24)
    event: timedelta | None = timedelta(hours=1)


DEFAULT_REMINDERS = Reminders()


def uid_of(item: StoredItem) -> str:
    """The item's calendar UID: built from its external id, so it never changes."""
    return f"{item.external_id}@chat2task"


def on_calendar(item: StoredItem) -> bool:
    """Whether the item can be a calendar object: a ``VEVENT`` needs a start, a ``VTODO`` not."""
    return item.type is ItemType.TASK or item.start is not None


def _sequence(item: StoredItem) -> int:
    """``SEQUENCE``: 0 as created, then whole seconds (rounded up) from creation to revision.

    It grows with every stored change without keeping a counter; two changes within the same
    second share a number and are still ordered by ``DTSTAMP``.
    """
    return math.ceil((item.updated_at - item.created_at).total_seconds())


def build_calendar(
    items: Iterable[StoredItem],
    *,
    zone: ZoneInfo,
    name: str | None = None,
    reminders: Reminders = DEFAULT_REMINDERS,
) -> icalendar.Calendar:
    """A ``VCALENDAR`` of the items, times in ``zone`` with the ``VTIMEZONE`` they need.

    Events without a start are left out: a ``VEVENT`` cannot exist without ``DTSTART``.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if name is not None:
        # X-WR-CALNAME is written raw: a line break in a name would break the feed.
        calendar.calendar_name = " ".join(name.split())
    placed = [item for item in items if on_calendar(item)]
    for item in placed:
        calendar.add_component(_component(item, zone, reminders))
    _add_timezones(calendar, placed, zone)
    return calendar


def to_ics(
    items: Iterable[StoredItem],
    *,
    zone: ZoneInfo,
    name: str | None = None,
    reminders: Reminders = DEFAULT_REMINDERS,
) -> bytes:
    """:func:`build_calendar` serialised: UTF-8, CRLF line ends, lines folded at 75 octets."""
    return build_calendar(items, zone=zone, name=name, reminders=reminders).to_ical()


def _component(
    item: StoredItem, zone: ZoneInfo, reminders: Reminders
) -> icalendar.Todo | icalendar.Event:
    """One item as a ``VTODO`` or ``VEVENT`` with its alarm."""
    component = _todo(item, zone) if item.type is ItemType.TASK else _event(item, zone)
    component.add("uid", uid_of(item))
    component.add("dtstamp", item.updated_at)
    component.add("created", item.created_at)
    component.add("last-modified", item.updated_at)
    component.add("sequence", _sequence(item))
    component.add("summary", item.title)
    component.add("description", _description(item))
    component.add("priority", ICAL_PRIORITY[item.priority])
    component.add("categories", [item.chat])
    component.add("x-chat2task-priority", item.priority.value)
    if item.assignee:
        component.add("x-chat2task-assignee", item.assignee)
    alarm = _alarm(item, reminders)
    if alarm is not None:
        component.add_component(alarm)
    return component


def _todo(item: StoredItem, zone: ZoneInfo) -> icalendar.Todo:
    todo = icalendar.Todo()
    if item.due is not None:
        todo.add("due", _value(item.due, item.grain, zone))
    todo.add("status", _TODO_STATUS[item.status])
    if item.status is ItemStatus.DONE:
        todo.add("completed", item.updated_at)
        todo.add("percent-complete", 100)
    return todo


def _event(item: StoredItem, zone: ZoneInfo) -> icalendar.Event:
    assert item.start is not None  # on_calendar() keeps only events with a start
    event = icalendar.Event()
    start = _value(item.start, item.grain, zone)
    event.add("dtstart", start)
    if isinstance(start, datetime):
        if item.end is not None:
            event.add("dtend", _value(item.end, item.grain, zone))
    else:
        # All-day DTEND is exclusive and must follow DTSTART: at least the next day.
        after = start + timedelta(days=1)
        end = _value(item.end, item.grain, zone) if item.end is not None else after
        event.add("dtend", max(end, after))
    event.add("status", _EVENT_STATUS[item.status])
    return event


def _value(moment: datetime, grain: Grain | None, zone: ZoneInfo) -> datetime | date:
    """The stored UTC instant as the wall-clock time (or day) in ``zone``."""
    local = moment.astimezone(zone)
    return local.date() if grain in DATE_GRAINS else local


def _description(item: StoredItem) -> str:
    """What a calendar app shows: the assignee and priority have no standard field it displays."""
    return "\n".join(
        (
            f"Assignee: {item.assignee or 'unassigned'}",
            f"Priority: {item.priority.value}",
            f"From the chat: {item.chat}",
        )
    )


def _alarm(item: StoredItem, reminders: Reminders) -> icalendar.Alarm | None:
    """A display alarm before an open task's ``DUE`` or an open event's ``DTSTART``."""
    if item.status is not ItemStatus.OPEN:
        return None
    if item.type is ItemType.TASK:
        # RELATED=END: a VTODO with only DUE has no start for the trigger to count from.
        before, anchor, related = reminders.task, item.due, "END"
    else:
        before, anchor, related = reminders.event, item.start, "START"
    if before is None or anchor is None:
        return None
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", item.title)
    alarm.add("trigger", -before, parameters={"RELATED": related})
    return alarm


def _add_timezones(
    calendar: icalendar.Calendar, items: Iterable[StoredItem], zone: ZoneInfo
) -> None:
    """Add the ``VTIMEZONE`` of ``zone``, covering only the years the items fall in.

    icalendar's default range (1970-2038) lists every transition of those decades; a short
    range keeps each object small and, being derived from the item, just as stable.
    """
    years = [
        moment.astimezone(zone).year
        for item in items
        for moment in (item.due, item.start, item.end)
        if moment is not None
    ]
    if years:
        calendar.add_missing_timezones(
            first_date=date(min(years), 1, 1), last_date=date(max(years) + 1, 1, 1)
        )
