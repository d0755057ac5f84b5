"""``dateparser`` as a fallback for texts the rules leave unresolved.

It knows absolute dates in many formats and languages that a chat grammar need not
(e.g. "13 loka 10:05"), but it is slow and eager (it reads "may", "second" or "24/7" as
dates), so it runs only when the rules found nothing, and only matches holding a digit and
a word, or a full numeric date, count.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pipeline.domain import Grain, MentionKind, TimeMention

_SETTINGS: dict[str, Any] = {
    "PREFER_DATES_FROM": "future",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "STRICT_PARSING": False,
}


def dateparser_mentions(text: str, ref: datetime) -> list[TimeMention]:
    """The first plausible date ``dateparser`` finds in ``text`` (none without a digit)."""
    if not re.search(r"\d", text):
        return []
    from dateparser.search import search_dates

    settings = {
        **_SETTINGS,
        "RELATIVE_BASE": ref.replace(tzinfo=None),
        "TIMEZONE": _tz_name(ref),
        "TO_TIMEZONE": _tz_name(ref),
    }
    try:
        # Naming the language skips dateparser's language detection, which costs ~50 ms a call.
        found = search_dates(text, languages=["en"], settings=settings) or []
    except (ValueError, OverflowError, TypeError):
        return []
    for phrase, value in found:
        start = text.find(phrase)
        if start < 0 or not _plausible(phrase):
            continue
        value = value.astimezone(ref.tzinfo)
        grain = Grain.DAY if (value.hour, value.minute, value.second) == (0, 0, 0) else Grain.MINUTE
        if grain is Grain.DAY:
            value = value.replace(hour=0, minute=0, second=0, microsecond=0)
        return [
            TimeMention(
                text=phrase,
                start_char=start,
                end_char=start + len(phrase),
                kind=MentionKind.INSTANT,
                grain=grain,
                value=value,
            )
        ]
    return []


def _plausible(phrase: str) -> bool:
    """A digit and a word ("13 loka 10:05") or a full numeric date; not "2-3" or "24/7"."""
    if not re.search(r"\d", phrase):
        return False
    return bool(re.search(r"[^\W\d_]{3}", phrase) or len(re.findall(r"\d+", phrase)) >= 3)


def _tz_name(ref: datetime) -> str:
    """A zone name dateparser accepts: the IANA key if there is one, else the UTC offset."""
    key = getattr(ref.tzinfo, "key", None)
    if key:
        return str(key)
    offset = ref.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
