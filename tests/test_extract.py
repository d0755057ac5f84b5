"""The extractor end to end: intent, titles, times, priority and assignment per message."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipeline.config import Settings
from pipeline.domain import Grain, ItemType, MessageKind, Priority
from pipeline.extract import Extractor
from pipeline.roster import Person, Roster
from tests.conftest import LONDON, MONDAY_10AM, MessageFactory


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Don't forget to send the Q3 report to John", "Send Q3 report to John"),
        ("Schedule team meeting for Tuesday at 2 PM", "Team meeting"),
        ("John, can you send the Q3 report to Acme by Friday?", "Send Q3 report to Acme"),
        ("@Priya please update the pricing deck", "Update pricing deck"),
        ("pls chase Globex for the signed PO tmrw", "Chase Globex for signed PO"),
        ("Let's do the pipeline review Tuesday at 2 PM", "Pipeline review"),
        ("Reminder: renew the Initech licence before Friday!!", "Renew Initech licence"),
    ],
)
def test_titles_read_like_a_task_list(
    extractor: Extractor, message: MessageFactory, text: str, title: str
) -> None:
    items = extractor.extract(message(text))
    assert [i.title for i in items] == [title]


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "👍",
        "thanks!",
        "haha yes 😂",
        "sent it ✅",
        "did they like the deck?",
        "no need to send the deck, they have it",
        "Tuesday's meeting is cancelled",
        "Good morning all",
        "lunch was great today",
        "I already sent the invoice",
    ],
)
def test_chit_chat_and_finished_work_make_no_items(
    extractor: Extractor, message: MessageFactory, text: str
) -> None:
    assert extractor.extract(message(text)) == []


def test_task_with_deadline_addressee_and_known_account(
    extractor: Extractor, message: MessageFactory
) -> None:
    (item,) = extractor.extract(message("John, can you send the Q3 report to Acme by Friday?"))
    assert item.type is ItemType.TASK
    assert item.assignee == "John Smith"
    assert item.due == at(27)
    assert item.grain is Grain.DAY
    assert item.due_source == "explicit"
    assert item.priority is Priority.HIGH
    org = next(e for e in item.entities if e.label == "ORG")
    assert (org.text, org.key) == ("Acme", "Acme Corp")


def test_event_gets_start_and_default_length(extractor: Extractor, message: MessageFactory) -> None:
    (item,) = extractor.extract(message("Schedule team meeting for Tuesday at 2 PM"))
    assert item.type is ItemType.EVENT
    assert item.start == at(24, 14)
    assert item.end == at(24, 15)
    assert item.due is None


def test_event_range_keeps_its_end(extractor: Extractor, message: MessageFactory) -> None:
    (item,) = extractor.extract(message("Call with Globex on Thursday 10-11am"))
    assert item.type is ItemType.EVENT
    assert (item.start, item.end) == (at(26, 10), at(26, 11))


def test_one_message_can_hold_a_task_and_an_event(
    extractor: Extractor, message: MessageFactory
) -> None:
    items = extractor.extract(
        message(
            "Send the contract to Acme by Wednesday and book a call with Initech for Monday 3pm"
        )
    )
    assert [(i.type, i.title) for i in items] == [
        (ItemType.TASK, "Send contract to Acme"),
        (ItemType.EVENT, "Call with Initech"),
    ]
    assert items[0].due == at(25)
    assert items[1].start == at(30, 15)
    assert [i.index for i in items] == [0, 1]


@pytest.mark.parametrize(
    ("text", "author", "assignee", "reason"),
    [
        ("@Priya please update the pricing deck", "Sarah Cole", "Priya Shah", "named"),
        ("Johnny can you call Initech back", "Sarah Cole", "John Smith", "named"),
        ("I'll call the Initech guys after lunch", "Priya Shah", "Priya Shah", "author"),
        ("Can someone check the Acme invoice?", "Sarah Cole", "Will Turner", "role:sales_ops"),
        ("Send the new deck to Globex", "Sarah Cole", None, None),
        ("Will you send the deck to Globex?", "Sarah Cole", None, None),
    ],
)
def test_assignment(
    extractor: Extractor,
    message: MessageFactory,
    text: str,
    author: str,
    assignee: str | None,
    reason: str | None,
) -> None:
    (item,) = extractor.extract(message(text, author=author))
    assert (item.assignee, item.assignee_reason) == (assignee, reason)


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("URGENT: fix the Acme invoice ASAP", Priority.URGENT),
        ("call them back immediately pls", Priority.URGENT),
        ("need the signed NDA by tomorrow", Priority.HIGH),
        ("deadline for the Globex proposal is Friday", Priority.HIGH),
        ("can you update the CRM notes when you get a chance", Priority.NORMAL),
    ],
)
def test_priority(
    extractor: Extractor, message: MessageFactory, text: str, priority: Priority
) -> None:
    items = extractor.extract(message(text))
    assert [i.priority for i in items] == [priority]


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("can you update the CRM notes", at(24, 17)),  # normal: tomorrow 17:00
        ("please review the Acme contract", at(30, 17)),  # contract-type: 5 working days
        ("fix the broken link on the pricing page asap", at(23, 17)),  # urgent: today 17:00
    ],
)
def test_default_due_dates_come_from_the_policy(
    extractor: Extractor, message: MessageFactory, text: str, due: datetime
) -> None:
    (item,) = extractor.extract(message(text))
    assert (item.due, item.due_source) == (due, "policy")


def test_urgent_task_after_hours_rolls_to_next_day(
    extractor: Extractor, message: MessageFactory
) -> None:
    (item,) = extractor.extract(message("fix the pricing page asap", at=at(23, 19)))
    assert item.due == at(24, 17)


@pytest.mark.parametrize("kind", [MessageKind.MEDIA, MessageKind.SYSTEM, MessageKind.DELETED])
def test_only_text_messages_are_read(
    extractor: Extractor, message: MessageFactory, kind: MessageKind
) -> None:
    assert extractor.extract(message("send the deck tomorrow", kind=kind)) == []


def test_batch_keeps_order_and_matches_single_calls(
    extractor: Extractor, message: MessageFactory
) -> None:
    texts = ["ok", "send the deck to Acme tomorrow", "👍", "meeting with Globex Friday 3pm"]
    messages = [message(t) for t in texts]
    batch = list(extractor.extract_many(messages, batch_size=3))
    assert [m.id for m, _ in batch] == [m.id for m in messages]
    assert [items for _, items in batch] == [extractor.extract(m) for m in messages]
    assert [len(items) for _, items in batch] == [0, 1, 0, 1]


def test_unicode_marks_do_not_break_extraction(
    extractor: Extractor, message: MessageFactory
) -> None:
    text = "\u200e@Priya\u00a0please send the deck to Acme 🙏 by Friday\u202f3\u202fPM"
    (item,) = extractor.extract(message(text))
    assert item.assignee == "Priya Shah"
    assert item.title == "Send deck to Acme"
    assert item.due == at(27, 15)


def test_times_resolve_in_the_message_timezone(
    extractor: Extractor, message: MessageFactory
) -> None:
    evening = MONDAY_10AM.replace(hour=23, minute=30)
    (item,) = extractor.extract(message("send the deck tomorrow", at=evening))
    assert item.due == at(24)
    assert item.due is not None and item.due.utcoffset() == evening.utcoffset()


def test_switching_roster_changes_who_is_known(
    settings: Settings, roster: Roster, message: MessageFactory
) -> None:
    other = Roster(team=(Person(name="Maria Lopez", aliases=("Maria",)),))
    extractor = Extractor(settings, roster=roster)
    extractor.use_roster(other)
    (item,) = extractor.extract(message("Maria, can you send the deck to John?"))
    assert item.assignee == "Maria Lopez"
    assert not any(e.key == "John Smith" for e in item.entities)
    extractor.use_roster(roster)
    (item,) = extractor.extract(message("John, can you send the deck to Maria?"))
    assert item.assignee == "John Smith"
