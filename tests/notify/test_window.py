"""WhatsApp's 24-hour window: free text inside it; outside it the approved template that
stands in for ours, or a clear failure without a call to the provider."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from pipeline.config import ApprovedTemplate
from pipeline.errors import ConfigError
from pipeline.notify.contacts import touch
from pipeline.notify.outbound import Outbound, get_outbound, list_outbound, record_status
from pipeline.notify.templates import load_templates
from tests.fakes.meta import FakeMeta
from tests.fakes.twilio import FakeTwilio
from tests.notify.conftest import JOHN, Harness

TASK_REMINDER = ApprovedTemplate(
    twilio_content_sid="HX" + "b" * 32,
    meta_name="task_reminder",
    meta_language="en_GB",
    variables=["title", "when"],
)
ASK = "John, please send the Acme quote by 9am tomorrow"


def remind_john(harness: Harness, *, channel: str = "twilio", silent_days: float = 3) -> Outbound:
    """John last wrote ``silent_days`` ago; Sarah asks him for something due tomorrow."""
    last_heard = harness.clock.now - timedelta(days=silent_days)
    touch(harness.store, "default", JOHN, channel, "John", last_heard, person="John Smith")
    harness.receive(ASK)
    harness.queue.recover()
    harness.queue.drain()
    (reminder,) = [
        row
        for row in list_outbound(harness.store, "default", to_address=JOHN)
        if row.kind == "reminder"
    ]
    return reminder


@pytest.fixture
def with_templates(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness(approved_templates={"reminder_task": TASK_REMINDER})


def test_inside_the_window_a_reminder_is_free_text(
    with_templates: Harness, fake_twilio: FakeTwilio
) -> None:
    reminder = remind_john(with_templates, silent_days=0.5)
    assert (reminder.status, reminder.sent_template) == ("queued", None)
    assert fake_twilio.bodies(JOHN) == ["⏰ Reminder: Send Acme quote is due tomorrow 09:00"]
    assert fake_twilio.templates(JOHN) == []


def test_outside_it_twilio_gets_the_content_template(
    with_templates: Harness, fake_twilio: FakeTwilio
) -> None:
    reminder = remind_john(with_templates)
    assert (reminder.status, reminder.sent_template) == ("queued", "reminder_task")
    assert reminder.provider_id is not None
    assert fake_twilio.templates(JOHN) == [
        (TASK_REMINDER.twilio_content_sid, {"1": "Send Acme quote", "2": "tomorrow 09:00"})
    ]
    assert fake_twilio.bodies(JOHN) == []


def test_outside_it_meta_gets_the_named_template(
    with_templates: Harness, fake_meta: FakeMeta
) -> None:
    reminder = remind_john(with_templates, channel="meta")
    assert (reminder.status, reminder.sent_template) == ("queued", "reminder_task")
    assert fake_meta.templates(JOHN) == [
        ("task_reminder", "en_GB", ["Send Acme quote", "tomorrow 09:00"])
    ]


def test_without_a_template_it_fails_clearly_and_calls_nobody(
    harness: Harness, fake_twilio: FakeTwilio
) -> None:
    reminder = remind_john(harness)
    assert (reminder.status, reminder.error_code) == ("failed", "window_closed")
    assert reminder.error_message is not None
    assert "'reminder_task'" in reminder.error_message
    assert "service.approved_templates" in reminder.error_message
    assert [form for form in fake_twilio.sent if form["To"] == f"whatsapp:{JOHN}"] == []


def test_a_template_for_the_other_provider_only_is_no_help(
    make_harness: Callable[..., Harness], fake_meta: FakeMeta
) -> None:
    twilio_only = TASK_REMINDER.model_copy(update={"meta_name": ""})
    harness = make_harness(approved_templates={"reminder_task": twilio_only})
    reminder = remind_john(harness, channel="meta")
    assert (reminder.status, reminder.error_code) == ("failed", "window_closed")
    assert fake_meta.templates(JOHN) == []


def test_when_whatsapp_closes_the_window_first_the_template_follows(
    with_templates: Harness, fake_meta: FakeMeta
) -> None:
    fake_meta.closed_windows.add(JOHN)
    reminder = remind_john(with_templates, channel="meta", silent_days=0.9)
    assert (reminder.status, reminder.sent_template) == ("queued", "reminder_task")
    assert [request.body["type"] for request in fake_meta.requests if request.body] == [
        "text",
        "template",
    ]


def test_whatsapps_refusal_without_a_template_is_recorded(
    harness: Harness, fake_meta: FakeMeta
) -> None:
    fake_meta.closed_windows.add(JOHN)
    reminder = remind_john(harness, channel="meta", silent_days=0.9)
    assert (reminder.status, reminder.error_code) == ("failed", "131047")


def test_a_late_63016_sends_the_template_once(
    with_templates: Harness, fake_twilio: FakeTwilio
) -> None:
    text = remind_john(with_templates, silent_days=0.9)
    assert text.provider_id is not None and fake_twilio.bodies(JOHN)

    assert late_failure(with_templates, text.provider_id)
    with_templates.queue.recover()
    with_templates.queue.drain()
    resent = get_outbound(with_templates.store, text.id)
    assert resent is not None and resent.provider_id not in (None, text.provider_id)
    assert (resent.status, resent.sent_template) == ("queued", "reminder_task")
    assert len(fake_twilio.templates(JOHN)) == 1

    assert resent.provider_id is not None
    late_failure(with_templates, resent.provider_id)  # the template failed too: that is final
    with_templates.queue.recover()
    with_templates.queue.drain()
    final = get_outbound(with_templates.store, text.id)
    assert final is not None and (final.status, final.error_code) == ("undelivered", "63016")
    assert len(fake_twilio.templates(JOHN)) == 1


def test_a_late_63016_for_a_reply_is_final(harness: Harness, fake_twilio: FakeTwilio) -> None:
    harness.receive("John, please send the Acme quote by 9am tomorrow")
    (confirmation,) = list_outbound(harness.store, "default")
    assert confirmation.provider_id is not None and confirmation.template is None
    assert late_failure(harness, confirmation.provider_id)
    harness.queue.recover()
    harness.queue.drain()
    row = get_outbound(harness.store, confirmation.id)
    assert row is not None and (row.status, row.error_code) == ("undelivered", "63016")
    assert len(fake_twilio.sent) == 1


def late_failure(harness: Harness, provider_id: str) -> bool:
    """Twilio's status callback for a text WhatsApp refused: the window had closed."""
    return record_status(
        harness.store,
        channel="twilio",
        provider_id=provider_id,
        status="undelivered",
        at=harness.clock.now,
        error_code="63016",
        error_message="Failed to send freeform message because you are outside the allowed window",
    )


@pytest.mark.parametrize(
    ("name", "template", "complaint"),
    [
        ("reminder_tsk", TASK_REMINDER, "no message is called 'reminder_tsk'"),
        ("reminder_task", ApprovedTemplate(variables=["title"]), "needs twilio_content_sid"),
        (
            "reminder_task",
            TASK_REMINDER.model_copy(update={"variables": ["title", "due"]}),
            "due unknown; allowed: title, when",
        ),
    ],
)
def test_bad_approved_templates_fail_at_start_up(
    make_settings: Callable[..., Any], name: str, template: ApprovedTemplate, complaint: str
) -> None:
    settings = make_settings(approved_templates={name: template})
    with pytest.raises(ConfigError, match=complaint):
        load_templates(settings)
