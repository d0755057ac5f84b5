"""The send job: consent, quiet hours, pace, provider errors, claims, leases, status callbacks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from pipeline.notify.contacts import Contact, set_opt_out, set_quiet_hours, touch
from pipeline.notify.outbound import enqueue, get_outbound, list_outbound, record_status
from pipeline.storage.tables import outbound_messages
from tests.fakes.meta import FakeMeta, graph_error
from tests.fakes.rest_server import FakeApi
from tests.fakes.twilio import FakeTwilio, twilio_error
from tests.notify.conftest import JOHN, SARAH, STRANGER, Harness

LONDON = ZoneInfo("Europe/London")


def contact(harness: Harness, address: str = SARAH, channel: str = "twilio") -> Contact:
    return touch(harness.store, "default", address, channel, None, harness.clock.now)


def send(harness: Harness, to: Contact, body: str = "hello", **options: Any) -> int:
    outbound_id = enqueue(harness.context, to, body=body, kind="reminder", **options)
    assert outbound_id is not None
    harness.queue.drain()
    return outbound_id


def status(harness: Harness, outbound_id: int) -> str:
    row = get_outbound(harness.store, outbound_id)
    assert row is not None
    return row.status


def test_quiet_hours_hold_non_urgent_messages_until_morning(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    harness.clock.now = datetime(2026, 11, 23, 22, 30, tzinfo=LONDON)
    sarah = contact(harness)
    held = send(harness, sarah, "later")
    send(harness, sarah, "now", urgent=True)

    row = get_outbound(harness.store, held)
    assert row is not None and row.status == "held"
    assert row.send_after == datetime(2026, 11, 24, 8, 0, tzinfo=LONDON)
    assert fake_twilio.bodies(SARAH) == ["now"]

    harness.clock.now = datetime(2026, 11, 24, 8, 0, 30, tzinfo=LONDON)
    harness.queue.recover()
    harness.queue.drain()
    assert fake_twilio.bodies(SARAH) == ["now", "later"]


def test_a_contacts_own_quiet_hours_and_zone_win(harness: Harness) -> None:
    harness.clock.now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 in New York
    contact(harness)
    sarah = set_quiet_hours(
        harness.store, "default", SARAH, time(7, 0), time(9, 0), "America/New_York"
    )
    row = get_outbound(harness.store, send(harness, sarah))
    assert row is not None and row.status == "held"
    assert row.send_after == datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def test_over_the_sender_rate_messages_are_rescheduled(
    make_harness: Any, fake_twilio: FakeTwilio
) -> None:
    harness: Harness = make_harness(send_rate=1.0)
    ids = [send(harness, contact(harness, address)) for address in (SARAH, JOHN, STRANGER)]

    assert [status(harness, i) for i in ids] == ["queued", "pending", "pending"]
    later = get_outbound(harness.store, ids[2])
    assert later is not None and later.send_after is not None
    assert later.send_after > harness.clock.now
    assert harness.queue.huey.scheduled_count() == 2
    assert len(fake_twilio.sent) == 1


def test_messages_to_one_person_keep_the_pair_interval(
    make_harness: Any, fake_twilio: FakeTwilio
) -> None:
    harness: Harness = make_harness(recipient_interval_seconds=30)
    sarah = contact(harness)
    first, second = send(harness, sarah), send(harness, sarah)

    assert (status(harness, first), status(harness, second)) == ("queued", "pending")
    row = get_outbound(harness.store, second)
    assert row is not None and row.send_after is not None
    assert timedelta(seconds=29) < row.send_after - harness.clock.now <= timedelta(seconds=30)


@pytest.mark.parametrize(
    ("channel", "reply", "code"),
    [
        ("twilio", (429, twilio_error(429, 20429, "Too Many Requests")), "20429"),
        ("twilio", (503, twilio_error(503, 20500, "Service unavailable")), "20500"),
        ("meta", (429, graph_error(130429, "Rate limit hit")), "130429"),
        ("meta", (400, graph_error(131056, "Pair rate limit hit")), "131056"),
    ],
)
def test_throttling_retries_with_backoff_then_sends(
    harness: Harness,
    fake_twilio: FakeTwilio,
    fake_meta: FakeMeta,
    channel: str,
    reply: tuple[int, dict[str, Any]],
    code: str,
) -> None:
    fake: FakeApi = fake_twilio if channel == "twilio" else fake_meta
    fake.fail_next(*reply)
    outbound_id = send(harness, contact(harness, channel=channel))

    row = get_outbound(harness.store, outbound_id)
    assert row is not None
    assert (row.status, row.error_code, row.attempts) == ("pending", code, 1)
    assert row.send_after is not None and row.send_after > harness.clock.now
    assert harness.queue.huey.scheduled_count() == 1

    harness.clock.now = row.send_after
    assert harness.run_scheduled() == 1
    row = get_outbound(harness.store, outbound_id)
    assert row is not None and (row.status, row.attempts, row.error_code) == ("queued", 2, None)


def test_throttled_past_max_attempts_fails(harness: Harness, fake_twilio: FakeTwilio) -> None:
    for _ in range(3):  # max_attempts in the test settings
        fake_twilio.fail_next(429, twilio_error(429, 20429, "Too Many Requests"))
    outbound_id = send(harness, contact(harness))
    for _ in range(2):
        harness.clock.advance(minutes=10)
        harness.run_scheduled()

    row = get_outbound(harness.store, outbound_id)
    assert row is not None and (row.status, row.attempts) == ("failed", 3)
    assert row.error_message is not None and row.error_message.startswith("gave up after 3")


@pytest.mark.parametrize(
    ("channel", "reply", "code"),
    [
        ("twilio", (400, twilio_error(400, 21211, "Invalid 'To' Phone Number")), "21211"),
        ("twilio", (401, twilio_error(401, 20003, "Authenticate")), "20003"),
        ("meta", (400, graph_error(131047, "Re-engagement message")), "131047"),
        ("meta", (400, graph_error(100, "Invalid parameter")), "100"),
    ],
)
def test_rejected_messages_fail_without_retry(
    harness: Harness,
    fake_twilio: FakeTwilio,
    fake_meta: FakeMeta,
    channel: str,
    reply: tuple[int, dict[str, Any]],
    code: str,
) -> None:
    fake: FakeApi = fake_twilio if channel == "twilio" else fake_meta
    fake.fail_next(*reply)
    outbound_id = send(harness, contact(harness, channel=channel))

    row = get_outbound(harness.store, outbound_id)
    assert row is not None and (row.status, row.error_code, row.attempts) == ("failed", code, 1)
    assert harness.queue.huey.scheduled_count() == 0
    harness.queue.recover()
    harness.queue.drain()
    assert len(fake.requests) == 1


def test_two_jobs_for_one_message_send_it_once(harness: Harness, fake_twilio: FakeTwilio) -> None:
    outbound_id = enqueue(harness.context, contact(harness), body="once", kind="reminder")
    harness.queue.submit("send", {"outbound_id": outbound_id}, tenant="default")
    harness.queue.drain()
    assert fake_twilio.bodies(SARAH) == ["once"]


def test_workers_racing_to_answer_one_message_store_one_reply(harness: Harness) -> None:
    """The database, not a read before the write, keeps replayed jobs from replying twice."""
    message_id = harness.store_message("Send the deck by Friday")
    sarah = contact(harness)
    racers = 8
    start = threading.Barrier(racers)

    def answer(_: int) -> int | None:
        start.wait()
        return enqueue(
            harness.context,
            sarah,
            body="✓ Task created",
            kind="confirmation",
            in_reply_to=message_id,
        )

    with ThreadPoolExecutor(racers) as pool:
        ids = list(pool.map(answer, range(racers)))
    assert len([i for i in ids if i is not None]) == 1
    assert [row.in_reply_to for row in list_outbound(harness.store, "default")] == [message_id]
    other_kind = enqueue(
        harness.context, sarah, body="Opted out", kind="consent", in_reply_to=message_id
    )
    assert other_kind is not None


def test_a_message_stuck_in_sending_is_sent_after_its_lease(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    outbound_id = enqueue(harness.context, contact(harness), body="stuck", kind="reminder")
    with harness.store.transaction() as conn:  # a worker claimed it, then died
        conn.execute(
            update(outbound_messages)
            .where(outbound_messages.c.id == outbound_id)
            .values(status="sending", updated_at=harness.clock.now)
        )
    harness.queue.drain()
    harness.clock.advance(minutes=4)
    harness.queue.recover()
    harness.queue.drain()
    assert fake_twilio.sent == []

    harness.clock.advance(minutes=2)
    harness.queue.recover()
    harness.queue.drain()
    assert fake_twilio.bodies(SARAH) == ["stuck"]
    assert status(harness, outbound_id) == "queued"


def test_opting_out_after_queueing_suppresses_the_send(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    outbound_id = enqueue(harness.context, contact(harness), body="too late", kind="reminder")
    set_opt_out(harness.store, "default", SARAH, True, harness.clock.now)
    harness.queue.drain()
    assert status(harness, outbound_id) == "suppressed"
    assert fake_twilio.sent == []


def test_status_callbacks_only_move_forward(harness: Harness) -> None:
    sarah = contact(harness)
    read_id, failed_id = send(harness, sarah, "a"), send(harness, sarah, "b")
    rows = [get_outbound(harness.store, i) for i in (read_id, failed_id)]
    sid_read, sid_failed = (row.provider_id for row in rows if row and row.provider_id)

    def callback(sid: str, state: str, code: str | None = None) -> bool:
        at = harness.clock.now
        return record_status(
            harness.store, channel="twilio", provider_id=sid, status=state, at=at, error_code=code
        )

    for state in ("delivered", "sent", "read", "delivered", "undelivered"):
        assert callback(sid_read, state)
    assert status(harness, read_id) == "read"

    assert callback(sid_failed, "sent")
    assert callback(sid_failed, "undelivered", "63016")
    assert callback(sid_failed, "delivered")
    row = get_outbound(harness.store, failed_id)
    assert row is not None and (row.status, row.error_code) == ("undelivered", "63016")

    assert not callback("SMunknown", "delivered")
    assert not callback(sid_read, "exploded")
