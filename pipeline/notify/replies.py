"""What we say back: item confirmations and task lists, with dates as people write them.

Dates are shown in the reader's zone: "today", "tomorrow", else "Fri 24 Nov" (plus the year
when it is not this year), with the time when the item has one ("tomorrow 17:00",
"Fri 24 Nov, 15:00"). A day-grain deadline stored at midnight shows no "00:00".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.domain import Grain, ItemType
from pipeline.notify.templates import Templates
from pipeline.storage import StoredItem

_TIMED_GRAINS = frozenset({Grain.SECOND, Grain.MINUTE, Grain.HOUR})


@dataclass(frozen=True, slots=True)
class RemoteLink:
    """An item's record in an external system (a row of ``item_sync`` with a remote id)."""

    system: str
    id: str


def human_day(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    day = moment.astimezone(zone).date()
    today = now.astimezone(zone).date()
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    label = f"{day:%a} {day.day} {day:%b}"
    return label if day.year == today.year else f"{label} {day.year}"


def human_when(moment: datetime, zone: ZoneInfo, now: datetime, grain: Grain | None) -> str:
    """The day plus the local time, unless the moment is only a day ("by Friday")."""
    day = human_day(moment, zone, now)
    local = moment.astimezone(zone)
    timed = grain in _TIMED_GRAINS or (grain is None and local.time() != local.time().min)
    if not timed:
        return day
    separator = " " if day in ("today", "tomorrow") else ", "
    return f"{day}{separator}{local:%H:%M}"


def confirmation(
    templates: Templates,
    items: Sequence[StoredItem],
    links: Mapping[int, Sequence[RemoteLink]],
    zone: ZoneInfo,
    now: datetime,
) -> str:
    """One message confirming every item a message produced, a paragraph per item."""
    return "\n\n".join(
        "\n".join(_item_lines(templates, item, links.get(item.id, ()), zone, now)) for item in items
    )


def task_list(
    templates: Templates, tasks: Sequence[StoredItem], zone: ZoneInfo, now: datetime
) -> str:
    if not tasks:
        return templates.render("no_tasks")
    lines = [
        templates.render("task_line", id=t.id, title=t.title, day=human_day(t.due, zone, now))
        if t.due
        else templates.render("task_line_undated", id=t.id, title=t.title)
        for t in tasks
    ]
    return templates.render("tasks_list", count=len(tasks), lines="\n".join(lines))


def _item_lines(
    templates: Templates,
    item: StoredItem,
    links: Iterable[RemoteLink],
    zone: ZoneInfo,
    now: datetime,
) -> Iterable[str]:
    if item.type is ItemType.EVENT:
        when = human_when(item.start, zone, now, item.grain) if item.start else "—"
        yield templates.render("event_created", title=item.title, when=when)
    elif item.due is not None:
        day = human_day(item.due, zone, now)
        yield templates.render("task_created", title=item.title, day=day)
        when = human_when(item.due, zone, now, item.grain)
        if when != day:  # "due tomorrow" already says it all for a day-grain deadline
            yield templates.render("due_date", when=when)
    else:
        yield templates.render("task_created_undated", title=item.title)
    if item.assignee:
        yield templates.render("assigned_to", name=item.assignee)
    for link in links:
        # The item's own type reads better than the CRM's object name ("meetings").
        yield templates.render("crm_link", system=link.system, type=item.type.value, id=link.id)
