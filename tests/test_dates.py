"""Date normaliser: chat phrasings resolved against a message's own send time.

All examples are written for this project (chat-style, typos included); each asserts the
exact kind, grain, value(s) and span of the first mention.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from pipeline.dates import DateResolver, DateSettings
from pipeline.domain import Grain, MentionKind, TimeMention

UTC = ZoneInfo("UTC")
WED = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)  # a Wednesday morning
THU_AFTERNOON = datetime(2024, 5, 9, 15, 0, tzinfo=UTC)
KOLKATA_LATE = datetime(2024, 5, 8, 23, 50, tzinfo=ZoneInfo("Asia/Kolkata"))
LONDON_BEFORE_DST = datetime(2024, 3, 30, 22, 30, tzinfo=ZoneInfo("Europe/London"))
THE_20TH = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)
NOVEMBER = datetime(2024, 11, 12, 9, 0, tzinfo=UTC)

RESOLVER = DateResolver()

# (text, ref, matched text, kind, grain, value-or-start ISO, end ISO or None)
INSTANTS = [
    ("can u send it by fri eod", WED, "by fri eod", "minute", "2024-05-10T17:00:00+00:00"),
    ("call at 2pm tmrw", WED, "2pm tmrw", "hour", "2024-05-09T14:00:00+00:00"),
    (
        "in 5 business days pls",
        THU_AFTERNOON,
        "in 5 business days",
        "day",
        "2024-05-16T00:00:00+00:00",
    ),
    ("in 5 working days", WED, "in 5 working days", "day", "2024-05-15T00:00:00+00:00"),
    (
        "see you tomorrow at 9am",
        KOLKATA_LATE,
        "tomorrow at 9am",
        "hour",
        "2024-05-09T09:00:00+05:30",
    ),
    ("ping me in 3 hours", LONDON_BEFORE_DST, "in 3 hours", "second", "2024-03-31T02:30:00+01:00"),
    ("tomorrow at 9am", LONDON_BEFORE_DST, "tomorrow at 9am", "hour", "2024-03-31T09:00:00+01:00"),
    ("invoice due the 5th", THE_20TH, "the 5th", "day", "2024-06-05T00:00:00+00:00"),
    ("end of Q2", WED, "end of Q2", "day", "2024-06-30T00:00:00+00:00"),
    ("paid 2 days ago", WED, "2 days ago", "day", "2024-05-06T00:00:00+00:00"),
    ("3 days from now", WED, "3 days from now", "day", "2024-05-11T00:00:00+00:00"),
    ("in three days", WED, "in three days", "day", "2024-05-11T00:00:00+00:00"),
    ("in two weeks", WED, "in two weeks", "day", "2024-05-22T00:00:00+00:00"),
    ("a week from friday", WED, "a week from friday", "day", "2024-05-17T00:00:00+00:00"),
    ("in an hour", WED, "in an hour", "second", "2024-05-08T11:00:00+00:00"),
    ("half past 3", WED, "half past 3", "minute", "2024-05-08T15:30:00+00:00"),
    ("quarter to 5", WED, "quarter to 5", "minute", "2024-05-08T16:45:00+00:00"),
    ("3 o'clock", WED, "3 o'clock", "hour", "2024-05-08T15:00:00+00:00"),
    ("15:00", WED, "15:00", "minute", "2024-05-08T15:00:00+00:00"),
    ("at 4:30", WED, "4:30", "minute", "2024-05-08T16:30:00+00:00"),
    ("at 14h", WED, "14h", "minute", "2024-05-08T14:00:00+00:00"),
    ("thurs 2p.m.", WED, "thurs 2p.m.", "hour", "2024-05-09T14:00:00+00:00"),
    ("call 3:30\u202fpm", WED, "3:30\u202fpm", "minute", "2024-05-08T15:30:00+00:00"),
    ("🎉 party fri 8pm 🎉", WED, "fri 8pm", "hour", "2024-05-10T20:00:00+00:00"),
    ("Friday 3 PM", WED, "Friday 3 PM", "hour", "2024-05-10T15:00:00+00:00"),
    ("Tuesday at 2 PM", WED, "Tuesday at 2 PM", "hour", "2024-05-14T14:00:00+00:00"),
    ("next Tuesday at 10am", WED, "next Tuesday at 10am", "hour", "2024-05-14T10:00:00+00:00"),
    ("wed at 10", WED, "wed at 10", "hour", "2024-05-15T10:00:00+00:00"),
    ("at noon tomorrow", WED, "noon tomorrow", "hour", "2024-05-09T12:00:00+00:00"),
    ("tomorrow at noon", WED, "tomorrow at noon", "hour", "2024-05-09T12:00:00+00:00"),
    ("midnight", WED, "midnight", "hour", "2024-05-09T00:00:00+00:00"),
    ("EOD", WED, "EOD", "minute", "2024-05-08T17:00:00+00:00"),
    ("COB friday", WED, "COB friday", "minute", "2024-05-10T17:00:00+00:00"),
    ("the day after tomorrow", WED, "the day after tomorrow", "day", "2024-05-10T00:00:00+00:00"),
    ("2moro", WED, "2moro", "day", "2024-05-09T00:00:00+00:00"),
    ("tues", WED, "tues", "day", "2024-05-14T00:00:00+00:00"),
    ("fri", WED, "fri", "day", "2024-05-10T00:00:00+00:00"),
    ("end of the month", WED, "end of the month", "day", "2024-05-31T00:00:00+00:00"),
    ("on the 21st", WED, "on the 21st", "day", "2024-05-21T00:00:00+00:00"),
    ("deliver 3/15", WED, "3/15", "day", "2025-03-15T00:00:00+00:00"),
    ("deliver 15/3", WED, "15/3", "day", "2025-03-15T00:00:00+00:00"),
    ("2024-03-15", WED, "2024-03-15", "day", "2024-03-15T00:00:00+00:00"),
    ("15.03.2024", WED, "15.03.2024", "day", "2024-03-15T00:00:00+00:00"),
    ("Mar 3rd 2025", WED, "Mar 3rd 2025", "day", "2025-03-03T00:00:00+00:00"),
    ("3rd of March", WED, "3rd of March", "day", "2025-03-03T00:00:00+00:00"),
    ("3 Mar", WED, "3 Mar", "day", "2025-03-03T00:00:00+00:00"),
    (
        "last friday of the month",
        WED,
        "last friday of the month",
        "day",
        "2024-05-31T00:00:00+00:00",
    ),
]

INTERVALS = [
    (
        "meeting next tues 10-11am",
        WED,
        "next tues 10-11am",
        "hour",
        "2024-05-14T10:00:00+00:00",
        "2024-05-14T11:00:00+00:00",
    ),
    (
        "from 2 to 4 pm",
        WED,
        "from 2 to 4 pm",
        "hour",
        "2024-05-08T14:00:00+00:00",
        "2024-05-08T16:00:00+00:00",
    ),
    (
        "9am-5pm tomorrow",
        WED,
        "9am-5pm tomorrow",
        "hour",
        "2024-05-09T09:00:00+00:00",
        "2024-05-09T17:00:00+00:00",
    ),
    (
        "off Mon-Wed",
        WED,
        "Mon-Wed",
        "day",
        "2024-05-13T00:00:00+00:00",
        "2024-05-16T00:00:00+00:00",
    ),
    (
        "conference June 3-5",
        WED,
        "June 3-5",
        "day",
        "2024-06-03T00:00:00+00:00",
        "2024-06-06T00:00:00+00:00",
    ),
    (
        "from Monday to Friday",
        WED,
        "from Monday to Friday",
        "day",
        "2024-05-13T00:00:00+00:00",
        "2024-05-18T00:00:00+00:00",
    ),
    (
        "this weekend?",
        WED,
        "this weekend",
        "day",
        "2024-05-11T00:00:00+00:00",
        "2024-05-13T00:00:00+00:00",
    ),
    (
        "tomorrow morning",
        WED,
        "tomorrow morning",
        "hour",
        "2024-05-09T06:00:00+00:00",
        "2024-05-09T12:00:00+00:00",
    ),
    (
        "friday evening",
        WED,
        "friday evening",
        "hour",
        "2024-05-10T18:00:00+00:00",
        "2024-05-11T00:00:00+00:00",
    ),
    (
        "this afternoon",
        WED,
        "this afternoon",
        "hour",
        "2024-05-08T12:00:00+00:00",
        "2024-05-08T18:00:00+00:00",
    ),
    # named periods are spans of their unit
    (
        "targets for Q3",
        NOVEMBER,
        "Q3",
        "quarter",
        "2025-07-01T00:00:00+00:00",
        "2025-10-01T00:00:00+00:00",
    ),
    (
        "Q3 2025",
        WED,
        "Q3 2025",
        "quarter",
        "2025-07-01T00:00:00+00:00",
        "2025-10-01T00:00:00+00:00",
    ),
    (
        "next quarter",
        WED,
        "next quarter",
        "quarter",
        "2024-07-01T00:00:00+00:00",
        "2024-10-01T00:00:00+00:00",
    ),
    (
        "nxt week",
        WED,
        "nxt week",
        "week",
        "2024-05-13T00:00:00+00:00",
        "2024-05-20T00:00:00+00:00",
    ),
    (
        "this week",
        WED,
        "this week",
        "week",
        "2024-05-06T00:00:00+00:00",
        "2024-05-13T00:00:00+00:00",
    ),
    (
        "next month",
        WED,
        "next month",
        "month",
        "2024-06-01T00:00:00+00:00",
        "2024-07-01T00:00:00+00:00",
    ),
    (
        "in 2025",
        WED,
        "2025",
        "year",
        "2025-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00+00:00",
    ),
    (
        "first week of June",
        WED,
        "first week of June",
        "week",
        "2024-06-03T00:00:00+00:00",
        "2024-06-10T00:00:00+00:00",
    ),
    # open intervals
    ("available after 2pm", WED, "after 2pm", "hour", "2024-05-08T14:00:00+00:00", None),
    ("been waiting since monday", WED, "since monday", "day", "2024-05-06T00:00:00+00:00", None),
    ("send before 11am", WED, "before 11am", "hour", None, "2024-05-08T11:00:00+00:00"),
    ("on leave until friday", WED, "until friday", "day", None, "2024-05-11T00:00:00+00:00"),
    ("till 5", WED, "till 5", "hour", None, "2024-05-08T17:00:00+00:00"),
]

NO_TIME = [
    "ok thanks, talk soon",
    "lol that's great 😂",
    "can you check the invoice",
    "i sat on it for a while",
    "need 2-3 people",
    "v1.5 is out",
    "we offer 24/7 support",
]


def first(text: str, ref: datetime) -> TimeMention:
    found = RESOLVER.find(text, ref)
    assert found, f"nothing found in {text!r}"
    return found[0]


@pytest.mark.parametrize(("text", "ref", "matched", "grain", "value"), INSTANTS)
def test_instants(text: str, ref: datetime, matched: str, grain: str, value: str) -> None:
    mention = first(text, ref)
    assert mention.kind is MentionKind.INSTANT
    assert (mention.text, mention.grain, mention.value) == (
        matched,
        Grain(grain),
        datetime.fromisoformat(value),
    )
    assert text[mention.start_char : mention.end_char] == matched


@pytest.mark.parametrize(("text", "ref", "matched", "grain", "start", "end"), INTERVALS)
def test_intervals(
    text: str, ref: datetime, matched: str, grain: str, start: str | None, end: str | None
) -> None:
    mention = first(text, ref)
    assert mention.kind is MentionKind.INTERVAL
    assert mention.value is None
    assert (mention.text, mention.grain) == (matched, Grain(grain))
    assert mention.start == (datetime.fromisoformat(start) if start else None)
    assert mention.end == (datetime.fromisoformat(end) if end else None)
    assert text[mention.start_char : mention.end_char] == matched


@pytest.mark.parametrize("text", NO_TIME)
def test_chit_chat_has_no_time(text: str) -> None:
    assert RESOLVER.find(text, WED) == []


def test_prefilter_covers_every_find() -> None:
    """``could_contain_time`` may be a cheap over-estimate but must never hide a mention."""
    texts = [row[0] for row in INSTANTS] + [row[0] for row in INTERVALS] + NO_TIME
    for text in texts:
        if RESOLVER.find(text, WED):
            assert RESOLVER.could_contain_time(text), text


def test_results_are_in_the_reference_timezone_and_ordered() -> None:
    found = RESOLVER.find("call me tmrw at 3pm, or fri morning", KOLKATA_LATE)
    assert [m.text for m in found] == ["tmrw at 3pm", "fri morning"]
    assert all(m.anchor and m.anchor.utcoffset() == KOLKATA_LATE.utcoffset() for m in found)
    assert found[0].end_char <= found[1].start_char


def test_settings_change_meaning() -> None:
    resolver = DateResolver(DateSettings(end_of_day=time(18, 30), day_first=True))
    assert first_with(resolver, "by eod").value == datetime(2024, 5, 8, 18, 30, tzinfo=UTC)
    assert first_with(resolver, "on 3/4").value == datetime(2025, 4, 3, tzinfo=UTC)
    past = DateResolver(DateSettings(prefer="past"))
    assert first_with(past, "friday").value == datetime(2024, 5, 3, tzinfo=UTC)


def test_business_days_skip_holidays() -> None:
    resolver = DateResolver(DateSettings(holiday_country="GB"))
    friday_before_bank_holiday = datetime(2024, 5, 24, 12, tzinfo=UTC)
    mention = first_with(resolver, "in 1 business day", friday_before_bank_holiday)
    assert mention.value == datetime(2024, 5, 28, tzinfo=UTC)  # Monday 27th is a bank holiday


@pytest.mark.parametrize(
    "bad", [{"prefer": "soon"}, {"morning": (12, 6)}, {"business_days": ()}, {"week_start": 9}]
)
def test_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DateSettings(**bad)  # type: ignore[arg-type]


def test_naive_reference_is_rejected() -> None:
    with pytest.raises(ValueError):
        RESOLVER.find("tomorrow", datetime(2024, 5, 8, 10, 0))


def first_with(resolver: DateResolver, text: str, ref: datetime = WED) -> TimeMention:
    found = resolver.find(text, ref)
    assert found, text
    return found[0]


# Grammar for spans longer than a day, multi-part durations, spelled years and other
# categories; all examples written for this project. (text, matched, kind, grain, a, b)
# where a is the value (instant) or start and b the end (intervals), as ISO dates/times.
MORE = [
    # seasons (DateSettings.season_starts, Northern hemisphere)
    ("offsite this summer?", "this summer", "interval", "day", "2024-06-21", "2024-09-23"),
    ("let's revisit in the fall", "fall", "interval", "day", "2024-09-23", "2024-12-21"),
    ("launch next season", "next season", "interval", "day", "2024-06-21", "2024-09-23"),
    ("ski trip winter 2025", "winter 2025", "interval", "day", "2025-12-21", "2026-03-20"),
    # decades and centuries
    ("photos of the 80s pls", "the 80s", "interval", "year", "1980-01-01", "1990-01-01"),
    ("maybe next decade lol", "next decade", "interval", "year", "2030-01-01", "2040-01-01"),
    ("a 20th century house", "20th century", "interval", "year", "1900-01-01", "2000-01-01"),
    # halves
    ("H2 2025 roadmap", "H2 2025", "interval", "month", "2025-07-01", "2026-01-01"),
    ("first half of June", "first half of June", "interval", "day", "2024-06-01", "2024-06-16"),
    # the current period, the rest of it, fortnights
    ("slammed all week", "all week", "interval", "day", "2024-05-06", "2024-05-13"),
    (
        "off for the rest of the month",
        "rest of the month",
        "interval",
        "day",
        "2024-05-08",
        "2024-06-01",
    ),
    ("ship it next fortnight", "next fortnight", "interval", "day", "2024-05-20", "2024-06-03"),
    # the first/last N units of a period
    (
        "the first 10 days of June",
        "the first 10 days of June",
        "interval",
        "day",
        "2024-06-01",
        "2024-06-11",
    ),
    (
        "the last 2 weeks of this month",
        "the last 2 weeks of this month",
        "interval",
        "day",
        "2024-05-13",
        "2024-05-27",
    ),
    # holidays whose date moves
    ("office open on good friday?", "good friday", "instant", "day", "2025-04-18", None),
    ("labor day 2023", "labor day 2023", "instant", "day", "2023-09-04", None),
    (
        "bbq memorial day weekend",
        "memorial day weekend",
        "interval",
        "day",
        "2024-05-25",
        "2024-05-28",
    ),
    ("2 weeks after easter", "2 weeks after easter", "instant", "day", "2025-05-04", None),
    # multi-part durations
    (
        "ping me in 1 hour and 30 minutes",
        "in 1 hour and 30 minutes",
        "instant",
        "second",
        "2024-05-08T11:30",
        None,
    ),
    (
        "2 weeks and 3 days from now",
        "2 weeks and 3 days from now",
        "instant",
        "day",
        "2024-05-25",
        None,
    ),
    (
        "for the past 2 months and 10 days",
        "for the past 2 months and 10 days",
        "interval",
        "day",
        "2024-02-27",
        "2024-05-08",
    ),
    ("we'll be 4 next week", "next week", "interval", "week", "2024-05-13", "2024-05-20"),
    (
        "booked the 14th for 2 nights",
        "the 14th for 2 nights",
        "interval",
        "day",
        "2024-05-14",
        "2024-05-16",
    ),
    (
        "a week starting monday",
        "a week starting monday",
        "interval",
        "day",
        "2024-05-13",
        "2024-05-20",
    ),
    # years and days written as words
    (
        "born on march third nineteen ninety",
        "march third nineteen ninety",
        "instant",
        "day",
        "1990-03-03",
        None,
    ),
    ("party june twenty five", "june twenty five", "instant", "day", "2024-06-25", None),
    (
        "moving august two thousand and twenty six",
        "august two thousand and twenty six",
        "interval",
        "month",
        "2026-08-01",
        "2026-09-01",
    ),
    # ranges: years, "now" and "to date" as an end, day numbers with a dot
    ("roadmap covers 2025-2027", "2025-2027", "interval", "year", "2025-01-01", "2028-01-01"),
    (
        "numbers from January to date",
        "from January to date",
        "interval",
        "day",
        "2024-01-01",
        "2024-05-09",
    ),
    (
        "between now and friday",
        "between now and friday",
        "interval",
        "day",
        "2024-05-08",
        "2024-05-11",
    ),
    ("from 3. to 6.6.", "from 3. to 6.6.", "interval", "day", "2024-06-03", "2024-06-07"),
    # a weekday in the week a shift lands in; clocks
    ("in 2 weeks on tuesday", "in 2 weeks on tuesday", "instant", "day", "2024-05-21", None),
    (
        "call 9.05-9.45 tomorrow",
        "9.05-9.45 tomorrow",
        "interval",
        "minute",
        "2024-05-09T09:05",
        "2024-05-09T09:45",
    ),
    ("see u at 4 45", "4 45", "instant", "minute", "2024-05-08T16:45", None),
    ("today in 2 hours", "today in 2 hours", "instant", "second", "2024-05-08T12:00", None),
]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value + ("" if "T" in value else "T00:00")).replace(tzinfo=UTC)


@pytest.mark.parametrize(("text", "matched", "kind", "grain", "a", "b"), MORE)
def test_more_grammar(
    text: str, matched: str, kind: str, grain: str, a: str, b: str | None
) -> None:
    mention = first(text, WED)
    assert (mention.text, mention.kind, mention.grain) == (matched, MentionKind(kind), Grain(grain))
    if mention.kind is MentionKind.INSTANT:
        assert mention.value == _at(a)
    else:
        assert (mention.start, mention.end) == (_at(a), _at(b) if b else None)
    assert text[mention.start_char : mention.end_char] == matched
    assert RESOLVER.could_contain_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "the summer intern starts soon",  # a season needs "this", "in the", a year…
        "prices fall every day",
        "<h1> heading",
        "sales to date are fine",
    ],
)
def test_more_grammar_leaves_words_alone(text: str) -> None:
    found = RESOLVER.find(text, WED)
    assert all(m.text not in ("summer", "fall", "h1", "to date", "date") for m in found), found


def test_season_starts_setting() -> None:
    south = DateResolver(DateSettings(season_starts=((9, 1), (12, 1), (3, 1), (6, 1))))
    mention = first_with(south, "this winter")
    assert (mention.start, mention.end) == (_at("2024-06-01"), _at("2024-09-01"))
    with pytest.raises(ValueError):
        DateSettings(season_starts=((3, 20),))
