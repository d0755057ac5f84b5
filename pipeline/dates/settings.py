"""The one settings table of the date normaliser.

Every knob that changes what a time expression *means* lives here, validated once, so the
product semantics are written down in one place instead of being scattered through rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pipeline.dates.rules import Rule

Prefer = Literal["future", "past", "nearest"]
HourSpan = tuple[int, int]


@dataclass(frozen=True)
class DateSettings:
    """How chat phrases are turned into dates (dateparser's ``conf.py`` style: one table).

    Keys and why they default the way they do:

    ``prefer``
        ``"future"`` (default), ``"past"`` or ``"nearest"``: which occurrence an incomplete
        date means. Chat deadlines and meetings lie ahead, so "friday", "march 3", "the 5th"
        and "at 3pm" are the next ones. Expressions that name a direction ("last friday",
        "since monday", "2 days ago") ignore this key.
    ``end_of_day``
        The time that "EOD", "COB", "end of (the) day" and "end of business" stand for. A
        task app wants a working-day deadline (17:00), not Duckling's midnight interval.
    ``end_of_week_weekday``
        The day "end of (the) week" / "EOW" means (0 = Monday; default Friday). End-of-period
        phrases are deadlines: an instant on that day, not Duckling's "last few days" span.
        Likewise "end of (the) month/year/quarter" is its last day.
    ``morning``, ``afternoon``, ``evening``, ``night``, ``lunch``
        ``(start_hour, end_hour)`` of each part of the day, end exclusive (24 = midnight).
        "tomorrow morning" is an hour-grain interval over these hours; "8 in the evening"
        uses them to read a 12-hour clock as pm. ``night`` also serves "tonight".
    ``noon``
        The hour "noon", "midday" and "lunchtime" (as a point) stand for.
    ``ambiguous_pm_before``
        A bare clock hour below this (1-6 by default) without am/pm means the afternoon
        when the day is known ("tomorrow at 3" is 15:00: nobody books 3 am by chat); hours
        from it up to 11 mean the morning. Undated bare hours take the next occurrence
        instead ("at 4" written at 10:00 is 16:00).
    ``season_starts``
        ``(month, day)`` on which spring, summer, autumn and winter begin (Northern
        hemisphere, astronomical: 20 March, 21 June, 23 September, 21 December). "this
        summer" runs from its start to the next season's start (exclusive); "winter 2025"
        is the one that begins in December 2025. Southern-hemisphere users swap them.
    ``business_days``
        Weekdays (0 = Monday) that count in "in 5 business/working days".
    ``holiday_country``
        ISO country code for the ``holidays`` package: its public holidays are skipped by
        business-day arithmetic. ``None`` (default) skips none.
    ``week_start``
        First day of the week (0 = Monday) for "this/next/last week" and "next friday"
        (which means the friday of next week).
    ``day_first``
        For numeric dates like 3/4: ``None`` infers (month first unless impossible, so
        15/3 is 15 March), ``True`` forces day first (dotted dates 15.03 are always read
        day first), ``False`` forces month first.
    ``two_digit_year_window``
        A two-digit year is put in the century that brings it within this many years of
        the reference year ('74 in 2013 is 1974, '25 is 2025).
    ``use_dateparser``
        Ask ``dateparser`` about texts the rules leave unresolved (odd absolute formats,
        other languages). Slower; the rules alone are predictable and fast.
    ``extra_rules`` / ``disabled_rules``
        Extend or trim the rule registry (see :mod:`pipeline.dates.rules`) without code
        changes elsewhere: extra rules run beside the built-in ones.

    Product semantics that differ from Duckling-style corpora: "by X" is an instant
    deadline (not an interval from now); "end of month/week/year" is the last day (or
    ``end_of_week_weekday``) as an instant; "EOD" is ``end_of_day``; named periods
    ("next week", "this month", "Q3", "2025", "this summer", "the 90s", "H2") are intervals
    ``[start, start + 1 unit)`` at their grain, like explicit spans (ranges, weekends,
    parts of a day, "beginning of next week"): ends are exclusive at the grain. A single
    day ("tomorrow", "the 5th") stays an instant. A range of named periods includes its
    last one ("from May to Oct" runs to 1 November). Today's weekday name ("friday" said
    on a Friday) means the following week's day, since people say "today" for today.
    """

    prefer: Prefer = "future"
    end_of_day: time = time(17, 0)
    end_of_week_weekday: int = 4
    morning: HourSpan = (6, 12)
    afternoon: HourSpan = (12, 18)
    evening: HourSpan = (18, 24)
    night: HourSpan = (18, 24)
    lunch: HourSpan = (12, 14)
    noon: int = 12
    ambiguous_pm_before: int = 7
    season_starts: tuple[tuple[int, int], ...] = ((3, 20), (6, 21), (9, 23), (12, 21))
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    holiday_country: str | None = None
    week_start: int = 0
    day_first: bool | None = None
    two_digit_year_window: int = 50
    use_dateparser: bool = True
    extra_rules: tuple[Rule, ...] = ()
    disabled_rules: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.prefer in ("future", "past", "nearest"), "prefer must be future/past/nearest"),
            (0 <= self.end_of_week_weekday <= 6, "end_of_week_weekday must be 0..6"),
            (0 <= self.week_start <= 6, "week_start must be 0..6"),
            (0 <= self.noon <= 23, "noon must be an hour 0..23"),
            (1 <= self.ambiguous_pm_before <= 12, "ambiguous_pm_before must be 1..12"),
            (
                bool(self.business_days) and all(0 <= d <= 6 for d in self.business_days),
                "business_days must be a non-empty tuple of weekdays 0..6",
            ),
            (
                len(self.season_starts) == 4
                and all(
                    1 <= m <= 12 and 1 <= d <= 28 + (m != 2) * 2 for m, d in self.season_starts
                ),
                "season_starts must be four (month, day) pairs",
            ),
            (self.two_digit_year_window > 0, "two_digit_year_window must be positive"),
        ]
        for name in ("morning", "afternoon", "evening", "night", "lunch"):
            start, end = getattr(self, name)
            checks.append(
                (0 <= start < end <= 24, f"{name} must be (start, end) hours, start < end")
            )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"DateSettings: {message}")
        if self.holiday_country is not None:
            self.holiday_calendar()  # fail early on an unknown country code

    def holiday_calendar(self) -> Callable[[object], bool] | None:
        """A membership test for public holidays of ``holiday_country`` (``None`` if unset)."""
        if self.holiday_country is None:
            return None
        return _holiday_calendar(self.holiday_country)


@lru_cache(maxsize=16)
def _holiday_calendar(country: str) -> Callable[[object], bool]:
    import holidays

    try:
        calendar = holidays.country_holidays(country)
    except NotImplementedError as exc:
        raise ValueError(f"DateSettings: unknown holiday_country {country!r}") from exc
    return calendar.__contains__
