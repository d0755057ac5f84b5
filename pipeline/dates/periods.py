"""Rules for named spans longer than a day: seasons, decades, centuries, halves, "the week",
"the first ten days of May", and the holidays whose date moves from year to year.

They register into the same :data:`pipeline.dates.rules.RULES` registry (after the core
rules, so the core wins ties) and produce concrete :class:`DateSpec` spans whose end is
exclusive, like "this weekend" does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from pipeline.dates import calc
from pipeline.dates.lexicon import (
    DAY_ORD,
    LAST,
    NEXT,
    QUANTITY,
    THIS,
    YEAR4,
    B,
    E,
    alternation,
    day_value,
    number_value,
)
from pipeline.dates.model import DateSpec, Node
from pipeline.dates.rules import (
    _EDGE_TARGET,
    Context,
    _edge_period,
    concrete,
    direction,
    make_node,
    period_start,
    rule,
)
from pipeline.domain import Grain

REL = "(?:" + THIS + "|" + NEXT + "|" + LAST + ")"


def _span(m: re.Match[str], name: str, first: date, end: date, grain: Grain = Grain.DAY) -> Node:
    return make_node(m, name, date=concrete(first, grain, span_end=end))


def _start_at_word(m: re.Match[str], group: str, name: str, spec: DateSpec) -> Node:
    """A node that leaves a plain preposition ("in", "during") out of its text."""
    return Node(m.start(group), m.end(), name, date=spec)


# -------------------------------------------------------------------------------- seasons
_SEASONS = {"spring": 0, "summer": 1, "autumn": 2, "fall": 2, "winter": 3}


def season_spans(ctx: Context, around: int | None = None) -> list[tuple[int, date, date]]:
    """(season index, first day, exclusive end) of the seasons around a year (default: the
    reference's)."""
    middle = ctx.today.year if around is None else around
    starts = []
    for year in range(middle - 2, middle + 3):
        for index, (month, day) in enumerate(ctx.settings.season_starts):
            starts.append((date(year, month, day), index))
    starts.sort()
    return [(i, start, starts[k + 1][0]) for k, (start, i) in enumerate(starts[:-1])]


@rule(
    "season",
    B
    + r"(?:(?P<rel>"
    + REL
    + r"(?:\s+coming)?)\s+|(?P<prep>in|during|over|by|until|till|since|for|from|the|"
    r"in\s+the|this\s+coming)\s+)?(?:(?P<name>spring|summer|autumn|fall|winter)(?:time)?|"
    r"(?P<generic>seasons?))(?:\s*,?\s*(?:of\s+|in\s+)?(?P<y>" + YEAR4 + "))?" + E,
)
def _season(m: re.Match[str], ctx: Context) -> Node | None:
    """ "this summer", "next season", "winter 2025", "in the fall" (Northern hemisphere by
    default: ``DateSettings.season_starts``)."""
    rel = (m["rel"] or "").lower()
    if not (rel or m["y"] or (m["prep"] and m["name"])):
        return None  # "summer" alone is a word ("summer intern"), "fall" a verb
    if m["generic"] and not rel:
        return None
    spans = season_spans(ctx)
    step = direction(rel)
    today = ctx.today
    current = next(k for k, (_, start, end) in enumerate(spans) if start <= today < end)
    if m["generic"]:
        _, first, end = spans[current + step]
        return _span(m, "season", first, end)
    wanted = _SEASONS[m["name"].lower()]
    same = [s for s in spans if s[0] == wanted]
    if m["y"]:
        year = int(m["y"])
        same = [s for s in season_spans(ctx, year) if s[0] == wanted]
        found = next((s for s in same if s[1].year == year), None)
    elif step > 0:
        found = next((s for s in same if s[1] > today), None)
    elif step < 0:
        found = next((s for s in reversed(same) if s[2] <= today), None)
    else:
        found = next((s for s in same if s[2] > today), None)
    if found is None:
        return None
    spec = concrete(found[1], span_end=found[2])
    if m["prep"] and not m["prep"].lower().startswith(("this", "the")):
        return _start_at_word(m, "name", "season", spec)
    return make_node(m, "season", date=spec)


# ---------------------------------------------------------------------- decades, centuries
_DECADE_WORDS = {
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
}


@rule(
    "decade",
    B
    + r"(?:(?P<rel>"
    + REL
    + r")\s+decade|(?:the\s+)?(?P<y>1[5-9]\d0|20\d0)\s?'?s|(?:the\s+|')(?P<yy>[1-9]0|00)\s?'?s|"
    r"the\s+(?P<w>" + alternation(_DECADE_WORDS) + "))" + E,
)
def _decade(m: re.Match[str], ctx: Context) -> Node:
    """ "the 1990s", "the '80s", "the nineties", "next decade": ten years from a '0 year."""
    if m["rel"]:
        start = ctx.today.year // 10 * 10 + 10 * direction(m["rel"])
    elif m["y"]:
        start = int(m["y"])
    else:
        short = int(m["yy"]) if m["yy"] else _DECADE_WORDS[m["w"].lower()]
        start = ctx.today.year // 100 * 100 + short
        if start > ctx.today.year:
            start -= 100  # "the 90s" said in 2024 are the 1990s
    return _span(m, "decade", date(start, 1, 1), date(start + 10, 1, 1), Grain.YEAR)


@rule(
    "century",
    B + r"(?:(?P<rel>" + REL + r")\s+century|(?:the\s+)?(?P<n>" + DAY_ORD + r")[\s-]+century)" + E,
)
def _century(m: re.Match[str], ctx: Context) -> Node | None:
    """ "the 21st century" is 2000-2099 (the common reading), "this century" likewise."""
    if m["rel"]:
        start = ctx.today.year // 100 * 100 + 100 * direction(m["rel"])
    else:
        start = (day_value(m["n"]) - 1) * 100
    if not 1 <= start + 100 <= 9999 or start < 1:
        return None
    return _span(m, "century", date(start, 1, 1), date(start + 100, 1, 1), Grain.YEAR)


# ---------------------------------------------------------------------------------- halves
@rule(
    "half",
    B
    + r"(?:(?:the\s+)?(?P<n>first|1st|second|2nd|last|latter)\s+half\s+of\s+(?:the\s+)?(?:"
    + _EDGE_TARGET
    + r")|(?P<h>h[12])(?:\s*[-/,]?\s*(?P<hy>"
    + YEAR4
    + r"))?|(?P<hy2>"
    + YEAR4
    + r")\s*[-/]?\s*(?P<h2>h[12]))"
    + E,
)
def _half(m: re.Match[str], ctx: Context) -> Node | None:
    """ "H2 2025", "2025-H1", "the second half of next year", "first half of May"."""
    if m["n"]:
        start, grain = _edge_period(m, ctx)
        second = m["n"].lower() not in ("first", "1st")
    else:
        token = m["h"] or m["h2"]
        if not (m["hy"] or m["hy2"]) and token[0] != "H":
            return None  # a bare lowercase "h1" is more likely a heading than a half-year
        year = int(m["hy"] or m["hy2"]) if (m["hy"] or m["hy2"]) else ctx.today.year
        start, grain, second = date(year, 1, 1), Grain.YEAR, token[1] == "2"
    end = calc.grain_end(start, grain)
    if grain is Grain.YEAR:
        middle = calc.add_months(start, 6)
        first, last = (middle, end) if second else (start, middle)
        return _span(m, "half", first, last, Grain.MONTH)
    if grain is Grain.MONTH:
        middle = start + timedelta(days=15)
        first, last = (middle, end) if second else (start, middle)
        return _span(m, "half", first, last)
    return None


# -------------------------------------------------------------- "the week", "all month"
_PERIOD_UNITS = {"week": Grain.WEEK, "month": Grain.MONTH, "year": Grain.YEAR}


@rule(
    "the_period",
    B + r"(?:(?P<pre>for|in|during|over|throughout|within|rest\s+of|remainder\s+of|remaining\s+of|"
    r"balance\s+of)\s+the\s+|(?P<all>all|the\s+whole|the\s+entire|(?:for|in|during|over)\s+the\s+"
    r"(?:whole|entire))\s+(?:the\s+)?|(?P<bare>the)\s+)(?P<unit>week|month|year|fortnight)"
    r"(?P<after>\s+after\s+next)?"
    + E
    + r"(?!\s*(?:'s|’s|of\b|before\b|after\b|ends?\b|days?\b|long\b|or\b|and\b|\d))",
)
def _the_period(m: re.Match[str], ctx: Context) -> Node | None:
    """ "for the month", "all week", "rest of the year", "unavailable the fortnight": the
    current one (from today on for "rest of"/"within"); "the week after next" is two on."""
    if m["bare"] and not (m["after"] or re.match(r"\s*(?:[.,!?;)]|$)", m.string[m.end() :])):
        return None  # "the week" mid-sentence is too often a noun ("the week was long")
    unit = m["unit"].lower()
    offset = 2 if m["after"] else 0
    if unit == "fortnight":
        first = period_start(ctx, Grain.WEEK, 2 * offset)
        end = first + timedelta(days=14)
    else:
        grain = _PERIOD_UNITS[unit]
        first = period_start(ctx, grain, offset)
        end = calc.grain_end(first, grain)
    pre = (m["pre"] or "").lower()
    if pre.startswith(("rest", "remainder", "remaining", "balance", "within")):
        first = max(first, ctx.today)
    return _span(m, "the_period", first, end)


@rule("relative_fortnight", B + r"(?P<rel>" + REL + r")\s+fortnight" + E)
def _relative_fortnight(m: re.Match[str], ctx: Context) -> Node:
    """ "this fortnight" is the two weeks from this week's start, "next fortnight" the two
    after those, "last fortnight" the two before."""
    first = period_start(ctx, Grain.WEEK, 0) + timedelta(days=14 * direction(m["rel"]))
    return _span(m, "relative_fortnight", first, first + timedelta(days=14))


# ------------------------------------------------------------ "the first ten days of May"
@rule(
    "first_units_of",
    B
    + r"(?:the\s+)?(?P<fl>first|last|final|closing|opening)\s+(?P<count>"
    + QUANTITY
    + r")\s+(?P<nu>days?|weeks?|months?)\s+(?:of|in)\s+(?:the\s+)?(?:"
    + _EDGE_TARGET
    + ")"
    + E,
)
def _first_units_of(m: re.Match[str], ctx: Context) -> Node | None:
    """ "the first 10 days of June", "the last 3 weeks of this year" (whole weeks inside it),
    "the first two months of 2026"."""
    count = number_value(m["count"])
    if count != int(count) or count < 1:
        return None
    n = int(count)
    start, grain = _edge_period(m, ctx)
    end = calc.grain_end(start, grain)
    from_end = m["fl"].lower() in ("last", "final", "closing")
    unit = m["nu"].lower().rstrip("s")
    if unit == "day":
        first, last = (end - timedelta(days=n), end) if from_end else (start, start + timedelta(n))
    elif unit == "month":
        if from_end:
            first, last = calc.add_months(end, -n), end
        else:
            first, last = start, calc.add_months(start, n)
    else:
        mondays = []
        day = calc.week_start(start, ctx.settings.week_start)
        while day + timedelta(days=7) <= end:
            if day >= start:
                mondays.append(day)
            day += timedelta(days=7)
        if n > len(mondays):
            return None
        first = mondays[-n] if from_end else mondays[0]
        last = first + timedelta(weeks=n)
    if first < start or last > end or first >= last:
        return None
    return _span(m, "first_units_of", first, last)


# ------------------------------------------------------------------------ movable holidays
def easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth(month: int, weekday: int, n: int) -> Callable[[int], date]:
    def build(year: int) -> date:
        found = calc.nth_weekday(year, month, weekday, n)
        assert found is not None
        return found

    return build


def _thanksgiving(year: int) -> date:
    return _nth(11, 3, 4)(year)


# US conventions for the US-only names (Labor Day is September's first Monday).
_MOVABLE: dict[str, Callable[[int], date]] = {
    "easter": easter,
    "easter sunday": easter,
    "good friday": lambda y: easter(y) - timedelta(days=2),
    "holy saturday": lambda y: easter(y) - timedelta(days=1),
    "easter monday": lambda y: easter(y) + timedelta(days=1),
    "ash wednesday": lambda y: easter(y) - timedelta(days=46),
    "pentecost": lambda y: easter(y) + timedelta(days=49),
    "whit monday": lambda y: easter(y) + timedelta(days=50),
    "thanksgiving": _thanksgiving,
    "thanksgiving day": _thanksgiving,
    "black friday": lambda y: _thanksgiving(y) + timedelta(days=1),
    "cyber monday": lambda y: _thanksgiving(y) + timedelta(days=4),
    "labor day": _nth(9, 0, 1),
    "labour day": _nth(9, 0, 1),
    "memorial day": _nth(5, 0, -1),
    "mother's day": _nth(5, 6, 2),
    "mothers day": _nth(5, 6, 2),
    "father's day": _nth(6, 6, 3),
    "fathers day": _nth(6, 6, 3),
    "presidents day": _nth(2, 0, 3),
    "presidents' day": _nth(2, 0, 3),
    "president's day": _nth(2, 0, 3),
    "mlk day": _nth(1, 0, 3),
    "martin luther king day": _nth(1, 0, 3),
    "columbus day": _nth(10, 0, 2),
    "earth day": lambda y: date(y, 4, 22),
    "st patrick's day": lambda y: date(y, 3, 17),
    "st. patrick's day": lambda y: date(y, 3, 17),
    "saint patrick's day": lambda y: date(y, 3, 17),
    "april fools day": lambda y: date(y, 4, 1),
    "april fools' day": lambda y: date(y, 4, 1),
    "april fool's day": lambda y: date(y, 4, 1),
}


@rule(
    "movable_holiday",
    B
    + r"(?:(?P<rel>"
    + REL
    + r")\s+)?(?P<h>"
    + alternation(_MOVABLE).replace("'", "['’]?")
    + r")(?:\s*,?\s*(?P<y>"
    + YEAR4
    + r"))?(?P<wk>\s+(?:long\s+)?week[\s-]?end)?"
    + E,
)
def _movable_holiday(m: re.Match[str], ctx: Context) -> Node | None:
    """Easter, Thanksgiving, Labor Day…: "next easter", "black friday 2010", "labor day
    weekend" (the long weekend around it)."""
    key = re.sub(r"\s+", " ", m["h"].lower().replace("’", "'"))
    build = _MOVABLE.get(key) or _MOVABLE.get(key.replace("'", ""))
    if build is None:
        return None
    step = direction(m["rel"])
    today = ctx.today
    if m["y"]:
        day = build(int(m["y"]))
    else:
        this_year = build(today.year)
        past = step < 0 or (step == 0 and ctx.settings.prefer == "past")
        if past:
            day = this_year if this_year < today else build(today.year - 1)
        else:
            day = this_year if this_year >= today else build(today.year + 1)
    if not m["wk"]:
        return make_node(m, "movable_holiday", date=concrete(day))
    weekday = day.weekday()
    if weekday == 0:
        first, end = day - timedelta(days=2), day + timedelta(days=1)
    elif weekday == 4:
        first, end = day, day + timedelta(days=3)
    else:
        first = day + timedelta(days=(5 - weekday) % 7 - (7 if weekday == 6 else 0))
        end = first + timedelta(days=2)
    return _span(m, "movable_holiday", first, end)
