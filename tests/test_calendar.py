"""Calendar feeds and the CalDAV push: items from a real SQLite store, a real Radicale server.

Every feed is parsed back with icalendar; every push is read back from Radicale.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from typer.testing import CliRunner, Result

from connectors.calendar.caldav import ICS_TYPE, CalDAVClient, push
from connectors.calendar.ics import Reminders, build_calendar, to_ics, uid_of
from connectors.errors import ConnectorConfigError, Permanent, RemoteNotFound, Transient
from pipeline.cli import app
from pipeline.domain import Grain, Item, ItemType, Message, Priority
from pipeline.errors import InputError
from pipeline.storage import Store, StoredItem
from tests.radicale_server import running_radicale

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SENT = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)
ALICE = ("alice", "")  # Radicale with auth "none" takes any password
UNICODE_TITLE = "שלח הצעה ל-Acme 🎉 (ملف العرض)"
#: One item per message, keyed by message id.
ITEMS: dict[str, dict[str, object]] = {
    "report": {
        "type": ItemType.TASK,
        "title": "Send Q3 report to Acme",
        "priority": Priority.HIGH,
        "due": datetime(2026, 11, 27, 17, 0, tzinfo=LONDON),
        "grain": Grain.MINUTE,
        "assignee": "John Smith",
    },
    "invoice": {
        "type": ItemType.TASK,
        "title": "Fix the Globex invoice",
        "priority": Priority.URGENT,
        "due": datetime(2026, 11, 26, tzinfo=LONDON),
        "grain": Grain.DAY,
        "assignee": "John Smith",
    },
    "review": {
        "type": ItemType.EVENT,
        "title": "Pipeline review",
        "priority": Priority.NORMAL,
        "start": datetime(2026, 11, 24, 14, 0, tzinfo=LONDON),
        "end": datetime(2026, 11, 24, 15, 0, tzinfo=LONDON),
        "grain": Grain.HOUR,
        "assignee": "Priya Shah",
    },
    "offsite": {
        "type": ItemType.EVENT,
        "title": "Team offsite",
        "priority": Priority.NORMAL,
        "start": datetime(2026, 12, 1, tzinfo=LONDON),
        "grain": Grain.DAY,
    },
    "lunch": {"type": ItemType.EVENT, "title": "Lunch with Acme", "priority": Priority.NORMAL},
    "proposal": {
        "type": ItemType.TASK,
        "title": UNICODE_TITLE,
        "priority": Priority.NORMAL,
        "due": datetime(2026, 11, 25, 9, 0, tzinfo=LONDON),
        "grain": Grain.MINUTE,
        "assignee": "Will Turner",
    },
}
#: Items that become calendar objects: "lunch" has no start, so it cannot be a VEVENT.
ON_CALENDAR = len(ITEMS) - 1


def ingest(store: Store, key: str, **changes: object) -> None:
    """Store message ``key`` with its item (as in :data:`ITEMS`, with ``changes``)."""
    message = Message(id=key, chat="Northwind", author="Sarah Cole", sent_at=SENT, text=key)
    fields = {**ITEMS[key], **changes}
    item = Item(message_id=key, confidence=0.9, **fields)  # type: ignore[arg-type]
    store.ingest([(message, [item])], extractor_version="test")


def stored(store: Store) -> dict[str, StoredItem]:
    """Every stored item by title."""
    return {item.title: item for item in store.list_items(status=None)}


def parse(ics: bytes | str) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(ics)


def by_summary(calendar: icalendar.Calendar) -> dict[str, icalendar.Component]:
    return {
        str(component["summary"]): component
        for component in calendar.walk()
        if component.name in ("VTODO", "VEVENT")
    }


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "calendar.db"


@pytest.fixture
def store(db_file: Path) -> Iterator[Store]:
    """A SQLite store holding every item of :data:`ITEMS`."""
    with Store.open(f"sqlite:///{db_file}") as opened:
        for key in ITEMS:
            ingest(opened, key)
        yield opened


@pytest.fixture
def items(store: Store) -> dict[str, StoredItem]:
    return stored(store)


@pytest.fixture
def feed(items: dict[str, StoredItem]) -> dict[str, icalendar.Component]:
    return by_summary(parse(to_ics(items.values(), zone=LONDON, name="Northwind")))


# -- the feed ------------------------------------------------------------------------------


def test_a_task_is_a_vtodo_due_in_its_zone_with_a_reminder_a_day_before(
    feed: dict[str, icalendar.Component],
) -> None:
    todo = feed["Send Q3 report to Acme"]
    assert todo.name == "VTODO"
    assert "DTEND" not in todo
    assert todo["due"].params["TZID"] == "Europe/London"
    assert todo.decoded("due") == datetime(2026, 11, 27, 17, 0, tzinfo=LONDON)
    assert todo["status"] == "NEEDS-ACTION"
    assert todo["priority"] == 3
    assert todo["x-chat2task-assignee"] == "John Smith"
    assert todo["x-chat2task-priority"] == "high"
    assert "Assignee: John Smith" in str(todo["description"])
    (alarm,) = todo.walk("VALARM")
    assert alarm["action"] == "DISPLAY"
    assert alarm.decoded("trigger") == timedelta(days=-1)
    assert alarm["trigger"].params["RELATED"] == "END"  # counted from DUE


def test_an_event_is_a_vevent_with_start_end_and_a_reminder_an_hour_before(
    feed: dict[str, icalendar.Component],
) -> None:
    event = feed["Pipeline review"]
    assert event.name == "VEVENT"
    assert event["dtstart"].params["TZID"] == "Europe/London"
    assert event.decoded("dtstart") == datetime(2026, 11, 24, 14, 0, tzinfo=LONDON)
    assert event.decoded("dtend") == datetime(2026, 11, 24, 15, 0, tzinfo=LONDON)
    assert event["status"] == "CONFIRMED"
    assert event["priority"] == 5
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("trigger") == timedelta(hours=-1)
    assert alarm["trigger"].params["RELATED"] == "START"


def test_day_grain_times_are_all_day_dates(feed: dict[str, icalendar.Component]) -> None:
    offsite = feed["Team offsite"]
    assert offsite.decoded("dtstart") == date(2026, 12, 1)
    assert offsite.decoded("dtend") == date(2026, 12, 2)  # exclusive: one whole day
    assert offsite["dtstart"].params["VALUE"] == "DATE"
    invoice = feed["Fix the Globex invoice"]
    assert invoice.decoded("due") == date(2026, 11, 26)
    assert invoice["priority"] == 1


def test_an_event_without_a_start_is_left_out(feed: dict[str, icalendar.Component]) -> None:
    assert "Lunch with Acme" not in feed
    assert len(feed) == ON_CALENDAR


def test_every_tzid_has_its_vtimezone(items: dict[str, StoredItem]) -> None:
    ics = to_ics(items.values(), zone=LONDON)
    calendar = parse(ics)
    assert calendar.get_used_tzids() == {"Europe/London"}
    assert [timezone.tz_name for timezone in calendar.timezones] == ["Europe/London"]
    assert calendar.get_missing_tzids() == set()
    assert b"DTSTART;TZID=Europe/London:20261124T140000" in ics
    assert b"DUE;TZID=Europe/London:20261127T170000" in ics
    # The zone covers the items' year(s) only, not icalendar's default 1970-2038.
    assert b"2026-01-01 to 2027-01-01" in ics


def test_another_zone_moves_wall_clock_times_not_instants(items: dict[str, StoredItem]) -> None:
    calendar = parse(to_ics(items.values(), zone=NEW_YORK))
    review = by_summary(calendar)["Pipeline review"]
    assert review["dtstart"].params["TZID"] == "America/New_York"
    assert review.decoded("dtstart").hour == 9
    assert review.decoded("dtstart") == datetime(2026, 11, 24, 14, 0, tzinfo=LONDON)
    assert calendar.get_missing_tzids() == set()


def test_the_feed_is_named_and_stamped_in_utc(items: dict[str, StoredItem]) -> None:
    calendar = build_calendar(items.values(), zone=LONDON, name="chat2task: John Smith")
    assert calendar["x-wr-calname"] == "chat2task: John Smith"
    assert calendar["prodid"] == "-//chat2task//chat2task//EN"
    for component in by_summary(calendar).values():
        assert component.decoded("dtstamp").utcoffset() == timedelta(0)
        assert str(component["uid"]).endswith("@chat2task")


def test_line_breaks_in_the_name_cannot_break_the_feed(items: dict[str, StoredItem]) -> None:
    feed = to_ics(items.values(), zone=LONDON, name="chat2task: Ç\r\nX-INJECTED:1")
    calendar = icalendar.Calendar.from_ical(feed)
    assert calendar["x-wr-calname"] == "chat2task: Ç X-INJECTED:1"
    assert "x-injected" not in calendar


def test_unicode_titles_survive(feed: dict[str, icalendar.Component]) -> None:
    assert str(feed[UNICODE_TITLE]["summary"]) == UNICODE_TITLE


def test_building_twice_gives_the_same_bytes(items: dict[str, StoredItem]) -> None:
    assert to_ics(items.values(), zone=LONDON) == to_ics(items.values(), zone=LONDON)


def test_uid_is_stable_and_sequence_grows_when_the_item_changes(store: Store) -> None:
    before = by_summary(build_calendar(stored(store).values(), zone=LONDON))
    ingest(store, "report", title="Send Q3 report to Acme and Globex")
    after = by_summary(build_calendar(stored(store).values(), zone=LONDON))

    old, new = before["Send Q3 report to Acme"], after["Send Q3 report to Acme and Globex"]
    assert new["uid"] == old["uid"]
    assert old["sequence"] == 0
    assert new.decoded("sequence") > old.decoded("sequence")
    assert new.decoded("last-modified") > old.decoded("last-modified")
    assert after["Pipeline review"]["sequence"] == 0  # untouched items keep theirs


def test_done_and_cancelled_items(store: Store, items: dict[str, StoredItem]) -> None:
    store.set_status(items["Send Q3 report to Acme"].id, "done")
    store.set_status(items["Pipeline review"].id, "cancelled")
    feed = by_summary(build_calendar(stored(store).values(), zone=LONDON))

    done = feed["Send Q3 report to Acme"]
    assert done["status"] == "COMPLETED"
    assert done["percent-complete"] == 100
    assert done.decoded("completed").utcoffset() == timedelta(0)
    assert feed["Pipeline review"]["status"] == "CANCELLED"
    assert done.walk("VALARM") == []  # nothing left to remind anyone of
    assert feed["Pipeline review"].walk("VALARM") == []


def test_reminders_are_configurable(items: dict[str, StoredItem]) -> None:
    reminders = Reminders(task=timedelta(hours=2), event=None)
    feed = by_summary(build_calendar(items.values(), zone=LONDON, reminders=reminders))
    (alarm,) = feed["Send Q3 report to Acme"].walk("VALARM")
    assert alarm.decoded("trigger") == timedelta(hours=-2)
    assert feed["Pipeline review"].walk("VALARM") == []


# -- CalDAV against Radicale ---------------------------------------------------------------


class Recorder(httpx.HTTPTransport):
    """The real network, noting each request's method, precondition and answer."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        condition = request.headers.get("If-Match") or request.headers.get("If-None-Match")
        self.seen.append((request.method, condition, response.status_code))
        return response


class Rival(httpx.HTTPTransport):
    """Another calendar client that edits the object just before each of our PUTs."""

    def __init__(self) -> None:
        super().__init__()
        self.edits = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.edits += 1
            edited = request.content.replace(b"SUMMARY:", f"SUMMARY:edit {self.edits} ".encode())
            headers = {"Content-Type": ICS_TYPE, "Authorization": request.headers["Authorization"]}
            super().handle_request(
                httpx.Request("PUT", request.url, headers=headers, content=edited)
            )
        return super().handle_request(request)


@pytest.fixture(scope="module")
def radicale_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_radicale(tmp_path_factory.mktemp("radicale")) as url:
        yield url


@pytest.fixture
def calendar_url(radicale_url: str) -> str:
    """A calendar of its own for each test, not created yet."""
    return f"{radicale_url}alice/{uuid.uuid4().hex}/"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(calendar_url: str, recorder: Recorder) -> Iterator[CalDAVClient]:
    with CalDAVClient(calendar_url, zone=LONDON, auth=ALICE, transport=recorder) as made:
        made.ensure_calendar()
        recorder.seen.clear()
        yield made


def fetch(client: CalDAVClient, uid: str) -> httpx.Response:
    return httpx.get(client.href(uid), auth=ALICE)


def report(client: CalDAVClient, component: str) -> list[str]:
    """The hrefs of the calendar's objects holding ``component`` (REPORT calendar-query)."""
    query = f"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:prop><d:getetag/></d:prop>
 <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="{component}"/></c:comp-filter>
 </c:filter>
</c:calendar-query>"""
    response = httpx.request(
        "REPORT", client.url, headers={"Depth": "1"}, content=query, auth=ALICE
    )
    assert response.status_code == 207
    return [href.text or "" for href in ET.fromstring(response.content).iter("{DAV:}href")]


def requests(recorder: Recorder) -> list[tuple[str, str | None, int]]:
    """What the recorder saw, with any ETag precondition written as ``"etag"``."""
    return [
        (method, condition if condition in (None, "*") else "etag", code)
        for method, condition, code in recorder.seen
    ]


def test_ensure_calendar_creates_it_once(calendar_url: str) -> None:
    with CalDAVClient(calendar_url, zone=LONDON, auth=ALICE) as client:
        assert client.ensure_calendar() is True
        assert client.ensure_calendar() is False
        assert client.list_etags() == {}


def test_push_creates_one_object_per_item(
    client: CalDAVClient, items: dict[str, StoredItem], recorder: Recorder
) -> None:
    etags = push(items.values(), client, {})

    assert len(etags) == ON_CALENDAR
    assert set(recorder.seen) == {("PUT", "*", 201)}
    assert client.list_etags() == etags
    assert len(report(client, "VTODO")) == 3 and len(report(client, "VEVENT")) == 2
    report_item = items["Send Q3 report to Acme"]
    response = fetch(client, uid_of(report_item))
    assert response.headers["ETag"] == etags[uid_of(report_item)]
    assert response.headers["Content-Type"].startswith("text/calendar")
    (todo,) = parse(response.content).walk("VTODO")
    assert todo["uid"] == uid_of(report_item)
    assert todo.decoded("due") == datetime(2026, 11, 27, 17, 0, tzinfo=LONDON)


def test_unicode_titles_survive_the_server(
    client: CalDAVClient, items: dict[str, StoredItem]
) -> None:
    proposal = items[UNICODE_TITLE]
    client.put(proposal)
    (todo,) = parse(fetch(client, uid_of(proposal)).content).walk("VTODO")
    assert str(todo["summary"]) == UNICODE_TITLE


def test_pushing_again_without_etags_updates_in_place(
    client: CalDAVClient, items: dict[str, StoredItem], recorder: Recorder
) -> None:
    first = push(items.values(), client, {})
    recorder.seen.clear()
    again = push(items.values(), client, {})  # e.g. the ETags of the first push were lost

    assert again == first  # same content, same ETag: nothing changed on the server
    retried = [("PUT", "*", 412), ("HEAD", None, 200), ("PUT", "etag", 204)]
    assert requests(recorder) == retried * ON_CALENDAR
    assert len(client.list_etags()) == ON_CALENDAR


def test_an_update_uses_if_match_and_gets_a_new_etag(
    store: Store, client: CalDAVClient, recorder: Recorder
) -> None:
    old = stored(store)["Pipeline review"]
    etag = client.put(old)
    ingest(store, "review", title="Pipeline review with Acme")
    new = stored(store)["Pipeline review with Acme"]
    recorder.seen.clear()

    updated = client.put(new, etag)

    assert updated != etag
    assert recorder.seen == [("PUT", etag, 204)]
    (event,) = parse(fetch(client, uid_of(new)).content).walk("VEVENT")
    assert str(event["summary"]) == "Pipeline review with Acme"
    assert event.decoded("sequence") > 0
    assert client.list_etags() == {uid_of(new): updated}


def test_a_stale_etag_is_refreshed_and_written_once_more(
    client: CalDAVClient, items: dict[str, StoredItem], recorder: Recorder
) -> None:
    review = items["Pipeline review"]
    etag = client.put(review)
    edited = to_ics([review], zone=LONDON).replace(b"Pipeline review", b"Edited elsewhere")
    elsewhere = httpx.put(
        client.href(uid_of(review)),
        content=edited,
        headers={"Content-Type": ICS_TYPE, "If-Match": etag},
        auth=ALICE,
    )
    assert elsewhere.status_code == 204
    recorder.seen.clear()

    assert client.put(review, etag) == etag  # our content again: Radicale's content hash

    assert requests(recorder) == [("PUT", "etag", 412), ("HEAD", None, 200), ("PUT", "etag", 204)]
    (event,) = parse(fetch(client, uid_of(review)).content).walk("VEVENT")
    assert str(event["summary"]) == "Pipeline review"


def test_an_object_that_keeps_changing_is_a_conflict(
    calendar_url: str, items: dict[str, StoredItem]
) -> None:
    review = items["Pipeline review"]
    with CalDAVClient(calendar_url, zone=LONDON, auth=ALICE) as plain:
        plain.ensure_calendar()
        etag = plain.put(review)
    rival = Rival()
    with (
        CalDAVClient(calendar_url, zone=LONDON, auth=ALICE, transport=rival) as raced,
        pytest.raises(Transient, match="changed on the server while we wrote it"),
    ):
        raced.put(review, etag)
    assert rival.edits == 2  # our write and its one retry both lost the race


def test_an_event_without_a_start_is_not_pushed(
    client: CalDAVClient, items: dict[str, StoredItem], recorder: Recorder
) -> None:
    with pytest.raises(InputError, match="without a start"):
        client.put(items["Lunch with Acme"])
    assert recorder.seen == []


def test_delete(client: CalDAVClient, items: dict[str, StoredItem]) -> None:
    review = items["Pipeline review"]
    uid = uid_of(review)
    stale = client.put(review)
    edited = to_ics([review], zone=LONDON).replace(b"Pipeline review", b"Edited elsewhere")
    httpx.put(client.href(uid), content=edited, headers={"Content-Type": ICS_TYPE}, auth=ALICE)

    with pytest.raises(Permanent, match="changed on the server since"):
        client.delete(uid, stale)
    assert client.delete(uid, client.etag(uid)) is True
    assert client.delete(uid) is False  # already gone
    assert client.etag(uid) is None


def test_an_unreachable_server_is_a_clear_error(items: dict[str, StoredItem]) -> None:
    with (
        CalDAVClient("http://127.0.0.1:9/cal/", zone=LONDON, timeout=2) as client,
        pytest.raises(Transient, match=r"C2T512.*cannot reach the CalDAV server"),
    ):
        client.put(items["Pipeline review"])


def test_listing_a_missing_calendar_says_to_check_the_url(calendar_url: str) -> None:
    with (
        CalDAVClient(calendar_url, zone=LONDON, auth=ALICE) as client,
        pytest.raises(RemoteNotFound, match=r"PROPFIND .* answered 404: .* check the URL"),
    ):
        client.list_etags()


def test_a_url_that_is_not_http_is_a_configuration_error() -> None:
    with (
        CalDAVClient("ftp://127.0.0.1/cal/", zone=LONDON) as client,
        pytest.raises(ConnectorConfigError, match="must be an https://"),
    ):
        client.list_etags()


def test_a_missing_calendar_is_a_clear_error(
    calendar_url: str, items: dict[str, StoredItem]
) -> None:
    with (
        CalDAVClient(calendar_url, zone=LONDON, auth=ALICE) as client,
        pytest.raises(Transient, match=r"PUT .* answered 409: the calendar .* does not exist"),
    ):
        client.put(items["Pipeline review"])


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def cli(store: Store, db_file: Path, team_file: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """``chat2task`` in-process, on the test store and roster."""
    monkeypatch.delenv("CHAT2TASK_CONFIG", raising=False)
    monkeypatch.setenv("CHAT2TASK_DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.setenv("CHAT2TASK_TEAM_FILE", str(team_file))
    monkeypatch.setenv("CHAT2TASK_TIMEZONE", "Europe/London")
    monkeypatch.setenv("CHAT2TASK_TENANT", "default")
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(app, ["calendar", *args])
    assert result.exit_code == 0, result.output
    return result


def test_export_writes_the_feed_of_one_person(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "john.ics"
    result = run(cli, "export", "--user", "Johnny", "--out", str(out))  # a roster alias

    assert "Wrote 2 items" in result.output
    calendar = parse(out.read_bytes())
    assert calendar["x-wr-calname"] == "chat2task: John Smith"
    assert set(by_summary(calendar)) == {"Send Q3 report to Acme", "Fix the Globex invoice"}
    assert calendar.get_missing_tzids() == set()


def test_export_uses_the_persons_timezone(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "will.ics"
    run(cli, "export", "--user", "Will", "--out", str(out))

    (todo,) = parse(out.read_bytes()).walk("VTODO")
    assert str(todo["summary"]) == UNICODE_TITLE
    assert todo["due"].params["TZID"] == "America/New_York"
    assert todo.decoded("due").hour == 4  # 09:00 in London


def test_export_of_everyone_to_stdout(cli: CliRunner) -> None:
    result = run(cli, "export", "--all")
    assert len(by_summary(parse(result.stdout))) == ON_CALENDAR
    assert "Wrote" not in result.stdout  # stdout holds the calendar alone


def test_export_needs_a_user_or_all(cli: CliRunner) -> None:
    result = cli.invoke(app, ["calendar", "export"])
    assert result.exit_code == 1
    assert "--user NAME or --all" in str(result.exception)


def test_push_command_creates_then_finds_nothing_changed(cli: CliRunner, calendar_url: str) -> None:
    args = ("push", "--url", calendar_url, "--username", "alice")
    first = run(cli, *args)
    assert f"Pushed {ON_CALENDAR} items" in first.output
    assert f"{ON_CALENDAR} created, 0 updated, 0 unchanged" in first.output

    second = run(cli, *args, "--user", "John")
    assert "0 created, 0 updated, 2 unchanged" in second.output


def test_tasks_format_ics_uses_the_same_builder(store: Store, items: dict[str, StoredItem]) -> None:
    from pipeline.render import as_ics

    assert as_ics(list(items.values()), LONDON).encode() == to_ics(items.values(), zone=LONDON)
