"""``DateResolver``: find the time expressions in a chat message and resolve them.

The pipeline is: a cheap prefilter regex, then every rule of the registry over the text,
then the longest non-overlapping matches, composition, and resolution against the
message's own send time. ``dateparser`` is asked only when the rules find nothing.
"""

from __future__ import annotations

import re
from datetime import datetime

from pipeline.dates import lexicon, periods  # noqa: F401  (periods registers its rules)
from pipeline.dates.compose import Composer
from pipeline.dates.model import Node
from pipeline.dates.resolve import Resolver, Span
from pipeline.dates.rules import RULES, Context, Rule
from pipeline.dates.settings import DateSettings
from pipeline.domain import Grain, MentionKind, TimeMention

# Characters that look like spaces or quotes in chat exports; swapped one for one, so
# offsets into the normalised text are offsets into the original.
_NORMALISE = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u3000": " ",
        "\u2019": "'",
        "\u2018": "'",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u200b": " ",
        "\u200e": " ",
        "\u200f": " ",
        "\ufeff": " ",
    }
)

_KEYWORDS = [
    *lexicon.MONTHS,
    *lexicon.WEEKDAYS,
    "tonight",
    "tonite",
    "tod",
    "2day",
    "tdy",
    "tom",
    "tmr",
    "tmw",
    "2mo",
    "2mr",
    "yday",
    "yest",
    "now",
    "moment",
    "present",
    "this time",
    "minute",
    "asap",
    "a.s.a.p",
    "soon",
    "immediately",
    "week",
    "wk",
    "month",
    "mth",
    "quarter",
    "qtr",
    "year",
    "yr",
    "morn",
    "forenoon",
    "afternoon",
    "arvo",
    "eve",
    "night",
    "nite",
    "2nite",
    "noon",
    "midday",
    "mid day",
    "mid-day",
    "midnight",
    "lunch",
    "eod",
    "e.o.",
    "cob",
    "c.o.b",
    "eob",
    "end of",
    "close of",
    "bom",
    "boy",
    "bow",
    "christmas",
    "xmas",
    "new year",
    "nye",
    "boxing day",
    "halloween",
    "valentine",
    "oclock",
    "o'clock",
    "o clock",
    "day",
    "fortnight",
    "hour",
    "hr",
    "sec",
    "min",
    "q1",
    "q2",
    "q3",
    "q4",
    "kw",
    "cw",
    "eow",
    "eom",
    "eoq",
    "eoy",
    *lexicon.ORDINAL_WORDS,
    "spring",
    "summer",
    "autumn",
    "fall",
    "winter",
    "season",
    "decade",
    "century",
    "twenties",
    "thirties",
    "forties",
    "fifties",
    "sixties",
    "seventies",
    "eighties",
    "nineties",
    "easter",
    "pentecost",
    "whit",
    "thanksgiving",
    "date",
]
_HOUR_WORDS = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
PREFILTER = re.compile(
    r"\d|\b(?:"
    + "|".join(re.escape(k) for k in sorted(set(_KEYWORDS), key=len, reverse=True))
    + r")|\b"
    + _HOUR_WORDS
    + r"(?:\s*[ap]\s?\.?\s?m\b|[\s-]+(?:oh|o|zero|twenty|thirty|forty|"
    r"fifty|fifteen|ten|eleven|twelve|thirteen|fourteen|sixteen|seventeen|eighteen|nineteen)"
    r"\b|\s+o'?\s?clock)|\b(?:at|around|about|until|till|by|before|after|from|since|between)\s+"
    r"(?:around\s+|about\s+)?"
    + _HOUR_WORDS
    + r"\b|\b(?:half|quarter|"
    + _HOUR_WORDS
    + r"|twenty)\s+(?:past|to|after|till|before)\b",
    re.IGNORECASE,
)


class DateResolver:
    """Finds and resolves time expressions; one instance serves any number of messages."""

    def __init__(self, settings: DateSettings | None = None) -> None:
        self.settings = settings or DateSettings()
        rules = [r for name, r in RULES.items() if name not in self.settings.disabled_rules]
        self._rules: list[Rule] = [*rules, *self.settings.extra_rules]

    def could_contain_time(self, text: str) -> bool:
        """A cheap test that is True for every text in which :meth:`find` finds something."""
        return PREFILTER.search(text) is not None

    def find(self, text: str, ref: datetime) -> list[TimeMention]:
        """Time mentions in ``text``, resolved against ``ref`` (tz-aware), in text order."""
        if ref.tzinfo is None or ref.utcoffset() is None:
            raise ValueError("DateResolver.find: ref must be timezone-aware")
        if not self.could_contain_time(text):
            return []
        normal = text.translate(_NORMALISE)
        ctx = Context(ref, self.settings)
        resolver = Resolver(ctx)
        nodes = Composer(normal, resolver).compose(self._scan(normal, ctx))
        mentions = [m for m in (self._mention(text, n, resolver) for n in nodes) if m]
        if not mentions and self.settings.use_dateparser:
            from pipeline.dates.fallback import dateparser_mentions

            mentions = dateparser_mentions(text, ref)
        return mentions

    def _scan(self, text: str, ctx: Context) -> list[Node]:
        """All rule matches, then the longest non-overlapping ones (earlier rules win ties)."""
        found: list[tuple[int, int, int, Node]] = []
        for order, rule in enumerate(self._rules):
            for match in rule.pattern.finditer(text):
                node = rule.build(match, ctx)
                if node is not None and node.end > node.start:
                    found.append((-(node.end - node.start), order, node.start, node))
        found.sort(key=lambda item: item[:3])
        taken: list[Node] = []
        for _, _, _, node in found:
            if all(node.end <= t.start or node.start >= t.end for t in taken):
                taken.append(node)
        return sorted(taken, key=lambda n: n.start)

    def _mention(self, text: str, node: Node, resolver: Resolver) -> TimeMention | None:
        if node.number is not None or node.duration is not None:
            return None
        # "since monday" looks back whatever the preference.
        span = resolver.span(node, "past" if node.open == "since" else None)
        if span is None or (span.start is None and span.end is None):
            return None
        return _to_mention(text, node, span)


def _to_mention(text: str, node: Node, span: Span) -> TimeMention:
    """The mention for a resolved node: open sides, spans and instants."""
    start: datetime | None = span.start
    end: datetime | None = span.end
    if node.open in ("after", "since"):
        # "after lunch" starts when lunch ends; "after 2pm" at 2pm.
        if node.open == "after" and node.pod is not None and node.clock is None:
            start = span.end
        end = None
    elif node.open == "before":
        start, end = None, span.start
    elif node.open == "until":
        # "until 5pm" ends at 5pm; "until Friday" includes Friday.
        if not span.interval and span.grain in (Grain.SECOND, Grain.MINUTE, Grain.HOUR):
            end = span.start
        start = None
    elif not span.interval:
        return TimeMention(
            text[node.start : node.end],
            node.start,
            node.end,
            MentionKind.INSTANT,
            span.grain,
            value=span.start,
        )
    return TimeMention(
        text[node.start : node.end],
        node.start,
        node.end,
        MentionKind.INTERVAL,
        span.grain,
        start=start,
        end=end,
    )


__all__ = ["PREFILTER", "DateResolver"]
