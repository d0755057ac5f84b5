"""The partial values rules produce before they are combined and resolved.

A rule sees a few words ("friday", "3pm", "in the evening"); it returns a :class:`Node`
that says what those words fix (a date, a clock time, a part of the day) and leaves the
rest open. Composition fills the gaps from neighbours ("friday" + "3pm"), and only then is
the result resolved against the reference time. Keeping the pieces partial is what lets
"from the 13th to 15th July" lend July to the 13th.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from pipeline.domain import Grain

Prefer = Literal["future", "past", "nearest"]
OpenSide = Literal["after", "before", "until", "since"]


@dataclass(frozen=True)
class DateSpec:
    """A calendar date, either resolved (``concrete``) or as the fields the text gave.

    Partial fields are filled from the reference by preference: "march 3" has no year,
    "the 5th" no month, "friday" only a weekday. ``span_end`` (exclusive) turns a concrete
    date into a span ("this weekend", "beginning of next week").
    """

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    concrete: date | None = None
    grain: Grain = Grain.DAY
    span_end: date | None = None
    prefer: Prefer | None = None

    @property
    def weekday_only(self) -> bool:
        return self.concrete is None and self.weekday is not None and self.day is None

    @property
    def is_day(self) -> bool:
        """True when the date fixes (or will fix) a single day, so a clock can attach."""
        if self.concrete is not None:
            return self.grain is Grain.DAY and self.span_end is None
        return self.day is not None or self.weekday is not None

    def partial_grain(self) -> Grain:
        if self.concrete is not None:
            return self.grain
        if self.day is not None or self.weekday is not None:
            return Grain.DAY
        return Grain.MONTH if self.month is not None else Grain.YEAR

    def with_year(self, year: int) -> DateSpec:
        return replace(self, year=year)


@dataclass(frozen=True)
class Clock:
    """A time of day as written. ``explicit`` means no am/pm guessing is needed."""

    hour: int
    minute: int = 0
    second: int = 0
    grain: Grain = Grain.HOUR
    meridiem: Literal["am", "pm"] | None = None
    explicit: bool = False
    utc_offset: int | None = None  # minutes east of UTC, from "GMT", "PST", "+05:30"

    @property
    def ambiguous(self) -> bool:
        return not self.explicit and self.meridiem is None and 1 <= self.hour <= 12

    def with_meridiem(self, meridiem: Literal["am", "pm"]) -> Clock:
        return replace(self, meridiem=meridiem)

    def hour24(self, pm: bool | None = None) -> int:
        """The 24-hour hour; ``pm`` decides an ambiguous one (None keeps it as written)."""
        meridiem = self.meridiem
        if meridiem is None and self.ambiguous and pm is not None:
            meridiem = "pm" if pm else "am"
        if meridiem == "pm" and self.hour < 12:
            return self.hour + 12
        if self.meridiem == "am" and self.hour == 12:
            return 0  # only a written "12am" is midnight; a bare 12 is noon
        return self.hour


@dataclass(frozen=True)
class PartOfDay:
    """Hours of a named part of the day, end exclusive (24 = midnight)."""

    name: str
    start: int
    end: int

    @property
    def is_pm(self) -> bool:
        return self.start >= 12


@dataclass(frozen=True)
class Fixed:
    """A value that needs no composition: "in 2 hours", "now", "next 3 days"."""

    grain: Grain
    value: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    interval: bool = False


@dataclass(frozen=True)
class Duration:
    """An amount of time ("3 days", "a fortnight"), used by "3 days after X"."""

    parts: tuple[tuple[Grain, float, bool], ...]  # (unit, amount, business days?)


@dataclass
class Node:
    """A span of text with what it says about time; composition merges neighbours.

    ``number`` is a bare number that only means something inside a range ("2-3pm",
    "13 to 15 July"); ``pair`` is a range of two nodes; ``open`` marks "after X" and friends.
    """

    start: int
    end: int
    rule: str
    date: DateSpec | None = None
    clock: Clock | None = None
    pod: PartOfDay | None = None
    fixed: Fixed | None = None
    duration: Duration | None = None
    number: int | None = None
    pair: tuple[Node, Node] | None = None
    open: OpenSide | None = None

    @property
    def is_point(self) -> bool:
        """A node built from date, clock and part-of-day fields only."""
        return (
            self.fixed is None
            and self.duration is None
            and self.number is None
            and self.pair is None
            and self.open is None
        )
