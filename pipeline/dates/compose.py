"""Composition: merge neighbouring nodes into bigger expressions.

Rules only see a few words; people write "next tues 10-11am" or "from the 13th to 15th
July". Composition runs a few left-to-right passes over the nodes of one text, each
looking only at two neighbours and the few characters between them:

1. points: a date, a clock time and a part of day joined by glue ("friday at 3pm");
2. ranges: "a - b", "a to b", "from a till b", "between a and b";
3. points again, so a range can take a date ("tomorrow 9:30-10:45");
4. durations: "3 days after X", "X for 2 weeks";
5. open sides: "after X", "until X", "since X", "by X" and "X at the earliest".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from pipeline.dates.calc import week_start
from pipeline.dates.model import Clock, DateSpec, Fixed, Node, OpenSide
from pipeline.dates.resolve import Resolver
from pipeline.dates.rules import shift_by
from pipeline.domain import Grain

_GLUE = re.compile(
    r"[\s,(]*(?:(?:at|@|on|of|in|the|in\s+the|around|about|approx\.?|ca\.?|by|for|"
    r"starting|from)\b[\s,]*|@\s*)*[\s,)]*",
    re.IGNORECASE,
)
_OPEN_GLUE = re.compile(
    r"[\s,]*(?P<w>after|before|not\s+before|no\s+earlier\s+than)\s*", re.IGNORECASE
)
_RANGE = re.compile(
    r"\s*,?\s*(?:-+|–|—|~|/|to|till|til|until|untill|through|thru|up\s+to|and|but\s+before)"
    r"\s*(?:the\s+)?",
    re.IGNORECASE,
)
_RANGE_PREFIX = re.compile(
    r"(?:\b(?P<w>from|between|starting|during|later\s+than|after)\s+(?:the\s+)?)$",
    re.IGNORECASE,
)
_OPEN_PREFIX = re.compile(
    r"(?:\b(?P<w>after|since|from|starting(?:\s+from)?|beginning|before|until|untill|till|til|"
    r"up\s+to|by|no\s+later\s+than|not\s+later\s+than|later\s+than|earlier\s+than|prior\s+to|"
    r"ahead\s+of|any\s+time\s+after|anytime\s+after|sometimes?\s+before|no\s+earlier\s+than)"
    r"\s+(?:the\s+)?)$",
    re.IGNORECASE,
)
_OPEN_SUFFIX = re.compile(
    r"\s*,?\s*(?P<w>(?:at\s+)?the\s+earliest|or\s+later|onwards?|and\s+later|at\s+the\s+latest"
    r"|or\s+earlier|or\s+before)\b",
    re.IGNORECASE,
)
_OPEN_WORDS: dict[str, OpenSide | None] = {
    "after": "after",
    "since": "since",
    "from": "after",
    "starting": "after",
    "beginning": "after",
    "later than": "after",
    "any time after": "after",
    "anytime after": "after",
    "no earlier than": "after",
    "not before": "after",
    "before": "before",
    "earlier than": "before",
    "prior to": "before",
    "ahead of": "before",
    "sometime before": "before",
    "sometimes before": "before",
    "until": "until",
    "untill": "until",
    "till": "until",
    "til": "until",
    "up to": "until",
    "by": None,
    "no later than": None,
    "not later than": None,
}
_SHIFTS = {"in_duration", "duration_ago", "duration_shift"}
_SHIFT = re.compile(
    r"\s*(?P<w>from|after|since|before|prior\s+to|starting(?:\s+from|\s+on)?|beginning)\s*",
    re.IGNORECASE,
)
_WEEK_OF = re.compile(r"(?:\b(?:the\s+)?week\s+of\s+(?:the\s+)?)$", re.IGNORECASE)


def _key(word: str) -> str:
    return re.sub(r"\s+", " ", word.lower())


class Composer:
    """Runs the composition passes over the nodes of one text."""

    def __init__(self, text: str, resolver: Resolver) -> None:
        self.text = text
        self.resolver = resolver

    def compose(self, nodes: list[Node]) -> list[Node]:
        # Dates join first ("Monday 8th October"), clock ranges next ("9am-5pm"), so a
        # trailing date reaches both ends ("9am-5pm tomorrow"), then everything else.
        nodes = self._pairwise(nodes, self._merge_dates)
        for combine in (
            self._make_range,
            self._merge_points,
            self._make_range,
            self._merge_points,
            self._apply_duration,
            self._merge_points,
        ):
            nodes = self._pairwise(nodes, combine)
        return [self._open_sides(self._week_of(node)) for node in nodes]

    def _pairwise(
        self, nodes: list[Node], combine: Callable[[Node, Node, str], Node | None]
    ) -> list[Node]:
        """Combine neighbours left to right until nothing more combines."""
        out: list[Node] = []
        for node in nodes:
            out.append(node)
            while len(out) >= 2:
                merged = combine(out[-2], out[-1], self.text[out[-2].end : out[-1].start])
                if merged is None:
                    break
                out[-2:] = [merged]
        return out

    # --------------------------------------------------------------------- points
    def _merge_dates(self, a: Node, b: Node, gap: str) -> Node | None:
        if a.clock is not None or b.clock is not None:
            return None
        return self._merge_points(a, b, gap)

    def _merge_points(self, a: Node, b: Node, gap: str) -> Node | None:
        open_glue = _OPEN_GLUE.fullmatch(gap)
        if open_glue and a.date is not None and a.is_point and b.clock is not None and b.is_point:
            side: OpenSide = "before" if open_glue["w"].lower() == "before" else "after"
            joined = _join(a, b, a.start, b.end)
            return replace(joined, open=side) if joined else None
        if not _GLUE.fullmatch(gap) or gap.count(",") > 2:
            return None
        if a.pair is not None and b.is_point:
            return _pair_with(a, b, a.start, b.end)
        if b.pair is not None and a.is_point:
            return _pair_with(b, a, a.start, b.end)
        same_day = _same_day_instant(a, b) or _same_day_instant(b, a)
        if same_day is not None:
            return Node(a.start, b.end, "point", fixed=same_day.fixed)
        if not (a.is_point and b.is_point):
            return None
        shifted = self._weekday_in_week(a, b)
        if shifted is not None:
            return shifted
        return _join(a, b, a.start, b.end)

    def _weekday_in_week(self, a: Node, b: Node) -> Node | None:
        """ "in 3 days on Friday", "2 weeks after Easter on a Monday": the weekday in the
        week the shift lands in."""
        for moved, day in ((a, b), (b, a)):
            if (
                moved.rule in _SHIFTS
                and moved.date is not None
                and moved.date.concrete is not None
                and moved.clock is None
                and day.date is not None
                and day.date.weekday_only
                and day.clock is None
                and day.pod is None
            ):
                assert day.date.weekday is not None
                first = week_start(moved.date.concrete, self.resolver.settings.week_start)
                offset = (day.date.weekday - self.resolver.settings.week_start) % 7
                spec = DateSpec(concrete=first + timedelta(days=offset))
                return Node(a.start, b.end, "point", date=spec)
        return None

    # --------------------------------------------------------------------- ranges
    def _make_range(self, a: Node, b: Node, gap: str) -> Node | None:
        if gap.startswith(".") and a.rule in ("clock_context_hour", "bare_number"):
            gap = gap[1:]  # "from 3. to 5.10.": a day number written with its dot
        if not _RANGE.fullmatch(gap):
            return None
        a, b = self._now_as_today(a, b), self._now_as_today(b, a)
        if not _rangeable(a) or not _rangeable(b):
            return None
        prefix = _RANGE_PREFIX.search(self.text, 0, a.start)
        connector = _key(gap.strip(" ,"))
        word = _key(prefix["w"]) if prefix else ""
        if connector.startswith("and") and word != "between":
            return None
        if connector.startswith("but") != (word in ("later than", "after")):
            return None
        a, b = _as_number(a, b), _as_number(b, a)
        if not _compatible(a, b):
            return None
        start = prefix.start() if prefix else a.start
        return Node(start, b.end, "range", pair=(a, b))

    def _now_as_today(self, node: Node, other: Node) -> Node:
        """ "between now and November 15th", "from March to date": as a range end next to a
        date, "now" is today."""
        if node.rule != "now" or other.date is None or other.clock is not None:
            return node
        return Node(node.start, node.end, "today", date=DateSpec(concrete=self.resolver.today))

    # ------------------------------------------------------------------ durations
    def _apply_duration(self, a: Node, b: Node, gap: str) -> Node | None:
        """ "3 days after X" moves X; "X for 3 days" / "for 3 days from X" spans from X."""
        if a.duration is not None and b.duration is None and b.number is None:
            shift = _SHIFT.fullmatch(gap)
            if not shift:
                return None
            span = self.resolver.span(b)
            if span is None or span.start is None:
                return None
            # "for 3 days from X" and "a day starting X" span from X; "3 days after X" moves it.
            spanning = self.text[a.start : a.end].lower().startswith("for") or shift[
                "w"
            ].lower().startswith(("starting", "beginning"))
            sign = -1 if shift["w"].lower().startswith(("before", "prior")) else 1
            moved, calendar_only = shift_by(self.resolver.ctx, span.start, a.duration, sign)
            if spanning:
                return Node(
                    a.start,
                    b.end,
                    "duration_span",
                    fixed=Fixed(span.grain, start=span.start, end=moved, interval=True),
                )
            if calendar_only and span.grain not in (Grain.SECOND, Grain.MINUTE, Grain.HOUR):
                return Node(a.start, b.end, "duration_shift", date=DateSpec(concrete=moved.date()))
            return Node(a.start, b.end, "duration_shift", fixed=Fixed(span.grain, value=moved))
        if b.duration is not None and a.duration is None and a.number is None and not gap.strip():
            if not self.text[b.start : b.end].lower().startswith("for"):
                return None
            span = self.resolver.span(a)
            if span is None or span.start is None:
                return None
            end, _ = shift_by(self.resolver.ctx, span.start, b.duration, 1)
            return Node(
                a.start,
                b.end,
                "duration_span",
                fixed=Fixed(span.grain, start=span.start, end=end, interval=True),
            )
        return None

    # ------------------------------------------------------------------ open sides
    def _open_sides(self, node: Node) -> Node:
        if node.open is not None or node.duration is not None or node.number is not None:
            return node
        suffix = _OPEN_SUFFIX.match(self.text, node.end)
        if suffix:
            word = _key(suffix["w"])
            side: OpenSide | None = (
                "after" if word.endswith(("earliest", "later", "onward", "onwards")) else None
            )
            if word.endswith(("earlier", "before")):
                side = "until"
            return replace(node, end=suffix.end(), open=side)
        prefix = _OPEN_PREFIX.search(self.text, 0, node.start)
        if not prefix:
            return node
        word = _key(prefix["w"])
        if word.startswith("starting"):
            word = "starting"
        return replace(node, start=prefix.start(), open=_OPEN_WORDS[word])

    def _week_of(self, node: Node) -> Node:
        """ "the week of march 3": the week that holds the day."""
        prefix = _WEEK_OF.search(self.text, 0, node.start)
        if not prefix or node.date is None or not node.date.is_day or not node.is_point:
            return node
        resolved = self.resolver.resolve_date(node.date)
        if resolved is None:
            return node
        monday = week_start(resolved[0], self.resolver.settings.week_start)
        return Node(
            prefix.start(), node.end, "week_of", date=DateSpec(concrete=monday, grain=Grain.WEEK)
        )


def _same_day_instant(day: Node, moment: Node) -> Node | None:
    """ "today in one hour": a day that only restates the day of an exact instant."""
    fixed = moment.fixed
    spec = day.date
    if (
        fixed is None
        or fixed.interval
        or fixed.value is None
        or spec is None
        or spec.concrete is None
        or not spec.is_day
        or day.clock is not None
        or day.pod is not None
        or not day.is_point
    ):
        return None
    return moment if fixed.value.date() == spec.concrete else None


def _join(a: Node, b: Node, start: int, end: int) -> Node | None:
    """One point from two: each field may come from one side only (dates may combine)."""
    if (a.clock is not None and b.clock is not None) or (a.pod is not None and b.pod is not None):
        return None
    date = a.date
    if a.date is not None and b.date is not None:
        date = combine_dates(a.date, b.date)
        if date is None:
            return None
    elif b.date is not None:
        date = b.date
    clock, pod = a.clock or b.clock, a.pod or b.pod
    if date is not None and (clock or pod) and not date.is_day:
        return None
    return Node(start, end, "point", date=date, clock=clock, pod=pod)


def combine_dates(x: DateSpec, y: DateSpec) -> DateSpec | None:
    """ "Monday, Feb 18", "8.5. Tuesday", "june 28 in 2020", "the 5th of next month"."""
    for first, second in ((x, y), (y, x)):
        if first.weekday_only and second.is_day and second.weekday is None:
            if second.concrete is not None:
                return second
            return replace(second, weekday=first.weekday)
        if (
            first.weekday is not None
            and first.weekday_only
            and second.concrete is not None
            and second.grain is Grain.WEEK
        ):
            offset = (first.weekday - second.concrete.weekday()) % 7
            return DateSpec(concrete=second.concrete + timedelta(days=offset))
        only_year = first.concrete is None and first.year is not None and first.month is None
        if (
            only_year
            and second.concrete is None
            and second.year is None
            and second.month is not None
        ):
            return replace(second, year=first.year)
        only_day = first.concrete is None and first.day is not None and first.month is None
        if (
            only_day
            and first.year is None
            and second.concrete is None
            and second.day is None
            and second.month is not None
        ):
            return DateSpec(
                year=second.year, month=second.month, day=first.day, weekday=first.weekday
            )
        if only_day and second.concrete is not None and second.grain is Grain.MONTH:
            return DateSpec(year=second.concrete.year, month=second.concrete.month, day=first.day)
    return None


def _pair_with(pair_node: Node, point: Node, start: int, end: int) -> Node | None:
    """Give both ends of a range the date or part of day written next to it."""
    assert pair_node.pair is not None
    if point.clock is not None or (point.date is None and point.pod is None):
        return None
    ends = []
    for side in pair_node.pair:
        if side.number is not None and point.date is not None and not point.date.is_day:
            spec = point.date
            if spec.concrete is not None and spec.grain is Grain.MONTH:
                ends.append(
                    replace(
                        side,
                        number=None,
                        date=DateSpec(
                            year=spec.concrete.year, month=spec.concrete.month, day=side.number
                        ),
                    )
                )
                continue
            return None
        if side.number is not None:
            side = replace(side, number=None, clock=Clock(side.number))
        if side.date is not None and point.date is not None:
            return None
        merged = _join(side, replace(point, start=side.start, end=side.end), side.start, side.end)
        if merged is None:
            return None
        ends.append(merged)
    return Node(start, end, "range", pair=(ends[0], ends[1]))


def _as_number(side: Node, other: Node) -> Node:
    """ "from 13 to 15 July": an hour read after "from" is a day when the other end is one."""
    if (
        side.rule == "clock_context_hour"
        and side.clock is not None
        and other.clock is None
        and other.date is not None
        and other.date.is_day
    ):
        return replace(side, clock=None, number=side.clock.hour)
    return side


def _rangeable(node: Node) -> bool:
    return node.fixed is None and node.duration is None and node.pair is None and node.open is None


def _compatible(a: Node, b: Node) -> bool:
    """Both ends talk about the same kind of thing (times with times, dates with dates)."""
    if a.number is not None or b.number is not None:
        return True

    def kind(n: Node) -> set[str]:
        kinds = set()
        if n.clock is not None:
            kinds.add("clock")
        if n.date is not None:
            kinds.add("date")
        if n.pod is not None and n.clock is None:
            kinds.add("pod")
        return kinds

    ka, kb = kind(a), kind(b)
    if "clock" in ka and "clock" in kb:
        return True
    return (
        ("date" in ka and "date" in kb and not ("clock" in ka) ^ ("clock" in kb))
        or (ka == {"date", "clock"} and kb == {"clock"})
        or (ka == {"clock"} and kb == {"date", "clock"})
    )
