"""Consent keywords and chat commands, end to end through the inbound job and a fake sender."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.notify.contacts import get_contact
from pipeline.notify.keywords import Command, Keyword, parse
from pipeline.notify.outbound import list_outbound
from tests.fakes.twilio import FakeTwilio
from tests.notify.conftest import JOHN, SARAH, STRANGER, Harness

OPTED_OUT = "You're unsubscribed and won't get more messages from us. Send START to opt back in."
OPTED_IN = "You're subscribed again: you'll get confirmations and reminders. Send STOP to opt out."


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("STOP", Command(Keyword.STOP)),
        ("  Unsubscribe. ", Command(Keyword.STOP)),
        ("Stop promotions", Command(Keyword.STOP)),
        ("start", Command(Keyword.START)),
        ("Tasks", Command(Keyword.TASKS)),
        ("done #12", Command(Keyword.DONE, 12)),
        ("HELP!", Command(Keyword.HELP)),
        ("stop by the office at 5", None),
        ("done with the report", None),
    ],
)
def test_parse(text: str, command: Command | None) -> None:
    assert parse(text) == command


def test_stop_confirms_once_then_suppresses_until_start(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    stop = harness.receive("STOP")
    contact = get_contact(harness.store, "default", SARAH)
    assert contact is not None and contact.opted_out
    assert fake_twilio.bodies(SARAH) == [OPTED_OUT]

    harness.clock.advance(minutes=1)
    harness.receive("stop")  # already out: silence, as promised
    harness.receive("Send the Q3 report to Acme by Friday", at=harness.clock.now)
    assert len(harness.store.list_items()) == 1  # the work is still recorded
    assert fake_twilio.bodies(SARAH) == [OPTED_OUT]
    assert list_outbound(harness.store, "default")[-1].status == "suppressed"

    harness.clock.advance(minutes=1)
    harness.receive("START")
    harness.queue.submit("inbound", {"message_ids": [stop], "channel": "twilio"}, tenant="default")
    harness.queue.drain()  # an old STOP replayed cannot undo the newer START
    harness.receive("Call Globex tomorrow at 11am")
    bodies = fake_twilio.bodies(SARAH)
    assert bodies[:2] == [OPTED_OUT, OPTED_IN]
    assert bodies[2].startswith("✓ Task created: Call Globex")
    assert len(bodies) == 3


def test_tasks_lists_the_senders_open_tasks(harness: Harness, fake_twilio: FakeTwilio) -> None:
    harness.receive("John, can you send the Q3 report to Acme by Friday?")
    harness.receive("John please call Initech")
    harness.receive("Priya, review the Globex deck by Thursday")
    first, second = (i for i in harness.store.list_items() if i.assignee == "John Smith")

    harness.receive("tasks", sender=JOHN)

    assert fake_twilio.bodies(JOHN) == [
        f"Your open tasks (2):\n#{first.id} {first.title} · due tomorrow\n"
        f"#{second.id} {second.title} · due Fri 27 Nov"
    ]


def test_tasks_from_an_unknown_number_explains_why_not(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.receive("tasks", sender=STRANGER)
    assert "team roster" in fake_twilio.bodies(STRANGER)[0]


def test_done_closes_only_what_the_sender_may(harness: Harness, fake_twilio: FakeTwilio) -> None:
    harness.receive("Priya, review the Globex deck by Thursday")
    harness.receive("Will, please send the Acme invoice", sender=STRANGER)
    priyas, wills = sorted(harness.store.list_items(), key=lambda item: item.id)

    harness.receive(f"done {wills.id}", sender=JOHN)  # not his, not his report's
    harness.receive(f"done {priyas.id}")  # Sarah manages Priya
    harness.receive("done 999")

    assert fake_twilio.bodies(JOHN) == [
        f"Task #{wills.id} belongs to someone else, so I can't close it for you."
    ]
    assert fake_twilio.bodies(SARAH)[-2:] == [
        f"✓ Done: #{priyas.id} Review Globex deck",
        "There is no task #999.",
    ]
    assert harness.store.get_item(priyas.id).status == "done"
    assert harness.store.get_item(wills.id).status == "open"

    harness.receive(f"done {wills.id}", sender=STRANGER)  # who asked for it may close it
    assert harness.store.get_item(wills.id).status == "done"


def test_help(harness: Harness, fake_twilio: FakeTwilio) -> None:
    harness.receive("help")
    assert "*done 12* – mark task #12 done" in fake_twilio.bodies(SARAH)[0]


def test_replies_to_commands_are_not_held_at_night(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.clock.advance(hours=13)  # 23:01 in London
    harness.receive("help", at=harness.clock.now - timedelta(seconds=5))
    assert len(fake_twilio.sent) == 1
