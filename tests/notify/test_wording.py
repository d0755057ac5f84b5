"""Templates (bundled, overridden, refused) and dates as people write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.config import Settings
from pipeline.domain import Grain
from pipeline.errors import ConfigError
from pipeline.notify.contacts import touch
from pipeline.notify.outbound import list_outbound
from pipeline.notify.replies import RemoteLink, confirmation, human_when
from pipeline.notify.templates import load_templates
from tests.fakes.twilio import FakeTwilio
from tests.notify.conftest import JOHN, SARAH, Harness

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "grain", "text"),
    [
        (datetime(2026, 11, 23, 17, 0, tzinfo=LONDON), Grain.MINUTE, "today 17:00"),
        (datetime(2026, 11, 24, 0, 0, tzinfo=LONDON), Grain.DAY, "tomorrow"),
        (datetime(2026, 11, 27, 15, 30, tzinfo=LONDON), Grain.HOUR, "Fri 27 Nov, 15:30"),
        (datetime(2027, 1, 4, 9, 0, tzinfo=LONDON), None, "Mon 4 Jan 2027, 09:00"),
        (datetime(2026, 11, 23, 23, 30, tzinfo=LONDON), Grain.MINUTE, "today 23:30"),
    ],
)
def test_human_when(moment: datetime, grain: Grain | None, text: str) -> None:
    assert human_when(moment, LONDON, NOW, grain) == text


def test_dates_are_shown_in_the_readers_zone() -> None:
    moment = datetime(2026, 11, 24, 2, 0, tzinfo=LONDON)  # 21:00 on Monday in New York
    assert human_when(moment, ZoneInfo("America/New_York"), NOW, Grain.HOUR) == "today 21:00"


def test_an_override_folder_replaces_single_templates(
    tmp_path: Path, make_harness: Callable[..., Harness], fake_twilio: FakeTwilio
) -> None:
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "task_created.txt").write_text("Nueva tarea: $title ($day)\n")
    harness = make_harness(templates_dir=tmp_path / "texts")

    harness.receive("John, can you send the Q3 report to Acme by Friday?")

    assert fake_twilio.bodies(SARAH) == [
        "Nueva tarea: Send Q3 report to Acme (Fri 27 Nov)\n✓ Assigned to: John Smith"
    ]


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("task_created.txt", "Task $title for $whom", r"uses \$whom; allowed here: \$day, \$title"),
        ("help.txt", "Costs $5", "stray '\\$'"),
        ("task_create.txt", "typo", "unknown name"),
    ],
)
def test_broken_templates_fail_at_load(
    tmp_path: Path, settings: Settings, name: str, text: str, error: str
) -> None:
    (tmp_path / name).write_text(text)
    service = settings.service.model_copy(update={"templates_dir": tmp_path})
    with pytest.raises(ConfigError, match=error):
        load_templates(settings.model_copy(update={"service": service}))


def test_crm_links_follow_the_item_lines(harness: Harness, settings: Settings) -> None:
    harness.receive("John, can you send the Q3 report to Acme by Friday?")
    [item] = harness.store.list_items()
    text = confirmation(
        load_templates(settings),
        [item],
        {item.id: [RemoteLink("salesforce", "00T5e00000Abc")]},
        LONDON,
        NOW,
    )
    assert text.endswith("✓ Assigned to: John Smith\nAdded to salesforce as task #00T5e00000Abc")


def test_reminders_go_once_to_the_assignee(harness: Harness, fake_twilio: FakeTwilio) -> None:
    touch(harness.store, "default", JOHN, "twilio", "John", harness.clock.now, person="John Smith")
    harness.receive("John, please send the Acme quote by 9am tomorrow")
    harness.receive("John, please send the Globex quote by Friday")
    for _ in range(2):
        harness.queue.recover()
        harness.queue.drain()

    assert fake_twilio.bodies(JOHN) == ["⏰ Reminder: Send Acme quote is due tomorrow 09:00"]
    assert [r.kind for r in list_outbound(harness.store, "default", to_address=JOHN)] == [
        "reminder"
    ]
