"""The inbound job: webhook messages become contacts, items and one confirmation each."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from pipeline.config import ConnectorSettings
from pipeline.notify.contacts import get_contact
from pipeline.notify.outbound import list_outbound
from pipeline.storage.item_sync import links_for
from pipeline.storage.tables import messages
from tests.fakes.hubspot import TOKEN, FakeHubSpot
from tests.fakes.meta import FakeMeta
from tests.fakes.rest_server import serve
from tests.fakes.twilio import FakeTwilio
from tests.notify.conftest import SARAH, STRANGER, Harness


def test_task_message_is_stored_and_confirmed_through_twilio(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.receive("John, can you send the Q3 report to Acme by Friday?")

    [item] = harness.store.list_items()
    assert (item.title, item.assignee, item.chat) == ("Send Q3 report to Acme", "John Smith", SARAH)
    assert fake_twilio.bodies(SARAH) == [
        "✓ Task created: Send Q3 report to Acme · due Fri 27 Nov\n✓ Assigned to: John Smith"
    ]
    [reply] = list_outbound(harness.store, "default")
    assert (reply.kind, reply.status, reply.channel) == ("confirmation", "queued", "twilio")
    assert reply.provider_id is not None and reply.provider_id.startswith("SM")
    assert fake_twilio.sent[0]["From"] == "whatsapp:+14155238886"


def test_event_with_a_time_is_confirmed_through_meta(harness: Harness, fake_meta: FakeMeta) -> None:
    harness.receive("Meeting with Globex on Thursday at 3pm", channel="meta")

    assert fake_meta.bodies(SARAH) == [
        "✓ Calendar event created: Meeting with Globex · Thu 26 Nov, 15:00"
    ]
    assert fake_meta.sent[0]["to"] == SARAH.removeprefix("+")


def test_policy_deadline_shows_relative_day_and_time(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.receive("can you check the invoice", sender=STRANGER)

    assert fake_twilio.bodies(STRANGER) == [
        "✓ Task created: Check invoice · due tomorrow\n✓ Due date: tomorrow 17:00\n"
        "✓ Assigned to: Will Turner"
    ]


def test_the_roster_names_the_contact_and_resolves_i_will(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.receive("I'll send the proposal to Initech tomorrow")

    contact = get_contact(harness.store, "default", SARAH)
    assert contact is not None
    assert (contact.person, contact.profile_name, contact.channel) == (
        "Sarah Cole",
        "Sarah",
        "twilio",
    )
    assert contact.last_inbound_at == harness.clock.now
    [item] = harness.store.list_items()
    assert item.assignee == "Sarah Cole"


def test_replayed_jobs_create_no_duplicate_items_or_replies(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    row_id = harness.receive("Please send the Globex contract to Priya")
    for _ in range(2):
        harness.queue.submit(
            "inbound", {"message_ids": [row_id], "channel": "twilio"}, tenant="default"
        )
    harness.queue.recover()
    harness.queue.drain()

    assert len(harness.store.list_items()) == 1
    assert len(list_outbound(harness.store, "default")) == 1
    assert len(fake_twilio.sent) == 1


def test_recovery_runs_messages_whose_job_was_lost(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.store_message("Send the Acme invoice by Friday")  # stored, job never queued

    assert harness.queue.recover() >= 1
    harness.queue.drain()

    assert len(harness.store.list_items()) == 1
    assert len(fake_twilio.sent) == 1
    with harness.store.transaction() as conn:
        unextracted = conn.execute(
            select(func.count()).where(messages.c.extracted_at.is_(None))
        ).scalar_one()
    assert unextracted == 0


def test_chit_chat_gets_no_reply_and_vague_work_gets_a_hint(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.receive("thanks!")
    assert fake_twilio.sent == []

    harness.receive("let me know")
    assert fake_twilio.bodies(SARAH)[-1].startswith("I didn't find a task or event")


def test_confirmation_names_the_crm_record_pushed_before_it(
    make_harness: Callable[..., Harness], fake_twilio: FakeTwilio
) -> None:
    hubspot = FakeHubSpot()
    with serve(hubspot):
        options = {"access_token": TOKEN, "host": hubspot.base_url, "timeout": 5}
        harness = make_harness(
            connectors={"hubspot": ConnectorSettings(type="hubspot", options=options)}
        )
        harness.receive("John, can you send the Q3 report to Acme by Friday?")

    [record] = hubspot.objects["tasks"].values()
    assert record["hs_task_subject"] == "Send Q3 report to Acme"
    [item] = harness.store.list_items()
    assert (
        links_for(harness.store, [item.id], tenant="default")[item.id][0][1].id
        == record["hs_object_id"]
    )
    assert fake_twilio.bodies(SARAH) == [
        "✓ Task created: Send Q3 report to Acme · due Fri 27 Nov\n✓ Assigned to: John Smith\n"
        f"Added to hubspot as task #{record['hs_object_id']}"
    ]
