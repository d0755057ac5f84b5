"""Calendar arithmetic on plain dates: grain starts, month shifts, nth weekdays, business days.

Kept free of parsing so every rule shares one tested implementation of "the start of this
quarter" or "five working days later".
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from pipeline.domain import Grain

GRAIN_ORDER = [
    Grain.SECOND,
    Grain.MINUTE,
    Grain.HOUR,
    Grain.DAY,
    Grain.WEEK,
    Grain.MONTH,
    Grain.QUARTER,
    Grain.YEAR,
]


def finer(a: Grain, b: Grain) -> Grain:
    return a if GRAIN_ORDER.index(a) <= GRAIN_ORDER.index(b) else b


def add_months(day: date, months: int) -> date:
    """Shift by whole months, clamping the day (Jan 31 + 1 month is Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def week_start(day: date, first_weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


def grain_start(day: date, grain: Grain, first_weekday: int = 0) -> date:
    """The first day of the day/week/month/quarter/year that holds ``day``."""
    if grain is Grain.WEEK:
        return week_start(day, first_weekday)
    if grain is Grain.MONTH:
        return day.replace(day=1)
    if grain is Grain.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain is Grain.YEAR:
        return date(day.year, 1, 1)
    return day


def shift(day: date, grain: Grain, count: int) -> date:
    """Move ``count`` units of a calendar grain (day, week, month, quarter, year)."""
    if grain is Grain.DAY:
        return day + timedelta(days=count)
    if grain is Grain.WEEK:
        return day + timedelta(weeks=count)
    months = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}[grain]
    return add_months(day, months * count)


def grain_end(start: date, grain: Grain) -> date:
    """The exclusive end of the unit starting at ``start``."""
    return shift(start, grain, 1)


def year_of_month(today: date, month: int, prefer: str) -> int:
    """The year of the ``month`` a year-less mention means: this year's unless it has
    passed (future preference) or is still ahead (past preference)."""
    if prefer == "future" and month < today.month:
        return today.year + 1
    if prefer == "past" and month > today.month:
        return today.year - 1
    return today.year


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The ``n``-th (1-based; negative counts from the end) ``weekday`` of a month."""
    if n > 0:
        first = date(year, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    else:
        last = last_day_of_month(year, month)
        day = last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))
    return day if day.month == month else None


def nth_week_of_month(year: int, month: int, n: int, first_weekday: int) -> date | None:
    """The ``n``-th full week inside a month (negative: from the end), as its first day."""
    starts = []
    day = week_start(date(year, month, 1), first_weekday)
    while day <= last_day_of_month(year, month):
        if day.month == month and (day + timedelta(days=6)).month == month:
            starts.append(day)
        day += timedelta(days=7)
    index = n - 1 if n > 0 else n
    return starts[index] if -len(starts) <= index < len(starts) else None


def nth_week_of_year(year: int, n: int) -> date | None:
    """ISO week ``n`` of ``year`` (negative: from the end), as its Monday."""
    weeks = date(year, 12, 28).isocalendar().week
    number = n if n > 0 else weeks + n + 1
    if not 1 <= number <= weeks:
        return None
    return date.fromisocalendar(year, number, 1)


def next_weekday(today: date, weekday: int, *, include_today: bool = False) -> date:
    delta = (weekday - today.weekday()) % 7
    return today + timedelta(days=delta if delta or include_today else 7)


def previous_weekday(today: date, weekday: int) -> date:
    delta = (today.weekday() - weekday) % 7
    return today - timedelta(days=delta or 7)


def add_business_days(
    day: date,
    count: int,
    business_days: tuple[int, ...],
    is_holiday: Callable[[object], bool] | None,
) -> date:
    """``count`` working days after (negative: before) ``day``, skipping holidays."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if day.weekday() in business_days and not (is_holiday and is_holiday(day)):
            remaining -= 1
    return day


def at(day: date, tz: tzinfo | None, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock time on ``day`` in ``tz``; hour 24 is the next midnight."""
    extra = timedelta(days=1) if hour == 24 else timedelta()
    return datetime.combine(day + extra, datetime.min.time(), tz).replace(
        hour=hour % 24, minute=minute, second=second
    )
