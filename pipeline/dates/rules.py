"""The rule registry: small named regex rules that each turn a phrase into a :class:`Node`.

Each rule is one compiled pattern and one builder. Builders read only their own match and
the :class:`Context` (reference time, settings); they fix what the words say and leave the
rest to composition (:mod:`pipeline.dates.compose`) and resolution
(:mod:`pipeline.dates.resolve`). ``DateSettings.extra_rules`` adds rules of the same shape;
``DateSettings.disabled_rules`` switches built-in ones off by name.

Overlaps between rules are settled later, longest match first, then by registration order,
so a specific rule ("the 3rd of march") beats a generic one ("the 3rd").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pipeline.dates import calc
from pipeline.dates.lexicon import (
    DAY_ANY,
    DAY_ORD,
    LAST,
    MONTH,
    MONTHS,
    NEXT,
    NUM_WORD,
    NUMBER_WORDS,
    ONES,
    ORDINAL_WORDS,
    QUANTITY,
    SMALL_NUM_WORD,
    THIS,
    UNIT,
    WEEKDAY,
    YEAR4,
    YEAR_WORDS,
    B,
    E,
    alternation,
    day_value,
    expand_year,
    month_value,
    number_value,
    unit_value,
    weekday_value,
)
from pipeline.dates.model import Clock, DateSpec, Duration, Fixed, Node, PartOfDay
from pipeline.dates.settings import DateSettings
from pipeline.domain import Grain

Builder = Callable[[re.Match[str], "Context"], Node | None]


@dataclass(frozen=True)
class Context:
    """What a builder may consult besides its match: the reference time and settings."""

    ref: datetime
    settings: DateSettings
    today: date = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "today", self.ref.date())

    def year(self, token: str | None) -> int | None:
        if not token:
            return None
        return expand_year(token, self.ref.year, self.settings.two_digit_year_window)


@dataclass(frozen=True)
class Rule:
    """One named rule: a compiled pattern and the builder that reads its match."""

    name: str
    pattern: re.Pattern[str]
    build: Builder


RULES: dict[str, Rule] = {}


def rule(name: str, pattern: str) -> Callable[[Builder], Builder]:
    """Register ``build`` under ``name`` (registration order breaks ties between rules)."""

    def register(build: Builder) -> Builder:
        if name in RULES:
            raise ValueError(f"duplicate date rule {name!r}")
        RULES[name] = Rule(name, re.compile(pattern, re.IGNORECASE), build)
        return build

    return register


def make_node(m: re.Match[str], name: str, group: str | int = 0, **fields: object) -> Node:
    return Node(m.start(group), m.end(group), name, **fields)  # type: ignore[arg-type]


def before(m: re.Match[str], start: int | None = None, width: int = 40) -> str:
    """Up to ``width`` characters of the text before the match (or before ``start``)."""
    begin = m.start() if start is None else start
    return m.string[max(0, begin - width) : begin]


# ---------------------------------------------------------------------------- fragments
MER = r"(?P<mer>[ap]\s?\.?\s?m\b\.?|(?<=\d)[ap]\b\.?)"
TZ_OFFSETS = {
    "gmt": 0,
    "utc": 0,
    "z": 0,
    "bst": 60,
    "cet": 60,
    "cest": 120,
    "wet": 0,
    "west": 60,
    "eet": 120,
    "eest": 180,
    "est": -300,
    "edt": -240,
    "cst": -360,
    "cdt": -300,
    "mst": -420,
    "mdt": -360,
    "pst": -480,
    "pdt": -420,
    "ist": 330,
    "sgt": 480,
    "jst": 540,
    "aest": 600,
    "aedt": 660,
}
TZ = (
    r"(?P<tz>(?:gmt|utc)[+-]\d{1,2}(?::?\d\d)?|"
    + alternation(k for k in TZ_OFFSETS if k != "z")
    + r")"
)
HOUR_WORD = alternation(ONES[1:13])  # "one" … "twelve"
MINUTE_WORD = NUM_WORD
TODAY = r"(?:today|2day|tdy|tonite|tonight)"
TOMORROW = (
    r"(?:tomorrow|tomorow|tommorow|tommorrow|tomorrw|tmrw|tmrow|tmr|tmw|tmrrw|2moro|2morrow|"
    r"2morow|2mrw|tomoz)"
)
YESTERDAY = r"(?:yesterday|yday|yesterdy)"
YEAR_TAIL = r"(?:\s*,?\s*(?:of\s+|in\s+)?(?P<y>" + YEAR4 + r"|'\d\d)(?![\d:]|\s*[ap]\.?m\b))?"
NTH = (
    r"(?P<n>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last|"
    r"(?:second|2nd|third|3rd)\s+(?:to\s+)?last)"
)
NTH_VALUES = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
}
PERIOD_WORD = r"(?P<unit>week|wk|month|mth|quarter|qtr|year|yr)"
PERIOD_GRAINS = {
    "week": Grain.WEEK,
    "wk": Grain.WEEK,
    "month": Grain.MONTH,
    "mth": Grain.MONTH,
    "quarter": Grain.QUARTER,
    "qtr": Grain.QUARTER,
    "year": Grain.YEAR,
    "yr": Grain.YEAR,
}
REL = r"(?P<rel>" + THIS + "|" + NEXT + "|" + LAST + ")"
TIME_CONTEXT = re.compile(
    r"(?:\b(?:at|around|about|by|before|after|until|till|til|from|since|between|and|to|"
    r"earliest|latest|approx\.?|ca\.?)|@|-|–)\s*$",
    re.IGNORECASE,
)


DOT_TIME_CONTEXT = re.compile(
    r"(?:\b(?:at|around|about|by|before|after|until|till|til|from|since|between|earliest|"
    r"latest|approx\.?|ca\.?)|@)\s*$",
    re.IGNORECASE,
)


def nth_value(token: str) -> int:
    key = re.sub(r"\s+", " ", token.lower())
    if key in NTH_VALUES:
        return NTH_VALUES[key]
    return -NTH_VALUES[key.split(" ")[0]]


def direction(token: str | None) -> int:
    """+1 for next/coming words, -1 for last/past words, 0 for this/current/none."""
    if not token:
        return 0
    word = token.lower().split()[-1]
    if re.fullmatch(NEXT.replace("the ", ""), word):
        return 1
    if re.fullmatch(LAST.replace("the ", ""), word):
        return -1
    return 0


def tz_offset(token: str | None) -> int | None:
    """Minutes east of UTC for a zone abbreviation or a "GMT+2" style offset."""
    if not token:
        return None
    key = token.lower().replace(" ", "")
    if key in TZ_OFFSETS:
        return TZ_OFFSETS[key]
    sign = 1 if "+" in key else -1
    hours, _, minutes = key[4:].partition(":")
    if len(hours) > 2:
        hours, minutes = hours[:-2], hours[-2:]
    return sign * (int(hours) * 60 + int(minutes or 0))


def meridiem(token: str | None) -> Literal["am", "pm"] | None:
    if not token:
        return None
    return "am" if token.strip().lower().startswith("a") else "pm"


def period_start(ctx: Context, grain: Grain, offset: int) -> date:
    """Start of the current week/month/quarter/year shifted by ``offset`` units."""
    start = calc.grain_start(ctx.today, grain, ctx.settings.week_start)
    return calc.shift(start, grain, offset)


def concrete(day: date, grain: Grain = Grain.DAY, span_end: date | None = None) -> DateSpec:
    return DateSpec(concrete=day, grain=grain, span_end=span_end)


# ------------------------------------------------------------------------ relative days
@rule(
    "relative_day",
    B
    + r"(?P<w>(?:the\s+)?day\s+after\s+"
    + TOMORROW
    + r"|(?:the\s+)?day\s+before\s+"
    + YESTERDAY
    + "|"
    + TOMORROW
    + r"(?:'?s)?|today|2day|tdy|"
    + YESTERDAY
    + ")"
    + E,
)
def _relative_day(m: re.Match[str], ctx: Context) -> Node:
    word = m["w"].lower()
    if "after" in word:
        offset = 2
    elif "before" in word:
        offset = -2
    elif re.match(YESTERDAY, word):
        offset = -1
    elif re.match(r"today|2day|tdy", word):
        offset = 0
    else:
        offset = 1
    return make_node(m, "relative_day", date=concrete(ctx.today + timedelta(days=offset)))


@rule("day_after", B + r"the\s+(?:following\s+day|day\s+after)(?=\s*(?:[.,!?;]|$))")
def _day_after(m: re.Match[str], ctx: Context) -> Node:
    return make_node(m, "day_after", date=concrete(ctx.today + timedelta(days=1)))


@rule(
    "now",
    B + r"(?:right\s+now|just\s+now|now|at\s+the\s+moment|at\s+present|at\s+the\s+present\s+"
    r"time|at\s+this\s+time|at\s+the\s+minute|as\s+of\s+now|immediately)" + E,
)
def _now(m: re.Match[str], ctx: Context) -> Node:
    return make_node(m, "now", fixed=Fixed(Grain.SECOND, value=ctx.ref.replace(microsecond=0)))


@rule(
    "date_now",
    r"(?:(?<=\bto\s)|(?<=\btill\s)|(?<=\buntil\s))date\b|"
    + B
    + r"(?:the\s+)?(?:current|today'?s|present)\s+(?:date|day)"
    + E,
)
def _date_now(m: re.Match[str], ctx: Context) -> Node | None:
    """ "from March to date", "till the current date": now, as a range end."""
    if m.group(0).lower() == "date" and not re.search(
        r"\b(?:from|since|between)\b", before(m, width=60), re.IGNORECASE
    ):
        return None  # "equals to date", "sales to date" name no span
    return make_node(m, "now", fixed=Fixed(Grain.SECOND, value=ctx.ref.replace(microsecond=0)))


@rule(
    "asap", B + r"(?:asap|a\.s\.a\.p\.?|as\s+soon\s+as\s+possible|as\s+soon\s+as\s+you\s+can)" + E
)
def _asap(m: re.Match[str], ctx: Context) -> Node:
    now = ctx.ref.replace(microsecond=0)
    return make_node(m, "asap", fixed=Fixed(Grain.SECOND, start=now, interval=True))


# ---------------------------------------------------------------------------- weekdays
_AMBIGUOUS_WEEKDAYS = {"sat", "sun", "wed", "mon", "tue", "thu", "fri", "thur", "thurs", "tues"}


@rule(
    "weekday",
    B
    + r"(?:(?P<rel>"
    + THIS
    + "|"
    + NEXT
    + "|"
    + LAST
    + r"|on)\s+)?(?P<wd>"
    + WEEKDAY
    + r")(?P<after>\s+after\s+next)?"
    + E,
)
def _weekday(m: re.Match[str], ctx: Context) -> Node | None:
    token = m["wd"]
    weekday = weekday_value(token)
    rel = (m["rel"] or "").lower()
    if token.lower() in _AMBIGUOUS_WEEKDAYS and not _plausible_abbreviation(m, rel):
        return None
    if m["after"]:
        day = calc.next_weekday(ctx.today, weekday) + timedelta(days=7)
    elif direction(rel) == 1 and not re.search(r"coming", rel):
        day = calc.week_start(ctx.today, ctx.settings.week_start) + timedelta(
            days=7 + (weekday - ctx.settings.week_start) % 7
        )
    elif direction(rel) == 1:
        day = calc.next_weekday(ctx.today, weekday)
    elif direction(rel) == -1:
        day = calc.previous_weekday(ctx.today, weekday)
    else:
        return make_node(m, "weekday", date=DateSpec(weekday=weekday))
    return make_node(m, "weekday", date=replace(concrete(day), weekday=weekday))


def _plausible_abbreviation(m: re.Match[str], rel: str) -> bool:
    """ "sat", "sun", "wed" are also words: accept them with a modifier, a capital, or
    when a date, a time or punctuation follows ("sat 3pm", "Sun", "wed, 5th")."""
    if rel or m["wd"][0].isupper() or m["wd"].endswith("."):
        return True
    after = m.string[m.end() : m.end() + 12]
    return bool(
        re.match(
            r"\s*(?:[,.!?]|$|\d|the\s+\d|" + MONTH + r"|at\b|@|morning|"
            r"afternoon|evening|night|eod|cob)",
            after,
            re.IGNORECASE,
        )
    )


@rule(
    "weekday_of_week",
    B
    + r"(?:(?P<wd>"
    + WEEKDAY
    + r")\s+(?:of\s+|from\s+|in\s+)?(?P<rel>"
    + THIS
    + "|"
    + NEXT
    + "|"
    + LAST
    + r")\s+(?:week|wk)|(?P<rel2>"
    + THIS
    + "|"
    + NEXT
    + "|"
    + LAST
    + r")\s+(?:week|wk)(?:'s)?\s*,?\s*(?:on\s+)?(?P<wd2>"
    + WEEKDAY
    + "))"
    + E,
)
def _weekday_of_week(m: re.Match[str], ctx: Context) -> Node:
    weekday = weekday_value(m["wd"] or m["wd2"])
    start = period_start(ctx, Grain.WEEK, direction(m["rel"] or m["rel2"]))
    day = start + timedelta(days=(weekday - ctx.settings.week_start) % 7)
    return make_node(m, "weekday_of_week", date=replace(concrete(day), weekday=weekday))


@rule(
    "weekday_count",
    B + r"(?P<q>" + QUANTITY + r")\s+(?P<wd>" + WEEKDAY + r")\s+(?P<dir>from\s+now|hence|ago)" + E,
)
def _weekday_count(m: re.Match[str], ctx: Context) -> Node:
    weekday, count = weekday_value(m["wd"]), int(number_value(m["q"]))
    if m["dir"].lower() == "ago":
        day = calc.previous_weekday(ctx.today, weekday) - timedelta(weeks=count - 1)
    else:
        day = calc.next_weekday(ctx.today, weekday) + timedelta(weeks=count - 1)
    return make_node(m, "weekday_count", date=concrete(day))


# ---------------------------------------------------------------------- calendar dates
@rule(
    "month_day",
    B
    + r"(?P<m>"
    + MONTH
    + r")\s*(?:the\s+)?(?P<d>"
    + DAY_ANY
    + r")(?![\d:.]\d|\s*(?:[ap]\.?m\b|h\d|o'?clock|%|"
    + UNIT
    + r")\b)"
    + E
    + YEAR_TAIL,
)
def _month_day(m: re.Match[str], ctx: Context) -> Node | None:
    return _calendar_node(m, ctx, "month_day")


@rule(
    "day_month",
    B + r"(?:the\s+)?(?P<d>" + DAY_ANY + r")(?:[-/.]|\s*)(?:day\s+)?(?:of\s+|in\s+)?"
    r"(?:the\s+month\s+of\s+)?(?P<m>" + MONTH + r")(?:(?:[-/.]|\s*,\s*|\s+(?:of\s+|in\s+)?)"
    r"(?P<y>" + YEAR4 + r"|'?\d\d)(?![\d:]|\.\d|\s*[ap]\.?m\b|\s*h\b))?" + E,
)
def _day_month(m: re.Match[str], ctx: Context) -> Node | None:
    return _calendar_node(m, ctx, "day_month")


@rule(
    "year_month_day",
    B + r"(?P<y>" + YEAR4 + r")\s*[-/.]\s*(?:(?P<m>" + MONTH + r")\s*[-/.]\s*(?P<d>\d{1,2})|"
    r"(?P<d2>\d{1,2})\s*[-/.]\s*(?P<m2>" + MONTH + "))" + E,
)
def _year_month_day(m: re.Match[str], ctx: Context) -> Node | None:
    return _date_node(
        m, "year_month_day", int(m["y"]), month_value(m["m"] or m["m2"]), int(m["d"] or m["d2"])
    )


_DAY_WORD = alternation(
    [
        *(w for w, v in ORDINAL_WORDS.items() if v <= 31),
        *(w for w, v in NUMBER_WORDS.items() if 1 <= v <= 31),
    ]
)


@rule(
    "spelled_date",
    B
    + r"(?:(?P<m>"
    + MONTH
    + r")\s+(?:the\s+)?(?P<d>"
    + _DAY_WORD
    + r")|(?:the\s+)?(?P<d2>"
    + _DAY_WORD
    + r")\s+(?:(?:day\s+)?of\s+)?(?P<m2>"
    + MONTH
    + r"))(?:\s*,?\s*(?:of\s+|in\s+)?(?P<y>"
    + YEAR_WORDS
    + "|"
    + YEAR4
    + "))?"
    + E,
)
def _spelled_date(m: re.Match[str], ctx: Context) -> Node | None:
    """ "january twenty five nineteen eighty six", "the first of may two thousand and nine";
    without a year only with a full month name ("june twenty five", not "may two")."""
    month_token = m["m"] or m["m2"]
    if not m["y"] and not re.fullmatch(_FULL_MONTHS, month_token, re.IGNORECASE):
        return None
    day = day_value(m["d"] or m["d2"])
    return _date_node(m, "spelled_date", ctx.year(m["y"]), month_value(m["m"] or m["m2"]), day)


def _calendar_node(m: re.Match[str], ctx: Context, name: str) -> Node | None:
    return _date_node(m, name, ctx.year(m["y"]), month_value(m["m"]), day_value(m["d"]))


def _date_node(m: re.Match[str], name: str, year: int | None, month: int, day: int) -> Node | None:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    if year is not None:
        try:
            date(year, month, day)
        except ValueError:
            return None
    return make_node(m, name, date=DateSpec(year=year, month=month, day=day))


@rule("iso_date", B + r"(?P<y>" + YEAR4 + r")(?P<s>[-/.])(?P<a>\d{1,2})(?P=s)(?P<b>\d{1,2})" + E)
def _iso_date(m: re.Match[str], ctx: Context) -> Node | None:
    month, day = int(m["a"]), int(m["b"])
    if month > 12 >= day:
        month, day = day, month
    return _date_node(m, "iso_date", int(m["y"]), month, day)


@rule("compact_date", B + r"(?P<y>(?:19|20)\d\d)(?P<a>0[1-9]|1[0-2])(?P<b>0[1-9]|[12]\d|3[01])" + E)
def _compact_date(m: re.Match[str], ctx: Context) -> Node | None:
    return _date_node(m, "compact_date", int(m["y"]), int(m["a"]), int(m["b"]))


_NOT_A_DATE_AFTER = r"(?!\s*(?:%|[ap]\.?m\b|h\b|hrs?\b|hours?\b|" + UNIT + r"\b|x\b|k\b|of\b))"


@rule(
    "dotted_date",
    r"(?<![\w/.:$€£₹])(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})(?:(?P<dot>\.)(?:\s?(?P<y>"
    + YEAR4
    + r")|(?P<yy>\d{2}))?(?![\d:.])"
    r"|(?![.\d]))" + _NOT_A_DATE_AFTER,
)
def _dotted_date(m: re.Match[str], ctx: Context) -> Node | None:
    day, month = int(m["d"]), int(m["m"])
    if not m["dot"] and _dotted_time_range(m):
        return None
    if not m["dot"]:
        # "13.1", "16.12": without a closing dot it must not look like a decimal or a time.
        if len(m["m"]) < 2 and day <= 12:
            return None
        if DOT_TIME_CONTEXT.search(before(m)):
            return None
    return _date_node(m, "dotted_date", ctx.year(m["y"] or m["yy"]), month, day)


@rule(
    "slash_date",
    r"(?<![\w/.:$€£₹])(?P<a>\d{1,2})(?P<s>[/-])(?P<b>\d{1,2})(?:(?P=s)(?P<y>\d{4}|\d{2}))?"
    r"(?![/\d])" + _NOT_A_DATE_AFTER,
)
def _slash_date(m: re.Match[str], ctx: Context) -> Node | None:
    if m["s"] == "-" and not m["y"]:
        return None  # "2-3" is a range of numbers far more often than a date
    if m.group(0) == "24/7":
        return None  # the idiom "around the clock"
    a, b = int(m["a"]), int(m["b"])
    day_first = ctx.settings.day_first
    if day_first is None:
        day_first = a > 12
    month, day = (b, a) if day_first else (a, b)
    return _date_node(m, "slash_date", ctx.year(m["y"]), month, day)


@rule(
    "month_year",
    B
    + r"(?:(?P<m>"
    + MONTH
    + r")\s*,?\s*(?:of\s+|in\s+)?(?P<y>"
    + YEAR4
    + "|"
    + YEAR_WORDS
    + r")|(?P<mn>0?[1-9]|1[0-2])"
    r"\s*[/-]\s*(?P<y2>"
    + YEAR4
    + r")|(?P<y3>"
    + YEAR4
    + r")-(?P<mn2>0?[1-9]|1[0-2]))"
    + E
    + r"(?![-/.]\d)",
)
def _month_year(m: re.Match[str], ctx: Context) -> Node:
    month = month_value(m["m"]) if m["m"] else int(m["mn"] or m["mn2"])
    year = expand_year(m["y"] or m["y2"] or m["y3"], ctx.ref.year, 50)
    return make_node(m, "month_year", date=DateSpec(year=year, month=month))


@rule(
    "day_of_month",
    B
    + r"(?:(?P<prep>on|by|until|till|before|after|from)\s+)?(?:the\s+)?(?P<d>"
    + DAY_ORD
    + r")"
    + E
    + r"(?!\s*(?:century|centuries|floor|place|time|times|birthday|anniversary|grade|"
    r"edition|round|attempt|row|item|one|of\b|day\b|week\b|month\b|quarter\b|qtr\b|year\b))",
)
def _day_of_month(m: re.Match[str], ctx: Context) -> Node | None:
    token = m["d"]
    if not token[0].isdigit():
        # Ordinal words ("the first") are dates only after a preposition or at a pause.
        tail = m.string[m.end() : m.end() + 3]
        if not m["prep"] and not re.match(r"\s*(?:[,.!?;]|$)", tail):
            return None
    day = day_value(token)
    if not 1 <= day <= 31:
        return None
    start = m.start("prep") if m["prep"] and m["prep"].lower() == "on" else m.start()
    if m["prep"] and m["prep"].lower() != "on":
        start = m.start("d") - (
            4 if m.string[m.start("d") - 4 : m.start("d")].lower() == "the " else 0
        )
    return Node(start, m.end(), "day_of_month", date=DateSpec(day=day))


@rule(
    "day_of_relative_month",
    B
    + r"(?:the\s+)?(?P<d>"
    + DAY_ANY
    + r")\s+(?:day\s+)?(?:of|in)\s+(?:(?P<rel>"
    + THIS
    + "|"
    + NEXT
    + "|"
    + LAST
    + r")\s+|the\s+)(?:month|mth)"
    + E,
)
def _day_of_relative_month(m: re.Match[str], ctx: Context) -> Node | None:
    start = period_start(ctx, Grain.MONTH, direction(m["rel"]))
    return _date_node(m, "day_of_relative_month", start.year, start.month, day_value(m["d"]))


_FULL_MONTHS = alternation(k for k in MONTHS if len(k) > 3 and k != "may") + r"\.?"


@rule(
    "month_only",
    B + r"(?:(?P<rel>" + THIS + "|" + NEXT + "|" + LAST + r"|in|during|of|by|until|till|since|"
    r"for|from|before|after|between|and|to|through)\s+)?(?P<m>"
    + MONTH
    + r")(?P<after>\s+after\s+next)?"
    + E,
)
def _month_only(m: re.Match[str], ctx: Context) -> Node | None:
    token, rel = m["m"], (m["rel"] or "").lower()
    if not rel and not re.fullmatch(_FULL_MONTHS, token, re.IGNORECASE):
        return None  # "may", "mar", "jan" alone are words, not months
    if rel and not re.fullmatch(_FULL_MONTHS, token, re.IGNORECASE) and token.lower() != "may":
        return None
    month = month_value(token)
    step = direction(rel)
    start = (
        m.start("m") if rel and step == 0 and not rel.startswith(("this", "current")) else m.start()
    )
    if m["after"]:
        step = 2
    if step == 0 and not rel.startswith(("this", "current", "present")):
        return Node(start, m.end(), "month_only", date=DateSpec(month=month))
    year = ctx.today.year
    if step > 0:
        year += 1 if month <= ctx.today.month else 0
        year += step - 1
    elif step < 0:
        year -= 1 if month >= ctx.today.month else 0
    return Node(start, m.end(), "month_only", date=concrete(date(year, month, 1), Grain.MONTH))


@rule(
    "year",
    r"(?<![\w/.:$€£₹])(?P<y>"
    + YEAR4
    + r"|\d{1,4}(?=\s*(?:a\.?d\b|a\.d\.)))(?P<ad>\s*a\.?d\.?)?"
    + E
    + r"(?!(?![-–~]\s*"
    + YEAR4
    + r"\b)[-/.]\d|\s*(?:%|"
    + UNIT
    + r")\b)",
)
def _year(m: re.Match[str], ctx: Context) -> Node | None:
    context = before(m, width=20)
    if not m["ad"] and _YEAR_RANGE.search(m.string, max(0, m.start() - 12), m.end() + 12):
        in_range = any(
            f.start() <= m.start() < f.end()
            for f in _YEAR_RANGE.finditer(m.string, max(0, m.start() - 12), m.end() + 12)
        )
        if in_range and not _year_range_side(m):
            return None
    glued = re.search(r"(\d{3,4})\s*[-–]\s*$", context)
    if glued and not re.fullmatch(YEAR4, glued[1]):
        return None  # "1440-1825" is a range of clock times
    if (
        not m["ad"]
        and not re.search(
            r"(?:\b(?:in|of|since|from|before|after|until|till|by|during|year|for|between|and|to|"
            r"through|thru|early|late|mid|end|beginning|start)|[-–~,=])\s*$",
            context,
            re.IGNORECASE,
        )
        and not re.match(r"\s*(?:-|–|~|to|till|until|through|thru)\s*" + YEAR4, m.string[m.end() :])
    ):
        return None  # a bare 4-digit number is an amount more often than a year
    return make_node(m, "year", date=DateSpec(year=int(m["y"])))


@rule("relative_period", B + REL + r"\s+" + PERIOD_WORD + r"(?P<after>\s+after\s+next)?" + E)
def _relative_period(m: re.Match[str], ctx: Context) -> Node:
    grain = PERIOD_GRAINS[m["unit"].lower()]
    offset = 2 if m["after"] else direction(m["rel"])
    return make_node(m, "relative_period", date=concrete(period_start(ctx, grain, offset), grain))


@rule(
    "quarter",
    B + r"(?:(?:the\s+)?(?P<n>[1-4])(?:st|nd|rd|th)?\s+(?:quarter|qtr)|(?:the\s+)?(?P<w>first|"
    r"second|third|fourth|last)\s+(?:quarter|qtr)|q(?P<q>[1-4])|(?P<yy>\d\d)\s*q(?P<q2>[1-4])|"
    r"(?P<y0>"
    + YEAR4
    + r")\s*[-/]?\s*q(?P<q3>[1-4]))(?:\s*(?:[-/,]|of|in)?\s*(?P<y>"
    + YEAR4
    + r"|'\d\d))?"
    + E,
)
def _quarter(m: re.Match[str], ctx: Context) -> Node:
    words = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": 4}
    quarter = int(m["n"] or m["q"] or m["q2"] or m["q3"] or words[m["w"].lower()])
    year = ctx.year(m["y"] or m["y0"] or m["yy"])
    if year is None:
        year = ctx.today.year
        start = date(year, 3 * quarter - 2, 1)
        if ctx.settings.prefer == "future" and calc.grain_end(start, Grain.QUARTER) <= ctx.today:
            year += 1
        elif ctx.settings.prefer == "past" and start > ctx.today:
            year -= 1
    return make_node(m, "quarter", date=concrete(date(year, 3 * quarter - 2, 1), Grain.QUARTER))


@rule(
    "week_number",
    B + r"(?:the\s+)?(?:week|wk|cw|kw)\s*(?:no\.?|number|#)?\s*(?P<n>[1-9]|[1-4]\d|5[0-3])"
    r"(?:\s*(?:of\s+|,\s*)?(?P<y>" + YEAR4 + "))?" + E,
)
def _week_number(m: re.Match[str], ctx: Context) -> Node | None:
    year = int(m["y"]) if m["y"] else ctx.today.year
    monday = calc.nth_week_of_year(year, int(m["n"]))
    if monday is None:
        return None
    return make_node(m, "week_number", date=concrete(monday, Grain.WEEK))


# ------------------------------------------------------------------ ordinal constructions
_TARGET = (
    r"(?:the\s+)?(?:(?P<trel>" + THIS + "|" + NEXT + "|" + LAST + r")\s+)?(?P<tunit>month|year)|"
    r"(?P<tm>" + MONTH + r")(?:\s*,?\s*(?P<ty>" + YEAR4 + "))?|(?P<ty2>" + YEAR4 + ")"
)


def _target_period(m: re.Match[str], ctx: Context) -> tuple[date, Grain]:
    """The month or year an ordinal construction counts in ("... of next month")."""
    if m["tunit"]:
        grain = Grain.MONTH if m["tunit"].lower() == "month" else Grain.YEAR
        return period_start(ctx, grain, direction(m["trel"])), grain
    if m["tm"]:
        month = month_value(m["tm"])
        year = (
            int(m["ty"]) if m["ty"] else calc.year_of_month(ctx.today, month, ctx.settings.prefer)
        )
        return date(year, month, 1), Grain.MONTH
    return date(int(m["ty2"]), 1, 1), Grain.YEAR


@rule(
    "nth_weekday_of",
    B + r"(?:the\s+)?" + NTH + r"\s+(?P<wd>" + WEEKDAY + r"|day|weekend|week[\s-]?end|wkend)\s+"
    r"(?:of|in)\s+(?:" + _TARGET + ")" + E,
)
def _nth_weekday_of(m: re.Match[str], ctx: Context) -> Node | None:
    start, grain = _target_period(m, ctx)
    n, kind = nth_value(m["n"]), m["wd"].lower()
    if grain is Grain.YEAR:
        months = [1, 12] if n > 0 else [12, 1]
        target = months[0]
    else:
        target = start.month
    if kind == "day":
        day: date | None = (
            date(start.year, target, 1) + timedelta(days=n - 1)
            if n > 0
            else calc.last_day_of_month(start.year, target) + timedelta(days=n + 1)
        )
        return make_node(m, "nth_weekday_of", date=concrete(day)) if day else None
    if kind.startswith(("weekend", "week", "wkend")):
        saturday = calc.nth_weekday(start.year, target, 5, n)
        if saturday is None:
            return None
        return make_node(
            m, "nth_weekday_of", date=concrete(saturday, span_end=saturday + timedelta(days=2))
        )
    found = calc.nth_weekday(start.year, target, weekday_value(m["wd"]), n)
    return make_node(m, "nth_weekday_of", date=concrete(found)) if found else None


@rule(
    "nth_week_of",
    B + r"(?:the\s+)?" + NTH + r"\s+(?:week|wk)\s+(?:of|in)\s+(?:" + _TARGET + ")" + E,
)
def _nth_week_of(m: re.Match[str], ctx: Context) -> Node | None:
    start, grain = _target_period(m, ctx)
    n = nth_value(m["n"])
    if grain is Grain.YEAR:
        monday = calc.nth_week_of_year(start.year, n)
    else:
        monday = calc.nth_week_of_month(start.year, start.month, n, ctx.settings.week_start)
    return make_node(m, "nth_week_of", date=concrete(monday, Grain.WEEK)) if monday else None


# --------------------------------------------------------------- period edges and weekends
_EDGE_TARGET = (
    r"(?:(?P<rel>"
    + THIS
    + "|"
    + NEXT
    + "|"
    + LAST
    + r")\s+|the\s+)?"
    + PERIOD_WORD
    + r"|(?P<m>"
    + MONTH
    + r")(?:\s*,?\s*(?P<y>"
    + YEAR4
    + r"))?|(?P<y2>"
    + YEAR4
    + r")|q(?P<q>[1-4])"
    r"(?:\s*(?P<y3>" + YEAR4 + "))?"
)


def _edge_period(m: re.Match[str], ctx: Context) -> tuple[date, Grain]:
    if m["unit"]:
        grain = PERIOD_GRAINS[m["unit"].lower()]
        return period_start(ctx, grain, direction(m["rel"])), grain
    if m["m"]:
        month = month_value(m["m"])
        return date(
            int(m["y"]) if m["y"] else calc.year_of_month(ctx.today, month, ctx.settings.prefer),
            month,
            1,
        ), Grain.MONTH
    if m["q"]:
        quarter = int(m["q"])
        year = int(m["y3"]) if m["y3"] else ctx.today.year
        return date(year, 3 * quarter - 2, 1), Grain.QUARTER
    return date(int(m["y2"]), 1, 1), Grain.YEAR


@rule(
    "end_of_period",
    B
    + r"(?:(?:the\s+)?(?:very\s+)?(?:end|close)\s+of\s+(?:the\s+)?(?:"
    + _EDGE_TARGET
    + r")|(?P<abbr>eow|eom|eoq|eoy|e\.o\.[wmqy]\.?))"
    + E,
)
def _end_of_period(m: re.Match[str], ctx: Context) -> Node:
    """Product semantics: "end of X" is a deadline on the last (working) day of X."""
    if m["abbr"]:
        grain = {"w": Grain.WEEK, "m": Grain.MONTH, "q": Grain.QUARTER, "y": Grain.YEAR}[
            m["abbr"].replace(".", "").lower()[2]
        ]
        start = period_start(ctx, grain, 0)
    else:
        start, grain = _edge_period(m, ctx)
    if grain is Grain.WEEK:
        day = start + timedelta(days=(ctx.settings.end_of_week_weekday - start.weekday()) % 7)
    else:
        day = calc.grain_end(start, grain) - timedelta(days=1)
    return make_node(m, "end_of_period", date=concrete(day))


_EDGES = {
    "beginning": (0.0, 1 / 3),
    "begin": (0.0, 1 / 3),
    "start": (0.0, 1 / 3),
    "early": (0.0, 1 / 3),
    "mid": (1 / 3, 2 / 3),
    "middle": (1 / 3, 2 / 3),
    "late": (2 / 3, 1.0),
}


@rule(
    "period_part",
    B
    + r"(?:(?:the|at\s+the)\s+)?(?P<edge>beginning|begin|start|early|earlier|mid|middle|late|later)"
    r"(?:\s*-\s*|\s+(?:of\s+|in\s+)?(?:the\s+)?)(?:"
    + _EDGE_TARGET
    + r")"
    + E
    + r"|(?P<abbr>bom|boy|bow)"
    + E,
)
def _period_part(m: re.Match[str], ctx: Context) -> Node:
    """ "early March", "beginning of next week": a third of the period, as a span."""
    if m["abbr"]:
        grain = {"m": Grain.MONTH, "y": Grain.YEAR, "w": Grain.WEEK}[m["abbr"].lower()[2]]
        start, edge = period_start(ctx, grain, 0), "beginning"
    else:
        (start, grain), edge = _edge_period(m, ctx), m["edge"].lower()
    if edge in ("later", "earlier"):
        # "later this month" runs from today to the end, "earlier this week" up to today.
        end = calc.grain_end(start, grain)
        first, last = (ctx.today, end) if edge == "later" else (start, ctx.today)
        return make_node(m, "period_part", date=concrete(max(first, start), span_end=last))
    lo, hi = _EDGES[edge]
    if grain is Grain.WEEK:
        first, last = (
            start + timedelta(days=round(lo * 7 - (lo > 0) * 1)),
            start + timedelta(days=round(hi * 7 + (hi < 1) * 1)),
        )
        return make_node(m, "period_part", date=concrete(first, span_end=last))
    if grain in (Grain.YEAR, Grain.QUARTER):
        months = 12 if grain is Grain.YEAR else 3
        first_m = calc.add_months(start, round(lo * months))
        last_m = calc.add_months(start, round(hi * months))
        return make_node(m, "period_part", date=concrete(first_m, Grain.MONTH, span_end=last_m))
    first_d = start + timedelta(days=round(lo * 30))
    last_d = (
        start + timedelta(days=round(hi * 30)) if hi < 1 else calc.grain_end(start, Grain.MONTH)
    )
    return make_node(m, "period_part", date=concrete(first_d, span_end=last_d))


@rule(
    "weekend",
    B + r"(?:(?P<rel>" + THIS + r"(?:\s+coming)?|" + NEXT + "|" + LAST + r"|on\s+the|the|on)\s+)?"
    r"(?:week[\s-]?ends?|wkends?|wknd)" + E,
)
def _weekend(m: re.Match[str], ctx: Context) -> Node:
    step = direction((m["rel"] or "").replace("this coming", "this"))
    saturday = calc.week_start(ctx.today, 0) + timedelta(days=5 + 7 * step)
    if step == 0 and ctx.today.weekday() == 6 and ctx.settings.prefer == "future":
        saturday = ctx.today - timedelta(days=1)
    return make_node(m, "weekend", date=concrete(saturday, span_end=saturday + timedelta(days=2)))


_FIXED_HOLIDAYS = {
    "christmas eve": (12, 24),
    "xmas eve": (12, 24),
    "christmas day": (12, 25),
    "christmas": (12, 25),
    "xmas": (12, 25),
    "new year's eve": (12, 31),
    "nye": (12, 31),
    "new years eve": (12, 31),
    "new year eve": (12, 31),
    "new year's day": (1, 1),
    "new years day": (1, 1),
    "new year's": (1, 1),
    "new years": (1, 1),
    "new year": (1, 1),
    "boxing day": (12, 26),
    "halloween": (10, 31),
    "valentine's day": (2, 14),
    "valentines day": (2, 14),
    "valentine's": (2, 14),
}


@rule(
    "fixed_holiday",
    B
    + r"(?P<h>"
    + alternation(_FIXED_HOLIDAYS).replace("'", "['’]?")
    + r")(?:\s*(?P<y>"
    + YEAR4
    + "))?"
    + E,
)
def _fixed_holiday(m: re.Match[str], ctx: Context) -> Node:
    """A handful of fixed-date holidays; movable feasts are out of scope."""
    key = re.sub(r"['’]", "'", m["h"].lower())
    month, day = _FIXED_HOLIDAYS.get(key) or _FIXED_HOLIDAYS[key.replace("'", "")]
    year = int(m["y"]) if m["y"] else None
    return make_node(m, "fixed_holiday", date=DateSpec(year=year, month=month, day=day))


# ------------------------------------------------------------------------ parts of the day
_POD_WORDS = {
    "morning": "morning",
    "mornin": "morning",
    "morn": "morning",
    "forenoon": "morning",
    "afternoon": "afternoon",
    "arvo": "afternoon",
    "evening": "evening",
    "eve": "evening",
    "night": "night",
    "nite": "night",
    "tonight": "night",
    "tonite": "night",
    "2nite": "night",
}


def part_of_day(name: str, settings: DateSettings, quality: str | None = None) -> PartOfDay:
    """The hours of a part of day, optionally narrowed by "early"/"late"."""
    start, end = getattr(settings, name)
    if quality:
        middle = (start + end) // 2
        start, end = (start, middle) if "early" in quality else (middle, end)
    return PartOfDay(name, start, end)


@rule(
    "part_of_day",
    B + r"(?:(?P<rel>this|last|next|tomorrow|tmrw|yesterday|in\s+the|at|during\s+the|the|"
    r"early\s+in\s+the|late\s+in\s+the)\s+)?(?:(?P<q>(?:very\s+)?(?:early|late))[\s-]*)?"
    r"(?P<p>" + alternation(_POD_WORDS) + r")(?:ish|s)?" + E,
)
def _part_of_day(m: re.Match[str], ctx: Context) -> Node | None:
    word, rel = m["p"].lower(), (m["rel"] or "").lower()
    if word == "eve" and not rel:
        return None  # "eve" alone is a name or "christmas eve"
    tail = m.string[m.end() :]
    if (
        word == "night"
        and rel in ("", "the", "at")
        and re.match(r"\s+\w", tail)
        and not re.match(r"\s+(?:at|@|around|about|\d)", tail, re.IGNORECASE)
    ):
        return None  # "night markets", "night shift"
    quality = m["q"] or (
        "early" if rel.startswith("early") else "late" if rel.startswith("late") else None
    )
    pod = part_of_day(_POD_WORDS[word], ctx.settings, quality)
    offset = {"last": -1, "yesterday": -1, "next": 1, "tomorrow": 1, "tmrw": 1}.get(rel)
    if word.startswith(("tonight", "tonite", "2nite")) or rel == "this":
        offset = 0
    if offset is None:
        return make_node(m, "part_of_day", pod=pod)
    return make_node(m, "part_of_day", pod=pod, date=concrete(ctx.today + timedelta(days=offset)))


@rule(
    "noon_midnight",
    B + r"(?:12\s*)?(?:the\s+)?(?P<w>noon|midday|mid[\s-]day|midnight|lunch\s?time|lunch)" + E,
)
def _noon_midnight(m: re.Match[str], ctx: Context) -> Node:
    word = m["w"].lower()
    if word == "midnight":
        return make_node(m, "noon_midnight", clock=Clock(24, explicit=True))
    if word == "lunch" and not re.search(
        r"\b(?:at|by|before|after|around|till|until)\s+$", before(m, width=10), re.IGNORECASE
    ):
        return make_node(m, "noon_midnight", pod=PartOfDay("lunch", *ctx.settings.lunch))
    return make_node(m, "noon_midnight", clock=Clock(ctx.settings.noon, explicit=True))


@rule(
    "end_of_day",
    B + r"(?:the\s+)?(?:eod|e\.o\.d\.?|cob|c\.o\.b\.?|eob|end\s+of\s+(?:the\s+)?(?:business\s+|"
    r"work(?:ing)?\s+)?day|close\s+of\s+(?:the\s+)?business(?:\s+day)?|end\s+of\s+business)"
    + E
    + r"(?:\s+(?P<rd>today|"
    + TOMORROW
    + "))?",
)
def _end_of_day(m: re.Match[str], ctx: Context) -> Node:
    clock = Clock(
        ctx.settings.end_of_day.hour,
        ctx.settings.end_of_day.minute,
        grain=Grain.MINUTE,
        explicit=True,
    )
    if m["rd"]:
        offset = 0 if m["rd"].lower() == "today" else 1
        return make_node(
            m, "end_of_day", clock=clock, date=concrete(ctx.today + timedelta(days=offset))
        )
    return make_node(m, "end_of_day", clock=clock)


@rule("end_of_named_day", B + r"(?:the\s+)?end\s+of\s+(?P<rd>today|" + TOMORROW + ")" + E)
def _end_of_named_day(m: re.Match[str], ctx: Context) -> Node:
    offset = 0 if m["rd"].lower() == "today" else 1
    end = ctx.settings.end_of_day
    return make_node(
        m,
        "end_of_named_day",
        clock=Clock(end.hour, end.minute, grain=Grain.MINUTE, explicit=True),
        date=concrete(ctx.today + timedelta(days=offset)),
    )


# --------------------------------------------------------------------------- clock times
def _clock(
    m: re.Match[str],
    hour: int,
    minute: int = 0,
    second: int = 0,
    grain: Grain = Grain.HOUR,
    explicit: bool = False,
) -> Clock | None:
    mer = meridiem(m.groupdict().get("mer"))
    if mer and (hour == 0 or hour > 12):
        mer = None  # "14pm", "0am": the 24-hour reading wins
    if not 0 <= hour <= 24 or not 0 <= minute <= 59:
        return None
    offset = tz_offset(m.groupdict().get("tz"))
    explicit = explicit or hour == 0 or hour > 12
    return Clock(hour, minute, second, grain, mer, explicit, offset)


_DOTTED_PAIR = re.compile(r"(?<![\d.])(\d{1,2})[.:](\d\d)\s*[-–]\s*(\d{1,2})[.:](\d\d)(?![\d.])")


def _dotted_time_range(m: re.Match[str]) -> bool:
    """ "17.05-18.15": a range whose other end cannot be a date makes both ends times."""
    for found in _DOTTED_PAIR.finditer(m.string, max(0, m.start() - 8), m.end() + 8):
        if found.start() <= m.start() < found.end():
            ends = [(int(found[1]), int(found[2])), (int(found[3]), int(found[4]))]
            if all(h <= 23 and mi <= 59 for h, mi in ends):
                return any(mi > 12 or h > 31 or h == 0 for h, mi in ends)
    return False


@rule(
    "clock_hm",
    r"(?<![\w/.:$€£₹])(?P<h>[01]?\d|2[0-4])\s?(?P<sep>[:h.])\s?(?P<mi>[0-5]\d)(?::(?P<s>[0-5]\d))?"
    r"(?P<hs>\s?h(?:rs)?\b)?(?:\s*" + MER + r")?(?:\s*" + TZ + r")?" + E + r"(?![.:]\d)",
)
def _clock_hm(m: re.Match[str], ctx: Context) -> Node | None:
    hour, minute = int(m["h"]), int(m["mi"])
    if m["sep"] == "." and not (m["mer"] or m["hs"] or m["tz"]):
        # "9.30" is a time, "12.10" may be a date: dotted times need a sign.
        looks_like_date = 1 <= hour <= 31 and 1 <= minute <= 12
        if looks_like_date and not DOT_TIME_CONTEXT.search(before(m)) and not _dotted_time_range(m):
            return None
    second = int(m["s"]) if m["s"] else 0
    grain = Grain.SECOND if m["s"] else Grain.MINUTE
    explicit = (m["h"].startswith("0") and len(m["h"]) == 2) or m["sep"] == "h"
    clock = _clock(m, hour, minute, second, grain, explicit)
    return make_node(m, "clock_hm", clock=clock) if clock else None


@rule(
    "clock_h_mer",
    B + r"(?P<h>1[0-2]|0?[1-9]|" + HOUR_WORD + r")(?:\s*(?P<oc>o'?\s?clock|oclock)|\s*(?P<ish>ish)"
    r"|(?=\s*[ap]))?(?:\s*" + MER + r")?(?:\s*" + TZ + r")?" + E,
)
def _clock_h_mer(m: re.Match[str], ctx: Context) -> Node | None:
    if not (m["mer"] or m["oc"] or m["ish"] or m["tz"]):
        return None
    hour = int(m["h"]) if m["h"].isdigit() else int(number_value(m["h"]))
    clock = _clock(m, hour)
    return make_node(m, "clock_h_mer", clock=clock) if clock else None


@rule("clock_24h_h", B + r"(?P<h>1\d|2[0-3]|0?\d)\s?h(?:rs)?(?:\s*" + TZ + r")?" + E)
def _clock_24h_h(m: re.Match[str], ctx: Context) -> Node | None:
    hour = int(m["h"])
    if hour <= 12 and not (
        m["tz"] or TIME_CONTEXT.search(before(m)) or _COMPACT_CONTEXT.search(before(m))
    ):
        return None  # "2h" is a duration unless it follows "at"/"from"
    clock = _clock(m, hour, grain=Grain.MINUTE, explicit=True)
    return make_node(m, "clock_24h_h", clock=clock) if clock else None


_COMPACT_CONTEXT = re.compile(
    r"(?:\b(?:at|around|about|by|from|between|and|to|till|until|tonight|today|tomorrow|morning|"
    r"evening|afternoon)|@|-|–|"
    + MONTH
    + r"\s+\d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)?\s+"
    + MONTH
    + r"|\d{1,2}[./]\d{1,2}\.?|"
    + WEEKDAY
    + r"|"
    + MONTH
    + r"\s+\d{1,2}\s*,\s*"
    + YEAR4
    + r")\s*,?\s*$",
    re.IGNORECASE,
)


_YEAR_RANGE = re.compile(
    r"(?<![\d:.])(?P<a>" + YEAR4 + r")\s*[-–~]\s*(?P<b>" + YEAR4 + r")(?![\d:.])"
)


def _year_range_side(m: re.Match[str]) -> bool:
    """ "2014-2018": a glued range of two years, not of clock times. Times win only when
    both ends are valid times and one is on a quarter hour ("1900-2030")."""
    text = m.string
    for found in _YEAR_RANGE.finditer(text, max(0, m.start() - 12), min(len(text), m.end() + 12)):
        if found.start() <= m.start() < found.end():
            ends = [(int(v[:2]), int(v[2:])) for v in (found["a"], found["b"])]
            if any(h > 23 or mi > 59 for h, mi in ends):
                return True
            return int(found["b"]) > int(found["a"]) and not {mi for _, mi in ends} & {
                0,
                15,
                30,
                45,
            }
    return False


@rule(
    "clock_compact",
    r"(?<![\w/.:$€£₹])(?P<h>[01]?\d|2[0-3])(?P<mi>[0-5]\d)(?:\s*"
    + MER
    + r")?(?:\s*"
    + TZ
    + r")?"
    + E
    + r"(?P<rng>(?=\s*[-–]\s*\d{3,4}\b))?",
)
def _clock_compact(m: re.Match[str], ctx: Context) -> Node | None:
    """ "1030", "0930-1045", "1140 am": digits alone are a time only in a time context."""
    if not (m["mer"] or m["rng"] or _COMPACT_CONTEXT.search(before(m))):
        return None
    if not m["mer"] and _year_range_side(m):
        return None
    clock = _clock(m, int(m["h"]), int(m["mi"]), grain=Grain.MINUTE, explicit=len(m["h"]) == 2)
    return make_node(m, "clock_compact", clock=clock) if clock else None


_MINUTE_WORDS = {"quarter": 15, "a quarter": 15, "half": 30}


@rule(
    "clock_relative",
    B + r"(?P<q>a\s+quarter|quarter|half|\d{1,2}|" + NUM_WORD + r")(?P<mins>\s+min(?:ute)?s?)?\s+"
    r"(?P<rel>past|after|to|till|before|of)\s+(?P<h>1[0-2]|0?[1-9]|"
    + HOUR_WORD
    + r"|noon|midnight)(?:\s*"
    + MER
    + r")?"
    + E,
)
def _clock_relative(m: re.Match[str], ctx: Context) -> Node | None:
    token = m["q"].lower()
    minutes = _MINUTE_WORDS.get(re.sub(r"\s+", " ", token))
    if minutes is None:
        minutes = int(number_value(token))
    if not 0 < minutes < 60:
        return None
    named_hour = m["h"].lower() in ("noon", "midnight")
    # "20 past 3" is a time; "7 to 9" and "11 after 9" are ranges or noise.
    forward = m["rel"].lower() in ("past", "after")
    if token.isdigit() and not m["mins"] and not named_hour and (not forward or minutes % 5):
        return None
    if named_hour:
        hour, explicit = (ctx.settings.noon if m["h"].lower() == "noon" else 24), True
    else:
        hour, explicit = int(number_value(m["h"])), False
    total = hour * 60 + (minutes if m["rel"].lower() in ("past", "after") else -minutes)
    hour, minute = divmod(total % (24 * 60), 60)
    if not explicit and hour == 0:
        hour = 12
    clock = _clock(m, hour, minute, grain=Grain.MINUTE, explicit=explicit)
    return make_node(m, "clock_relative", clock=clock) if clock else None


@rule(
    "clock_words",
    B
    + r"(?P<h>"
    + HOUR_WORD
    + r")(?:[\s-]+(?P<oh>oh|o|zero)[\s-]+(?P<mi1>"
    + HOUR_WORD
    + r")|[\s-]+(?P<mi2>"
    + MINUTE_WORD
    + r"))(?:\s*"
    + MER
    + r")?"
    + E,
)
def _clock_words(m: re.Match[str], ctx: Context) -> Node | None:
    minute = int(number_value(m["mi1"] or m["mi2"]))
    if m["mi2"] and (minute < 10 or minute > 59):
        return None
    if not (m["mer"] or m["oh"] or "-" in m.group(0) or TIME_CONTEXT.search(before(m))):
        return None
    clock = _clock(m, int(number_value(m["h"])), minute, grain=Grain.MINUTE)
    return make_node(m, "clock_words", clock=clock) if clock else None


_CTX_HOUR_BEFORE = re.compile(
    r"(?:\b(?:at|around|about|by|before|after|until|till|til|from|since|between|"
    r"approximately|approx\.?|ca\.?|earliest|latest)|@)\s*(?:around\s+|about\s+)?$",
    re.IGNORECASE,
)
_CTX_HOUR_AFTER = re.compile(
    r"\s+(?:in\s+the\s+(?:morning|afternoon|evening|night)|(?:at\s+)?night|tonight|tonite|"
    r"this\s+(?:morning|afternoon|evening)|(?:the\s+)?(?:day\s+after\s+)?" + TOMORROW + r"|today|"
    r"(?:tomorrow\s+|this\s+)?(?:morning|afternoon|evening))\b",
    re.IGNORECASE,
)


@rule(
    "clock_context_hour",
    B
    + r"(?P<h>2[0-4]|1\d|0?\d|"
    + HOUR_WORD
    + r")"
    + E
    + r"(?!\s*(?:[:./,-]\d|%|"
    + UNIT
    + r"|"
    + MONTH
    + r"|st\b|nd\b|rd\b|th\b|people|persons?|"
    r"items?|pcs|units?|times?|x\b))",
)
def _clock_context_hour(m: re.Match[str], ctx: Context) -> Node | None:
    """A bare hour only after "at"/"until"/… or before "tonight"/"in the morning"."""
    if not (_CTX_HOUR_BEFORE.search(before(m)) or _CTX_HOUR_AFTER.match(m.string, m.end())):
        return None
    hour = int(m["h"]) if m["h"].isdigit() else int(number_value(m["h"]))
    clock = _clock(m, hour)
    return make_node(m, "clock_context_hour", clock=clock) if clock else None


@rule(
    "clock_spaced",
    B
    + r"(?P<h>[01]?\d|2[0-3]) (?P<mi>[0-5]\d)"
    + E
    + r"(?!\s*(?:[:./,-]\d|%|"
    + UNIT
    + r"|people|persons?|items?|pcs|units?|times?|x\b))",
)
def _clock_spaced(m: re.Match[str], ctx: Context) -> Node | None:
    """ "at 12 15", "around 7 45": hour and minutes split by a space, after "at" and kin."""
    if not _CTX_HOUR_BEFORE.search(before(m)):
        return None
    clock = _clock(m, int(m["h"]), int(m["mi"]), grain=Grain.MINUTE)
    return make_node(m, "clock_spaced", clock=clock) if clock else None


# ------------------------------------------------------------------------------ durations
_DURATION_PART = r"(?:" + QUANTITY + r")(?:\s+and\s+an?\s+half)?\s*(?:" + UNIT + ")"
_DURATION_PART_RE = re.compile(
    r"(?P<q>" + QUANTITY + r")(?P<half>\s+and\s+an?\s+half)?\s*(?P<u>" + UNIT + ")" + E,
    re.IGNORECASE,
)
# "2 years 1 month 21 days", "3 hours and 20 minutes", "a week, 2 days": parts in a row.
DURATION_PARTS = r"(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s+)" + _DURATION_PART + E
DURATION = (
    r"(?P<dur>(?P<q>"
    + QUANTITY
    + r")(?P<half>\s+and\s+an?\s+half)?\s*(?P<u>"
    + UNIT
    + ")"
    + E
    + "(?:"
    + DURATION_PARTS
    + ")*)"
)


def parse_duration(text: str) -> Duration:
    """All "<amount> <unit>" parts of a (possibly multi-part) duration."""
    parts = []
    for part in _DURATION_PART_RE.finditer(text):
        grain, factor, business = unit_value(part["u"])
        amount = number_value(part["q"]) * factor + (0.5 if part["half"] else 0)
        parts.append((grain, amount, business))
    return Duration(tuple(parts))


def duration_of(m: re.Match[str]) -> Duration:
    return parse_duration(m["dur"])


def shift_by(
    ctx: Context, anchor: datetime, duration: Duration, sign: int
) -> tuple[datetime, bool]:
    """``anchor`` moved by ``duration``; the flag says whether whole days were moved."""
    result, calendar_only = anchor, True
    for grain, amount, business in duration.parts:
        if business:
            result = datetime.combine(
                calc.add_business_days(
                    result.date(),
                    sign * round(amount),
                    ctx.settings.business_days,
                    ctx.settings.holiday_calendar(),
                ),
                result.timetz(),
            )
        elif grain in (Grain.MONTH, Grain.QUARTER, Grain.YEAR) and amount == int(amount):
            moved = calc.shift(result.date(), grain, sign * int(amount))
            result = datetime.combine(moved, result.timetz())
        elif grain in (Grain.DAY, Grain.WEEK) and amount == int(amount):
            result = result + timedelta(days=sign * int(amount) * (7 if grain is Grain.WEEK else 1))
        else:
            calendar_only = False
            seconds = amount * _SECONDS[grain]
            utc = result.astimezone(UTC) + timedelta(seconds=sign * seconds)
            result = utc.astimezone(result.tzinfo)
    return result, calendar_only


_SUBDAY_GRAINS = (Grain.SECOND, Grain.MINUTE, Grain.HOUR)
_SECONDS = {
    Grain.SECOND: 1,
    Grain.MINUTE: 60,
    Grain.HOUR: 3600,
    Grain.DAY: 86400,
    Grain.WEEK: 7 * 86400,
    Grain.MONTH: 30 * 86400,
    Grain.QUARTER: 91 * 86400,
    Grain.YEAR: 365 * 86400,
}


def relative_node(m: re.Match[str], ctx: Context, name: str, sign: int) -> Node:
    """ "in 3 days" is a day (a clock may join it); "in 2 hours" is an exact instant."""
    duration = duration_of(m)
    moved, calendar_only = shift_by(ctx, ctx.ref.replace(microsecond=0), duration, sign)
    if calendar_only and all(g not in _SUBDAY_GRAINS for g, _, _ in duration.parts):
        return make_node(m, name, date=concrete(moved.date()))
    return make_node(m, name, fixed=Fixed(Grain.SECOND, value=moved))


@rule(
    "in_duration",
    B
    + r"in\s+(?:about\s+|around\s+|approx(?:imately|\.)?\s+|roughly\s+|just\s+|another\s+)?"
    + DURATION
    + E
    + r"(?:['’]s\s+time|\s+time)?",
)
def _in_duration(m: re.Match[str], ctx: Context) -> Node:
    return relative_node(m, ctx, "in_duration", 1)


@rule(
    "duration_ago",
    B + DURATION + r"\s+(?P<dir>ago|back|earlier|before|hence|later|from\s+(?:right\s+)?now|"
    r"after)" + E + r"(?!\s+\w)",
)
def _duration_ago(m: re.Match[str], ctx: Context) -> Node:
    sign = -1 if m["dir"].lower() in ("ago", "back", "earlier", "before") else 1
    return relative_node(m, ctx, "duration_ago", sign)


@rule("within_duration", B + r"within\s+(?:the\s+next\s+|the\s+)?" + DURATION + E)
def _within_duration(m: re.Match[str], ctx: Context) -> Node:
    now = ctx.ref.replace(microsecond=0)
    end, _ = shift_by(ctx, now, duration_of(m), 1)
    return make_node(
        m, "within_duration", fixed=Fixed(Grain.SECOND, start=now, end=end, interval=True)
    )


@rule(
    "next_n_units",
    B + r"(?:(?:in|over|during|for|within)\s+)?(?:(?P<rel>" + NEXT + "|" + LAST + r")\s+"
    r"(?P<q>" + QUANTITY + r")|(?:the\s+)?(?P<q2>" + QUANTITY + r")\s+(?P<rel2>next|last|past|"
    r"coming|upcoming|previous|following))\s+(?P<u>"
    + UNIT
    + ")"
    + E
    + "(?P<more>(?:"
    + DURATION_PARTS
    + ")+)?",
)
def _next_n_units(m: re.Match[str], ctx: Context) -> Node | None:
    """ "next 3 days" / "last 2 weeks": whole units after (before) the current one;
    "the last 3 months and 2 weeks": that long up to today (from tomorrow, for "next")."""
    grain, factor, _ = unit_value(m["u"])
    count = number_value(m["q"] or m["q2"]) * factor
    if count != int(count) or count < 1:
        return None
    singular = not m["u"].lower().endswith("s")
    if m["q2"] and count > 1 and singular and m["rel2"].lower() in ("next", "last"):
        return None  # "we'll be 3 next week": a head count, not "the next 3 weeks"
    step = direction(m["rel"] or m["rel2"])
    if m["more"]:
        duration = parse_duration(m.string[m.start("q" if m["q"] else "q2") : m.end()])
        now = ctx.ref.replace(microsecond=0)
        if any(g in _SUBDAY_GRAINS for g, _, _ in duration.parts):
            other, _ = shift_by(ctx, now, duration, 1 if step > 0 else -1)
            lo, hi = (now, other) if step > 0 else (other, now)
            return make_node(
                m, "next_n_units", fixed=Fixed(Grain.SECOND, start=lo, end=hi, interval=True)
            )
        anchor = calc.at(ctx.today + timedelta(days=1 if step > 0 else 0), ctx.ref.tzinfo)
        other, _ = shift_by(ctx, anchor, duration, 1 if step > 0 else -1)
        lo, hi = (anchor, other) if step > 0 else (other, anchor)
        return make_node(m, "next_n_units", fixed=Fixed(Grain.DAY, start=lo, end=hi, interval=True))
    if "upcoming" in (m["rel"] or m["rel2"]).lower() and grain not in _SUBDAY_GRAINS:
        # "two upcoming weeks" names the week two ahead, as "in two weeks" does.
        start = calc.shift(
            calc.grain_start(ctx.today, grain, ctx.settings.week_start), grain, int(count)
        )
        return make_node(m, "next_n_units", date=concrete(start, grain))
    if grain in _SUBDAY_GRAINS:
        unit = timedelta(seconds=_SECONDS[grain])
        now = _truncate(ctx.ref, grain)
        first = now + unit if step > 0 else now - unit * int(count)
        return make_node(
            m,
            "next_n_units",
            fixed=Fixed(grain, start=first, end=first + unit * int(count), interval=True),
        )
    current = calc.grain_start(ctx.today, grain, ctx.settings.week_start)
    first_d = calc.shift(current, grain, 1 if step > 0 else -int(count))
    last_d = calc.shift(first_d, grain, int(count))
    tz = ctx.ref.tzinfo
    return make_node(
        m,
        "next_n_units",
        fixed=Fixed(grain, start=calc.at(first_d, tz), end=calc.at(last_d, tz), interval=True),
    )


def _truncate(moment: datetime, grain: Grain) -> datetime:
    if grain is Grain.SECOND:
        return moment.replace(microsecond=0)
    if grain is Grain.MINUTE:
        return moment.replace(second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


@rule("duration", B + r"(?:for\s+)?" + DURATION + E)
def _duration(m: re.Match[str], ctx: Context) -> Node:
    return make_node(m, "duration", duration=duration_of(m))


@rule("bare_number", B + r"(?P<n>\d{1,2}|" + SMALL_NUM_WORD + r")(?:\s?(?:st|nd|rd|th))?" + E)
def _bare_number(m: re.Match[str], ctx: Context) -> Node | None:
    """A number that may become an hour or a day inside a range ("2-3pm", "13 to 15 July")."""
    value = int(number_value(m["n"])) if not m["n"].isdigit() else int(m["n"])
    return make_node(m, "bare_number", number=value) if 0 <= value <= 31 else None
