"""Quiet hours: a nightly window in the reader's zone when non-urgent messages wait."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.notify.contacts import Contact


def quiet_until(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """When the window ``start``..``end`` (local, may cross midnight) that holds ``now``
    ends, or ``None`` when ``now`` is outside it."""
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start <= end:
        inside, next_day = start <= clock < end, False
    else:
        inside, next_day = clock >= start or clock < end, clock >= start
    if not inside:
        return None
    day = local.date() + timedelta(days=1 if next_day else 0)
    return datetime.combine(day, end, tzinfo=zone)


def contact_quiet_until(contact: Contact, settings: Settings, now: datetime) -> datetime | None:
    """The contact's own window if they set one, else the default (``None`` disables it)."""
    zone = contact.zone(settings.timezone)
    if contact.quiet_start is not None and contact.quiet_end is not None:
        return quiet_until(now, contact.quiet_start, contact.quiet_end, zone)
    window = settings.service.quiet_hours
    return quiet_until(now, window.start, window.end, zone) if window else None
