"""Turn composed nodes into datetimes: the only place that applies preference and am/pm.

Everything a phrase leaves open is decided here, against the reference time: the year
of "march 3", the month of "the 5th", the day of "3pm", whether "at 4" is 4:00 or 16:00.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from pipeline.dates import calc
from pipeline.dates.model import Clock, DateSpec, Node, PartOfDay, Prefer
from pipeline.dates.rules import Context
from pipeline.domain import Grain

_SUBDAY = {
    Grain.SECOND: timedelta(seconds=1),
    Grain.MINUTE: timedelta(minutes=1),
    Grain.HOUR: timedelta(hours=1),
}


@dataclass(frozen=True)
class Span:
    """A resolved node: ``start`` at ``grain``; ``end`` exclusive; ``interval`` if a span."""

    start: datetime | None
    end: datetime | None
    grain: Grain
    interval: bool


def step(moment: datetime, grain: Grain, count: int = 1) -> datetime:
    """``moment`` moved by whole units of ``grain`` (wall-clock for days and longer)."""
    if grain in _SUBDAY:
        return moment + _SUBDAY[grain] * count
    return datetime.combine(calc.shift(moment.date(), grain, count), moment.timetz())


class Resolver:
    """Resolves nodes for one reference time."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ref = ctx.ref
        self.today = ctx.today
        self.settings = ctx.settings
        self.tz = ctx.ref.tzinfo

    # ----------------------------------------------------------------------- dates
    def resolve_date(
        self, spec: DateSpec, prefer: Prefer | None = None
    ) -> tuple[date, Grain, date] | None:
        """(first day, grain, exclusive end) of a date spec, or None if impossible."""
        prefer = spec.prefer or prefer or self.settings.prefer
        if spec.concrete is not None:
            end = spec.span_end or calc.grain_end(spec.concrete, spec.grain)
            return spec.concrete, spec.grain, end
        if spec.day is not None:
            day = self._day(spec, prefer)
            return (day, Grain.DAY, day + timedelta(days=1)) if day else None
        if spec.weekday is not None:
            day = self._weekday(spec.weekday, prefer)
            return day, Grain.DAY, day + timedelta(days=1)
        if spec.month is not None:
            year = (
                spec.year
                if spec.year is not None
                else calc.year_of_month(self.today, spec.month, prefer)
            )
            first = date(year, spec.month, 1)
            return first, Grain.MONTH, calc.grain_end(first, Grain.MONTH)
        if spec.year is not None and 1 <= spec.year <= 9999:
            return date(spec.year, 1, 1), Grain.YEAR, date(min(spec.year + 1, 9999), 1, 1)
        return None

    def _weekday(self, weekday: int, prefer: Prefer) -> date:
        ahead = calc.next_weekday(self.today, weekday)
        back = calc.previous_weekday(self.today, weekday)
        if prefer == "past":
            return back
        if prefer == "nearest":
            if weekday == self.today.weekday():
                return self.today
            return ahead if (ahead - self.today) <= (self.today - back) else back
        return ahead

    def _day(self, spec: DateSpec, prefer: Prefer) -> date | None:
        """Fill a missing year or month by preference (and by the weekday, if given)."""
        assert spec.day is not None
        if spec.year is not None and spec.month is not None:
            return _safe_date(spec.year, spec.month, spec.day)
        # Candidates around today: a weekday written beside the date ("Fri, Jul 18") picks
        # among them, within a year either way; a typo'd weekday is ignored.
        candidates: list[date] = []
        if spec.month is not None:
            for year in range(self.today.year - 1, self.today.year + 2):
                found = _safe_date(year, spec.month, spec.day)
                if found:
                    candidates.append(found)
        else:
            base = date(
                spec.year or self.today.year, self.today.month if spec.year is None else 1, 1
            )
            for offset in range(-2, 13 if spec.weekday is not None else 3):
                first = calc.add_months(base, offset)
                found = _safe_date(first.year, first.month, spec.day)
                if found and (spec.year is None or found.year == spec.year):
                    candidates.append(found)
        if spec.weekday is not None:
            matching = [c for c in candidates if c.weekday() == spec.weekday]
            candidates = matching or candidates
        return self._pick(candidates, prefer)

    def _pick(self, candidates: list[date], prefer: Prefer) -> date | None:
        if not candidates:
            return None
        if prefer == "future":
            ahead = [c for c in candidates if c >= self.today]
            return min(ahead) if ahead else max(candidates)
        if prefer == "past":
            back = [c for c in candidates if c <= self.today]
            return max(back) if back else min(candidates)
        return min(candidates, key=lambda c: abs((c - self.today).days))

    # ----------------------------------------------------------------------- clocks
    def clock_on(self, day: date, clock: Clock, pod: PartOfDay | None = None) -> datetime:
        """The clock time on a known day, reading 12-hour clocks with ``pod`` or settings."""
        if clock.ambiguous:
            pm = pod.is_pm if pod else clock.hour < self.settings.ambiguous_pm_before
            hour = clock.hour24(pm)
        else:
            hour = clock.hour24()
        if clock.utc_offset is None:
            return calc.at(day, self.tz, hour, clock.minute, clock.second)
        zone = timezone(timedelta(minutes=clock.utc_offset))
        return calc.at(day, zone, hour, clock.minute, clock.second).astimezone(self.tz)

    def clock_undated(self, clock: Clock, pod: PartOfDay | None, prefer: Prefer) -> datetime:
        """A clock time with no date: today's if it is still ahead (by the hour), else the
        next one; an ambiguous hour takes whichever of am/pm comes first."""
        if pod is not None or not clock.ambiguous:
            options = [self.clock_on(self.today, clock, pod)]
        else:
            am, pm = clock.with_meridiem("am"), clock.with_meridiem("pm")
            options = sorted({self.clock_on(self.today, am), self.clock_on(self.today, pm)})
        hour_now = self.ref.replace(minute=0, second=0, microsecond=0)
        if prefer == "past":
            past = [o for o in options if o <= self.ref]
            return past[-1] if past else self.clock_on(self.today - timedelta(days=1), clock, pod)
        ahead = [o for o in options if o >= hour_now]
        tomorrow = self.clock_on(self.today + timedelta(days=1), clock, pod)
        if prefer == "nearest":
            everything = [
                *options,
                tomorrow,
                self.clock_on(self.today - timedelta(days=1), clock, pod),
            ]
            return min(everything, key=lambda o: abs((o - self.ref).total_seconds()))
        return ahead[0] if ahead else tomorrow

    # ------------------------------------------------------------------------ nodes
    def span(self, node: Node, prefer: Prefer | None = None) -> Span | None:
        """What a point node (or a fixed one) stands for."""
        prefer = prefer or self.settings.prefer
        if node.fixed is not None:
            fixed = node.fixed
            if fixed.interval:
                return Span(fixed.start, fixed.end, fixed.grain, True)
            assert fixed.value is not None
            return Span(fixed.value, step(fixed.value, fixed.grain), fixed.grain, False)
        if node.pair is not None:
            return self.pair(*node.pair, prefer=prefer)
        if node.date is not None:
            resolved = self.resolve_date(node.date, prefer)
            if resolved is None:
                return None
            first, grain, end = resolved
            if node.clock is not None:
                moment = self.clock_on(first, node.clock, node.pod)
                return Span(moment, step(moment, node.clock.grain), node.clock.grain, False)
            if node.pod is not None:
                return Span(
                    calc.at(first, self.tz, node.pod.start),
                    calc.at(first, self.tz, node.pod.end),
                    Grain.HOUR,
                    True,
                )
            # Named periods ("next week", "March", "2025", "Q3") are spans of their unit;
            # a single day ("tomorrow", "the 5th") stays an instant.
            is_span = node.date.span_end is not None or grain is not Grain.DAY
            return Span(calc.at(first, self.tz), calc.at(end, self.tz), grain, is_span)
        if node.clock is not None:
            moment = self.clock_undated(node.clock, node.pod, prefer)
            return Span(moment, step(moment, node.clock.grain), node.clock.grain, False)
        if node.pod is not None:
            day = self.today
            if prefer == "future" and calc.at(day, self.tz, node.pod.end) <= self.ref:
                day += timedelta(days=1)
            return Span(
                calc.at(day, self.tz, node.pod.start),
                calc.at(day, self.tz, node.pod.end),
                Grain.HOUR,
                True,
            )
        return None

    def pair(self, a: Node, b: Node, prefer: Prefer | None = None) -> Span | None:
        """A range "a to b": each side lends the other what it lacks, then b follows a."""
        filled = fill_pair(a, b)
        if filled is None:
            return None
        a, b = filled
        if _yearless(a.date) and b.date is not None:
            # Year-less ranges are placed by their end: "from 10/1 to 11/7" written on
            # 10/24 is the current range, not next year's.
            resolved = self.resolve_date(b.date, prefer)
            if resolved is None:
                return None
            assert a.date is not None
            a = replace(a, date=_year_before(a.date, resolved[0].year, resolved[0]))
            if _yearless(b.date):
                assert b.date is not None
                b = replace(b, date=b.date.with_year(resolved[0].year))
        first = self.span(a, prefer)
        if first is None or first.start is None:
            return None
        b = _align_year(b, first.start.date())
        second = self.span(b, prefer)
        if second is None or second.start is None:
            return None
        second = self._after(b, first.start, second)
        if second.start is None or second.start < first.start:
            return None
        grain = calc.finer(first.grain, second.grain)
        # "2-3pm" ends at 3pm (a clock range ends at its written time); "Mon-Wed" ends
        # after Wednesday (a date range ends exclusive at its grain).
        end = second.start if b.clock is not None else second.end
        return Span(first.start, end, grain, True)

    def _after(self, b: Node, start: datetime, second: Span) -> Span:
        """Move the end of a range past its start ("11:30-1:30", "23:30 - 3:35")."""
        assert second.start is not None
        if second.start >= start:
            return second
        if b.clock is not None:
            shift = timedelta(hours=12) if b.clock.ambiguous and b.clock.meridiem is None else None
            if shift is None or second.start + shift < start:
                shift = timedelta(days=1)
        elif b.date is not None and b.date.weekday_only:
            shift = timedelta(days=7)
        else:
            return second
        return Span(
            second.start + shift,
            second.end + shift if second.end else None,
            second.grain,
            second.interval,
        )


def _yearless(spec: DateSpec | None) -> bool:
    return (
        spec is not None and spec.concrete is None and spec.year is None and spec.month is not None
    )


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _align_year(b: Node, start: date) -> Node:
    """A year-less end date takes the year of the start, or the next one if earlier."""
    spec = b.date
    if spec is None or spec.concrete is not None or spec.year is not None or spec.month is None:
        return b
    year = start.year
    candidate = _safe_date(year, spec.month, spec.day or 1)
    if candidate is not None and candidate < start.replace(
        day=1 if spec.day is None else start.day
    ):
        year += 1
    return replace(b, date=spec.with_year(year))


def fill_pair(a: Node, b: Node) -> tuple[Node, Node] | None:
    """Share fields between the two ends of a range; None if they cannot be a range."""
    a, b = _number_side(a, b), _number_side(b, a)
    if a.number is not None or b.number is not None:
        return None
    if a.date is None and b.date is not None and a.pod and not a.clock:
        a = replace(a, date=b.date)
    if b.date is None and a.date is not None and (b.clock or b.pod):
        b = replace(b, date=a.date)
    if a.date is not None and b.date is not None:
        a_date = _lend_date(a.date, b.date)
        a, b = replace(a, date=a_date), replace(b, date=_lend_month(b.date, a_date))
    if a.pod is None and b.pod is not None and a.clock is not None:
        a = replace(a, pod=b.pod)
    if b.pod is None and a.pod is not None and b.clock is not None:
        b = replace(b, pod=a.pod)
    if a.clock is not None and b.clock is not None:
        a, b = _lend_meridiem(a, b)
        a, b = _lend_zone(a, b)
    return a, b


def _lend_month(day_only: DateSpec, other: DateSpec) -> DateSpec:
    """ "August 27th - 29th": a bare day of month takes the month and year of the other end."""
    if day_only.concrete is not None or day_only.month is not None or day_only.day is None:
        return day_only
    if other.concrete is not None:
        return replace(day_only, month=other.concrete.month, year=other.concrete.year)
    return replace(day_only, month=other.month, year=other.year)


def _lend_zone(a: Node, b: Node) -> tuple[Node, Node]:
    """ "9h30 - 11h CST": a zone written once applies to both ends."""
    assert a.clock is not None and b.clock is not None
    zone = a.clock.utc_offset if a.clock.utc_offset is not None else b.clock.utc_offset
    return (
        replace(a, clock=replace(a.clock, utc_offset=zone)),
        replace(b, clock=replace(b.clock, utc_offset=zone)),
    )


def _number_side(side: Node, other: Node) -> Node:
    """A bare number takes its meaning from the other end: an hour or a day of month."""
    if side.number is None:
        return side
    if other.clock is not None:
        return replace(side, number=None, clock=Clock(side.number), rule="range_hour")
    if other.date is not None and 1 <= side.number <= 31:
        spec = other.date
        if spec.concrete is not None and spec.grain in (Grain.DAY, Grain.MONTH):
            base = spec.concrete
            return replace(
                side, number=None, date=DateSpec(year=base.year, month=base.month, day=side.number)
            )
        if spec.concrete is None and spec.month is not None:
            return replace(
                side, number=None, date=DateSpec(year=spec.year, month=spec.month, day=side.number)
            )
    return side


def _lend_date(a: DateSpec, b: DateSpec) -> DateSpec:
    """The start of a date range borrows the month/year it left out from the end."""
    if a.concrete is not None or (b.concrete is not None and a.month is not None):
        if a.concrete is None and a.year is None and b.concrete is not None:
            return _year_before(a, b.concrete.year, b.concrete)
        return a
    if a.month is None and a.day is not None:
        month = b.month if b.concrete is None else b.concrete.month
        year = b.year if b.concrete is None else b.concrete.year
        return replace(a, month=month, year=year)
    if a.year is None and b.year is not None:
        end = _safe_date(b.year, b.month or 12, b.day or 1) or date(b.year, 12, 1)
        return _year_before(a, b.year, end)
    return a


def _year_before(a: DateSpec, year: int, end: date) -> DateSpec:
    if a.month is None:
        return a
    start = _safe_date(year, a.month, a.day or 1)
    return a.with_year(year - 1 if start is not None and start > end else year)


def _lend_meridiem(a: Node, b: Node) -> tuple[Node, Node]:
    """ "2-3pm": the start takes pm unless that puts it after the end ("11-1pm")."""
    ca, cb = a.clock, b.clock
    assert ca is not None and cb is not None
    if ca.ambiguous and ca.meridiem is None and cb.meridiem is not None:
        guess = ca.with_meridiem(cb.meridiem)
        if (guess.hour24(), guess.minute) > (cb.hour24(), cb.minute):
            guess = ca.with_meridiem("am" if cb.meridiem == "pm" else "pm")
        return replace(a, clock=guess), b
    if cb.ambiguous and cb.meridiem is None and ca.meridiem is not None:
        guess = cb.with_meridiem(ca.meridiem)
        if (guess.hour24(), guess.minute) < (ca.hour24(), ca.minute):
            guess = cb.with_meridiem("pm" if ca.meridiem == "am" else "am")
        return a, replace(b, clock=guess)
    if ca.ambiguous and cb.ambiguous and a.pod is None:
        pm = ca.hour < 7 or cb.hour < ca.hour  # "9-5" is a working day, "2-4" an afternoon
        first = ca.with_meridiem("pm" if ca.hour < 7 else "am")
        second = cb.with_meridiem("pm" if pm or cb.hour < 7 else "am")
        return replace(a, clock=first), replace(b, clock=second)
    if ca.ambiguous and not cb.ambiguous and cb.hour >= 12 and ca.hour < cb.hour - 12 + 1:
        return replace(a, clock=ca.with_meridiem("pm")), b
    return a, b
