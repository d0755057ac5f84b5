"""Words of English time expressions, as tables and as regex fragments built from them.

Rules never spell out a month or a number themselves: they embed the fragments below, so
adding a spelling (a chat abbreviation, a common typo) here teaches every rule at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipeline.domain import Grain


def alternation(words: Iterable[str]) -> str:
    """A non-capturing regex alternation, longest first so "sept" wins over "sep"."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) + ")"


MONTHS: Mapping[str, int] = {
    **{
        name: i
        for i, name in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            start=1,
        )
    },
    **{
        abbr: i
        for i, abbr in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
            start=1,
        )
    },
    "sept": 9,
    "febr": 2,
    "janu": 1,
    "augu": 8,
    "octo": 10,
    "nove": 11,
    "dece": 12,
}

WEEKDAYS: Mapping[str, int] = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "tuesady": 1,
    "wednesday": 2,
    "wed": 2,
    "weds": 2,
    "wednesay": 2,
    "wensday": 2,
    "wednes": 2,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursady": 3,
    "thrusday": 3,
    "friday": 4,
    "fri": 4,
    "firday": 4,
    "fryday": 4,
    "saturday": 5,
    "sat": 5,
    "saterday": 5,
    "sunday": 6,
    "sun": 6,
    "sundy": 6,
}

UNITS: Mapping[str, Grain] = {
    "second": Grain.SECOND,
    "sec": Grain.SECOND,
    "s": Grain.SECOND,
    "minute": Grain.MINUTE,
    "min": Grain.MINUTE,
    "mn": Grain.MINUTE,
    "m": Grain.MINUTE,
    "hour": Grain.HOUR,
    "hr": Grain.HOUR,
    "h": Grain.HOUR,
    "day": Grain.DAY,
    "d": Grain.DAY,
    "night": Grain.DAY,
    "week": Grain.WEEK,
    "wk": Grain.WEEK,
    "w": Grain.WEEK,
    "month": Grain.MONTH,
    "mo": Grain.MONTH,
    "mth": Grain.MONTH,
    "quarter": Grain.QUARTER,
    "qtr": Grain.QUARTER,
    "year": Grain.YEAR,
    "yr": Grain.YEAR,
    "y": Grain.YEAR,
}

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ORD_ONES = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
]
_ORD_TENS = {"twentieth": 20, "thirtieth": 30}


def _number_words() -> dict[str, int]:
    words = {w: i for i, w in enumerate(ONES)}
    for tens, value in _TENS.items():
        words[tens] = value
        for i in range(1, 10):
            for sep in ("-", " ", ""):
                words[f"{tens}{sep}{ONES[i]}"] = value + i
    return words


def _ordinal_words() -> dict[str, int]:
    words = {w: i for i, w in enumerate(_ORD_ONES) if i}
    words.update(_ORD_TENS)
    for tens, value in (("twenty", 20), ("thirty", 30)):
        for i in range(1, 10):
            for sep in ("-", " ", ""):
                words[f"{tens}{sep}{_ORD_ONES[i]}"] = value + i
    return words


NUMBER_WORDS: Mapping[str, int] = _number_words()
ORDINAL_WORDS: Mapping[str, int] = _ordinal_words()
# Vague quantities a chat uses for durations ("in a couple of hours", "a few days").
QUANTITY_WORDS: Mapping[str, float] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "couple": 2,
    "a few": 3,
    "few": 3,
    "several": 3,
    "a pair of": 2,
    "half an": 0.5,
    "half a": 0.5,
    "a half": 0.5,
    "1/2": 0.5,
    "1/4": 0.25,
    "a quarter of an": 0.25,
    "quarter of an": 0.25,
    "3/4": 0.75,
    "three quarters of an": 0.75,
    "three-quarters of an": 0.75,
}
SMALL_NUMBER_WORDS = {w: v for w, v in NUMBER_WORDS.items() if v <= 31}

# Regex fragments (all non-capturing; rules wrap them in named groups).
B = r"(?<![\w/.:])"  # left boundary: not glued to a word, a number or a date separator
E = r"(?![\w])"  # right boundary
MONTH = alternation(MONTHS) + r"\.?"
WEEKDAY = alternation(WEEKDAYS) + r"(?:s|'s)?\.?"
NUM_WORD = alternation(NUMBER_WORDS)
SMALL_NUM_WORD = alternation(SMALL_NUMBER_WORDS)
ORD_WORD = alternation(ORDINAL_WORDS)
QUANTITY = r"(?:\d+(?:[.,]\d+)?|" + alternation([*QUANTITY_WORDS, *NUMBER_WORDS]) + ")"
DAY_NUM = r"(?:0?[1-9]|[12]\d|3[01])(?:\s?(?:st|nd|rd|th))?"
DAY_ORD = r"(?:(?:0?[1-9]|[12]\d|3[01])\s?(?:st|nd|rd|th)|" + ORD_WORD + ")"
DAY_ANY = r"(?:" + DAY_NUM + "|" + ORD_WORD + ")"
YEAR4 = r"(?:1[89]\d\d|2[01]\d\d)"
UNIT = (
    r"(?:business|working|work|biz)\s?days?|"
    r"(?:secs?|seconds?|mins?|minutes?|mns?|hours?|hrs?|h|days?|nights?|weeks?|wks?|fortnights?|"
    r"months?|mths?|quarters?|qtrs?|years?|yrs?)"
)
# Years written as words: "nineteen eighty six", "nineteen hundred and five", "twenty
# twenty-four", "two thousand and fifteen", "nineteen oh five". A bare "twenty five" is a
# number, not 2005, so a century word needs a tail of ten or more (or "oh"/"hundred").
_TAIL_WORDS = {w: v for w, v in NUMBER_WORDS.items() if 10 <= v <= 99}
_CENTURY_WORDS = {"eighteen": 18, "nineteen": 19, "twenty": 20, "twenty one": 21}
YEAR_WORDS = (
    r"(?:two\s+thousand(?:\s+(?:and\s+)?"
    + alternation(w for w, v in NUMBER_WORDS.items() if 1 <= v <= 99)
    + r")?|"
    + alternation(_CENTURY_WORDS)
    + r"\s+(?:hundred(?:\s+and)?\s+"
    + alternation(w for w, v in NUMBER_WORDS.items() if 1 <= v <= 99)
    + r"|(?:oh|o)\s+"
    + alternation(w for w, v in NUMBER_WORDS.items() if 1 <= v <= 9)
    + "|"
    + alternation(_TAIL_WORDS)
    + "))"
)
THIS = r"(?:this|current|the current|present)"
NEXT = r"(?:next|nxt|the next|following|the following|coming|the coming|upcoming|the upcoming)"
LAST = r"(?:last|the last|past|the past|previous|the previous|prev|preceding)"


def number_value(token: str) -> float:
    """The value of a digit string, a number word or a vague quantity ("a couple of")."""
    key = re.sub(r"\s+", " ", token.strip().lower())
    if key in QUANTITY_WORDS:
        return QUANTITY_WORDS[key]
    if key in NUMBER_WORDS:
        return NUMBER_WORDS[key]
    return float(key.replace(",", "."))


def year_words_value(token: str) -> int:
    """The year in "nineteen eighty six", "two thousand and fifteen", "twenty twenty-four"."""
    words = re.sub(r"\s+", " ", token.strip().lower()).replace(" and ", " ")
    if words.startswith("two thousand"):
        rest = words[len("two thousand") :].strip()
        return 2000 + (NUMBER_WORDS[rest] if rest else 0)
    for century, value in sorted(_CENTURY_WORDS.items(), key=lambda kv: -len(kv[0])):
        if words.startswith(century + " "):
            rest = words[len(century) :].strip()
            rest = re.sub(r"^(?:hundred|oh|o) ", "", rest)
            return value * 100 + NUMBER_WORDS[rest]
    raise ValueError(f"not a year: {token!r}")


def day_value(token: str) -> int:
    """The day of month in "3", "03", "3rd", "3 rd" or "third"."""
    key = token.strip().lower()
    if key in ORDINAL_WORDS:
        return ORDINAL_WORDS[key]
    if key in NUMBER_WORDS:
        return NUMBER_WORDS[key]
    return int(re.sub(r"\s?(st|nd|rd|th)$", "", key))


def month_value(token: str) -> int:
    return MONTHS[token.strip().lower().rstrip(".")]


def weekday_value(token: str) -> int:
    key = token.strip().lower().rstrip(".")
    key = key[:-2] if key.endswith("'s") else key
    return WEEKDAYS[key] if key in WEEKDAYS else WEEKDAYS[key[:-1]]


def unit_value(token: str) -> tuple[Grain, float, bool]:
    """(grain, multiplier, business-days?) of a unit word: "fortnight" is 2 weeks."""
    key = token.strip().lower()
    if re.match(r"(?:business|working|work|biz)", key):
        return Grain.DAY, 1, True
    if key.startswith("fortnight"):
        return Grain.WEEK, 2, False
    key = key.rstrip("s") or key
    if key not in UNITS and key.startswith("min"):
        key = "min"
    return UNITS[key], 1, False


def expand_year(year: str, ref_year: int, window: int) -> int:
    """A 2- or 4-digit year; two digits go to the century closest to ``ref_year``."""
    if re.search(r"[a-z]", year, re.IGNORECASE):
        return year_words_value(year)
    value = int(year.lstrip("'"))
    if len(year.lstrip("'")) > 2:
        return value
    century = (ref_year // 100) * 100
    for candidate in (century + value, century - 100 + value, century + 100 + value):
        if abs(candidate - ref_year) <= window:
            return candidate
    return century + value
