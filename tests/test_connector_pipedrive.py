"""The Pipedrive connector against a fake Pipedrive on 127.0.0.1 (tests/fakes/pipedrive.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from connectors import pipedrive
from connectors.base import RemoteRef, SyncItem, create_connector
from connectors.errors import (
    ConnectorConfigError,
    Permanent,
    RateLimited,
    RemoteNotFound,
    Transient,
)
from connectors.mapping import FieldMapping, ObjectMapping
from connectors.pipedrive import PipedriveConnector
from pipeline.config import ConnectorSettings
from pipeline.domain import Grain, ItemType
from pipeline.storage.tables import ItemStatus
from tests.fakes.items import entity, stored_item
from tests.fakes.pipedrive import TOKEN, FakePipedrive
from tests.fakes.rest_server import serve

OWNERS: dict[str, str | int] = {"Sarah Cole": 12, "John Smith": 13}


def mapping(owners: Mapping[str, str | int], **objects: ObjectMapping) -> FieldMapping:
    base = FieldMapping.default("pipedrive")
    task = objects.get("task", base.objects[ItemType.TASK])
    return FieldMapping(base.source, task, base.objects[ItemType.EVENT], owners)


@pytest.fixture
def fake() -> Iterator[FakePipedrive]:
    api = FakePipedrive()
    with serve(api):
        yield api


Connect = Callable[..., PipedriveConnector]


@pytest.fixture
def connect(fake: FakePipedrive) -> Iterator[Connect]:
    """Build connectors to ``fake`` (owners and options overridable); closed afterwards."""
    made: list[PipedriveConnector] = []

    def build(owners: Mapping[str, str | int] = OWNERS, **options: object) -> PipedriveConnector:
        raw = {"base_url": fake.base_url, "api_token": TOKEN, "timeout": 0.5, **options}
        parsed = PipedriveConnector.parse_options("pipedrive", raw)
        made.append(PipedriveConnector("pipedrive", parsed, mapping(owners)))
        return made[-1]

    yield build
    for connector in made:
        connector.api.close()


@pytest.fixture
def connector(connect: Connect) -> PipedriveConnector:
    return connect()


def test_a_task_becomes_a_v2_activity_with_utc_time_owner_and_marker(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item, text="John, send the Q3 report to Acme by Friday 3pm"))

    activity = fake.activities[int(ref.id)]
    assert ref.type == "activity" and ref.version == activity["update_time"]
    assert activity["subject"] == "Send Q3 report to Acme"
    assert activity["type"] == "task"
    assert (activity["due_date"], activity["due_time"]) == ("2026-11-27", "15:00")
    assert activity["done"] is False and activity["owner_id"] == 12
    assert activity["note"].startswith("John, send the Q3 report")
    assert activity["note"].endswith(f"[c2t:{item.external_id}]")
    assert len(fake.calls("POST", "/api/v2/activities")) == 1


def test_an_event_becomes_a_meeting_with_an_hhmm_duration(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    event = stored_item(
        type=ItemType.EVENT,
        due=None,
        start=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        end=datetime(2026, 11, 27, 15, 30, tzinfo=UTC),
    )
    activity = fake.activities[int(connector.upsert(SyncItem(event)).id)]

    assert activity["type"] == "meeting"
    assert (activity["due_date"], activity["due_time"], activity["duration"]) == (
        "2026-11-27",
        "14:00",
        "01:30",
    )


def test_a_date_without_time_is_the_local_day_and_no_due_time(
    fake: FakePipedrive, connect: Connect
) -> None:
    # "by Friday" in London in summer: stored as 23:00 UTC the day before.
    item = stored_item(due=datetime(2026, 6, 26, 23, 0, tzinfo=UTC), grain=Grain.DAY)
    connector = connect(timezone="Europe/London")
    activity = fake.activities[int(connector.upsert(SyncItem(item)).id)]

    assert activity["due_date"] == "2026-06-27"
    assert "due_time" not in activity


def test_an_update_changes_the_same_activity(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    item = stored_item()
    first = connector.upsert(SyncItem(item))
    again = connector.upsert(
        SyncItem(stored_item(title="Send Q4 report", status=ItemStatus.DONE), link=first)
    )

    assert again.id == first.id and len(fake.activities) == 1
    assert fake.activities[int(first.id)]["subject"] == "Send Q4 report"
    assert fake.activities[int(first.id)]["done"] is True
    assert len(fake.calls("PATCH")) == 1


def test_a_create_that_timed_out_is_found_by_its_marker_not_duplicated(
    fake: FakePipedrive, connect: Connect
) -> None:
    connector = connect(timeout=0.3)
    fake.delay_next(1.0, method="POST")  # Pipedrive creates it, the answer comes too late
    with pytest.raises(Transient, match="timed out"):
        connector.upsert(SyncItem(stored_item()))
    assert len(fake.activities) == 1

    ref = connector.upsert(SyncItem(stored_item(title="Send Q3 report today")))

    assert len(fake.activities) == 1 and len(fake.calls("POST")) == 1
    assert fake.activities[int(ref.id)]["subject"] == "Send Q3 report today"


def test_another_items_activity_is_not_taken_for_ours(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    one = connector.upsert(SyncItem(stored_item("m1")))
    two = connector.upsert(SyncItem(stored_item("m2")))

    assert one.id != two.id and len(fake.activities) == 2


def test_a_401_is_retried_once_after_refreshing(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    fake.expire_token_once()
    connector.upsert(SyncItem(stored_item()))

    assert len(fake.activities) == 1
    assert len(fake.calls("GET", "/api/v2/activities")) == 2  # the marker search, twice


def test_a_token_refused_twice_is_transient(fake: FakePipedrive, connect: Connect) -> None:
    connector = connect(api_token="wrong")
    with pytest.raises(Transient, match=r"still unauthorised.*unauthorized access"):
        connector.upsert(SyncItem(stored_item()))
    assert fake.activities == {}


@pytest.mark.parametrize(("retry_after", "expected"), [(None, 2.0), ("7", 7.0)])
def test_429_is_rate_limited_with_the_wait_pipedrive_gave(
    fake: FakePipedrive, connector: PipedriveConnector, retry_after: str | None, expected: float
) -> None:
    fake.rate_limit_next(retry_after)
    with pytest.raises(RateLimited, match="Request over limit") as raised:
        connector.upsert(SyncItem(stored_item()))
    assert raised.value.retry_after == expected


def test_5xx_is_transient(fake: FakePipedrive, connector: PipedriveConnector) -> None:
    fake.fail_next(503, {"success": False, "error": "Service unavailable"})
    with pytest.raises(Transient, match="503: Service unavailable"):
        connector.upsert(SyncItem(stored_item()))


def test_a_validation_error_is_permanent_with_pipedrives_message(connect: Connect) -> None:
    connector = connect(owners={"Sarah Cole": 999})
    with pytest.raises(Permanent, match="400: Owner with id 999 does not exist"):
        connector.upsert(SyncItem(stored_item()))


def test_an_activity_deleted_in_pipedrive_is_remote_not_found(
    connector: PipedriveConnector,
) -> None:
    gone = RemoteRef("4242", "activity")
    with pytest.raises(RemoteNotFound, match="Activity not found"):
        connector.upsert(SyncItem(stored_item(), link=gone))


def test_people_and_organisations_are_linked_but_not_our_team(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    org = fake.add_organization("Acme Corp")
    person = fake.add_person("Jane Doe")
    fake.add_person("John Smith")  # also a Pipedrive person, but our colleague in the chat
    item = stored_item(
        entities=(
            entity("Acme", "ORG", key="Acme Corp"),
            entity("John", "PERSON", key="John Smith"),
            entity("Jane Doe", "PERSON"),
            entity("Nobody Known", "PERSON"),
        )
    )
    activity = fake.activities[int(connector.upsert(SyncItem(item)).id)]

    assert activity["org_id"] == org
    assert activity["participants"] == [{"person_id": person, "primary": True}]
    assert connector.find_contact("jane doe") == RemoteRef(str(person), "person")
    assert connector.find_account("Initech") is None


def about_acme() -> SyncItem:
    """An item mentioning the organisation "Acme Corp"."""
    return SyncItem(stored_item(entities=(entity("Acme", "ORG", key="Acme Corp"),)))


def test_the_one_open_deal_of_the_organisation_is_linked(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    org = fake.add_organization("Acme Corp")
    fake.add_deal(org, status="won")
    deal = fake.add_deal(org)
    fake.add_deal(fake.add_organization("Initech"))  # another organisation's deal

    activity = fake.activities[int(connector.upsert(about_acme()).id)]

    assert (activity["org_id"], activity["deal_id"]) == (org, deal)
    [lookup] = fake.calls("GET", "/api/v2/deals")
    assert lookup.query["org_id"] == str(org) and lookup.query["status"] == "open"
    assert connector.find_open_deal(RemoteRef(str(org), "organization")) == RemoteRef(
        str(deal), "deal"
    )


@pytest.mark.parametrize(
    "statuses", [("open", "open"), ("won", "lost"), ()], ids=["two open", "closed", "none"]
)
def test_no_deal_is_linked_unless_exactly_one_is_open(
    fake: FakePipedrive, connector: PipedriveConnector, statuses: tuple[str, ...]
) -> None:
    org = fake.add_organization("Acme Corp")
    for status in statuses:
        fake.add_deal(org, status=status)

    activity = fake.activities[int(connector.upsert(about_acme()).id)]

    assert activity["org_id"] == org and "deal_id" not in activity


def test_link_deals_off_does_not_look_for_deals(fake: FakePipedrive, connect: Connect) -> None:
    org = fake.add_organization("Acme Corp")
    fake.add_deal(org)

    activity = fake.activities[int(connect(link_deals=False).upsert(about_acme()).id)]

    assert activity["org_id"] == org and "deal_id" not in activity
    assert fake.calls("GET", "/api/v2/deals") == []


def test_an_update_keeps_the_deal(fake: FakePipedrive, connector: PipedriveConnector) -> None:
    deal = fake.add_deal(fake.add_organization("Acme Corp"))
    first = connector.upsert(about_acme())

    connector.upsert(replace(about_acme(), link=first))

    [patch] = fake.calls("PATCH")
    assert patch.body["deal_id"] == deal
    assert fake.activities[int(first.id)]["deal_id"] == deal


def test_changes_made_in_pipedrive_flow_back(
    fake: FakePipedrive, connector: PipedriveConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item))
    _, cursor = connector.changes_since(None)

    fake.edit(int(ref.id), done=True, due_date="2026-12-01", due_time="09:30", owner_id=13)
    changes, cursor = connector.changes_since(cursor)

    change = next(c for c in changes if c.remote.id == ref.id)
    assert change.external_id == item.external_id
    assert change.status is ItemStatus.DONE
    assert change.due == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert change.assignee == "John Smith"
    assert change.changed_at == datetime.fromisoformat(fake.activities[int(ref.id)]["update_time"])

    fake.edit(int(ref.id), done=False)
    changes, _ = connector.changes_since(cursor)
    assert [c.status for c in changes if c.remote.id == ref.id][-1] is ItemStatus.OPEN


def test_changes_follow_the_cursor_pages(
    fake: FakePipedrive, connector: PipedriveConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipedrive, "PAGE_SIZE", 2)
    refs = {connector.upsert(SyncItem(stored_item(f"m{n}"))).id for n in range(5)}

    changes, cursor = connector.changes_since(None)

    assert {c.remote.id for c in changes} == refs
    assert cursor == max(a["update_time"] for a in fake.activities.values())


def test_check_reports_the_user_types_and_fields(connector: PipedriveConnector) -> None:
    checked = connector.check()
    assert checked[0] == "Pipedrive: signed in as Sarah Cole (sarah@example.com)"
    assert any("activity type 'meeting'" in line for line in checked)


def test_check_names_an_activity_type_pipedrive_lacks(connector: PipedriveConnector) -> None:
    webinar = ObjectMapping(object="webinar", fields={"subject": "title"})
    connector.mapping = mapping(OWNERS, task=webinar)
    with pytest.raises(ConnectorConfigError, match="no active activity type 'webinar'"):
        connector.check()


def test_the_registry_builds_it_with_the_token_from_the_environment(
    fake: FakePipedrive, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ConnectorSettings(type="pipedrive", options={"base_url": fake.base_url})
    monkeypatch.delenv("CHAT2TASK_CRM_API_TOKEN", raising=False)
    with pytest.raises(ConnectorConfigError, match="CHAT2TASK_CRM_API_TOKEN"):
        create_connector("crm", settings)

    monkeypatch.setenv("CHAT2TASK_CRM_API_TOKEN", TOKEN)
    connector = create_connector("crm", settings)

    assert isinstance(connector, PipedriveConnector)
    assert connector.check()[0].startswith("Pipedrive: signed in as")
    assert TOKEN not in repr(connector.options)
