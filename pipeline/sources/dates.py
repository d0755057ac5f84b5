"""Which header field is the day, and how an export's wall-clock time becomes an instant.

WhatsApp writes dates in the phone's locale and never says which one, so the order is read
from the whole file: hard evidence first (a field that cannot be a month, a year written
first), then tie-breakers for files whose every day is <= 12.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo


class DateOrder(enum.StrEnum):
    AUTO = "auto"
    DMY = "dmy"
    MDY = "mdy"
    YMD = "ymd"


#: Used when nothing in the file tells day-first from month-first: most of WhatsApp's
#: users write dates day-first, and the caller sees ``date_order_ambiguous`` to warn.
DEFAULT_ORDER = DateOrder.DMY


class Stamp(NamedTuple):
    """One header's date numbers in file order, its time of day and its message body."""

    fields: tuple[int, int, int]
    seconds: int
    body: str


class Resolution(NamedTuple):
    order: DateOrder
    ambiguous: bool


# Media file names carry the save date (IMG-20241202-WA0001.jpg, 00000012-PHOTO-2024-12-02-…).
_MEDIA_DATE = re.compile(
    r"\b(?:IMG|VID|AUD|PTT|STK|DOC)-(\d{4})(\d{2})(\d{2})-WA"
    r"|-(?:PHOTO|VIDEO|AUDIO|STICKER|GIF)-(\d{4})-(\d{2})-(\d{2})-"
)


def ymd(fields: tuple[int, int, int], order: DateOrder) -> tuple[int, int, int]:
    """The (year, month, day) the three header numbers mean under ``order``; yy is 20yy."""
    a, b, c = fields
    if order is DateOrder.YMD:
        year, month, day = a, b, c
    elif order is DateOrder.MDY:
        year, month, day = c, a, b
    else:
        year, month, day = c, b, a
    return (year + 2000 if year < 100 else year), month, day


def resolve_date_order(stamps: Sequence[Stamp], forced: DateOrder) -> Resolution:
    """Pick the date order for a whole file.

    ``ambiguous`` is True when no header pins the order numerically (no field > 12 in a day
    position, no year written first) and the two readings give different dates; the choice
    then comes from the tie-breakers below, else :data:`DEFAULT_ORDER`.
    """
    if forced is not DateOrder.AUTO:
        return Resolution(forced, False)
    largest_first = max(stamp.fields[0] for stamp in stamps)
    if largest_first > 31:
        return Resolution(DateOrder.YMD, False)
    fits = {
        DateOrder.DMY: max(stamp.fields[1] for stamp in stamps) <= 12,
        DateOrder.MDY: largest_first <= 12,
    }
    feasible = [order for order, fit in fits.items() if fit]
    if len(feasible) != 2:
        # One reading fits, or none does and building the messages reports the first bad line.
        return Resolution(feasible[0] if feasible else DEFAULT_ORDER, False)
    if all(stamp.fields[0] == stamp.fields[1] for stamp in stamps):
        return Resolution(DEFAULT_ORDER, False)
    return Resolution(_break_tie(stamps, feasible), True)


def _inversions(stamps: Sequence[Stamp], order: DateOrder) -> int:
    """Exports are written in send order, so the right reading rarely goes back in time."""
    keys = [(*ymd(s.fields, order), s.seconds) for s in stamps]
    return sum(1 for earlier, later in pairwise(keys) if later < earlier)


def _media_date_misses(stamps: Sequence[Stamp], order: DateOrder) -> int:
    """A media file is normally saved on the day it is sent, so its name dates the header."""
    misses = 0
    for stamp in stamps:
        found = _MEDIA_DATE.search(stamp.body)
        if found:
            named = tuple(int(g) for g in found.groups() if g is not None)
            misses += named != ymd(stamp.fields, order)
    return misses


def _day_steadiness(stamps: Sequence[Stamp], order: DateOrder) -> int:
    """Between consecutive messages the day changes more often than the month."""
    day_index = 0 if order is DateOrder.DMY else 1
    days = [stamp.fields[day_index] for stamp in stamps]
    return -sum(1 for a, b in pairwise(days) if a != b)


_TIE_BREAKERS: tuple[Callable[[Sequence[Stamp], DateOrder], int], ...] = (
    _inversions,
    _media_date_misses,
    _day_steadiness,
)


def _break_tie(stamps: Sequence[Stamp], candidates: list[DateOrder]) -> DateOrder:
    """The first rule that scores one candidate strictly best decides (lower is better)."""
    for rule in _TIE_BREAKERS:
        scores = {order: rule(stamps, order) for order in candidates}
        best = min(scores.values())
        winners = [order for order, score in scores.items() if score == best]
        if len(winners) == 1:
            return winners[0]
    return DEFAULT_ORDER


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Make an export's wall-clock time aware, deterministically around DST changes.

    An ambiguous time (the repeated hour) takes ``fold=0``, the first occurrence. A time
    that does not exist (the skipped hour) is read with the offset before the change and
    normalised, which shifts it forward by the gap: 02:30 becomes 03:30 in Europe/Berlin.
    """
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
