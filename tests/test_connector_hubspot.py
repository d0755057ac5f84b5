"""The HubSpot connector, through hubspot-api-client, against a fake portal on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import RemoteRef, SyncItem
from connectors.errors import ConnectorConfigError, Permanent, RateLimited, Transient
from connectors.hubspot import HubSpotConnector
from connectors.mapping import FieldMapping
from pipeline.domain import ItemType, Priority
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus
from tests.fakes.hubspot import ID_PROPERTY, JOHN, SARAH, TOKEN, UNAUTHORIZED, FakeHubSpot
from tests.fakes.items import entity, stored_item
from tests.fakes.rest_server import serve

OWNERS: dict[str, str | int] = {"Sarah Cole": SARAH, "John Smith": JOHN}
TASK_VALUES = FieldMapping.default("hubspot").objects[ItemType.TASK].values
START = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def mapping(owners: dict[str, str | int] = OWNERS, **sections: Any) -> FieldMapping:
    """The default mapping with our fake's owners; ``task``/``event`` changes go in ``sections``."""
    base = FieldMapping.default("hubspot")
    task, event = (
        base.objects[kind].model_copy(update=sections.get(kind.value, {})) for kind in ItemType
    )
    return FieldMapping(base.source, task, event, owners)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    api = FakeHubSpot()
    with serve(api):
        yield api


def connect(
    fake: FakeHubSpot, the_mapping: FieldMapping | None = None, **options: Any
) -> HubSpotConnector:
    raw = {"access_token": TOKEN, "host": fake.base_url, "timeout": 0.5, **options}
    parsed = HubSpotConnector.parse_options("hubspot", raw)
    return HubSpotConnector("hubspot", parsed, the_mapping or mapping())


@pytest.fixture
def connector(fake: FakeHubSpot) -> HubSpotConnector:
    return connect(fake)


def the_one(fake: FakeHubSpot, object_type: str, external_id: str) -> dict[str, str]:
    (record,) = fake.by_id_property(object_type, external_id)
    return record


def meeting(**changes: Any) -> Any:
    return stored_item(
        key="m2", type=ItemType.EVENT, title="Meeting with Globex", due=None, start=START,
        end=START + timedelta(hours=1), **changes,
    )  # fmt: skip


# -- writing ---------------------------------------------------------------------------------


def test_a_task_is_upserted_on_the_unique_id_property_with_string_properties(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item, text="Sarah, send the Q3 report to Acme"))

    record = the_one(fake, "tasks", item.external_id)
    assert ref == RemoteRef(record["hs_object_id"], "tasks")
    (call,) = fake.calls("POST", "/crm/v3/objects/tasks/batch/upsert")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    (sent,) = call.body["inputs"]
    assert (sent["idProperty"], sent["id"]) == (ID_PROPERTY, item.external_id)
    assert sent["properties"] == {
        "hs_task_subject": "Send Q3 report to Acme",
        "hs_task_body": "Sarah, send the Q3 report to Acme",
        "hs_timestamp": str(int(datetime(2026, 11, 27, 15, 0, tzinfo=UTC).timestamp() * 1000)),
        "hs_task_priority": "HIGH",
        "hs_task_status": "NOT_STARTED",
        "hubspot_owner_id": SARAH,
        "hs_task_type": "TODO",
    }
    assert all(isinstance(v, str) for v in sent["properties"].values())
    assert record["hs_timestamp"] == "2026-11-27T15:00:00.000Z"


def test_a_meeting_gets_its_timestamp_start_end_and_outcome(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    ref = connector.upsert(SyncItem(meeting()))

    record = the_one(fake, "meetings", meeting().external_id)
    assert ref == RemoteRef(record["hs_object_id"], "meetings")
    assert record["hs_timestamp"] == record["hs_meeting_start_time"] == "2026-11-27T15:00:00.000Z"
    assert record["hs_meeting_end_time"] == "2026-11-27T16:00:00.000Z"
    assert record["hs_meeting_outcome"] == "SCHEDULED"


def test_an_update_changes_the_same_record(fake: FakeHubSpot, connector: HubSpotConnector) -> None:
    first = connector.upsert(SyncItem(stored_item()))
    again = connector.upsert(SyncItem(stored_item(title="Send Q4 report", status=ItemStatus.DONE)))

    assert again == first
    record = the_one(fake, "tasks", stored_item().external_id)
    assert (record["hs_task_subject"], record["hs_task_status"]) == ("Send Q4 report", "COMPLETED")
    assert len(fake.objects["tasks"]) == 1


def test_an_upsert_retried_after_a_timeout_creates_no_duplicate(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    item = stored_item()
    fake.delay_next(1.0, method="POST")  # the record is written, the answer comes too late
    with pytest.raises(Transient, match="did not answer"):
        connector.upsert(SyncItem(item))
    assert len(fake.objects["tasks"]) == 1

    ref = connector.upsert(SyncItem(item))
    assert ref.id == the_one(fake, "tasks", item.external_id)["hs_object_id"]
    assert len(fake.objects["tasks"]) == 1


# -- failures --------------------------------------------------------------------------------


def test_a_401_is_retried_once_and_then_succeeds(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    fake.fail_next(UNAUTHORIZED.status, UNAUTHORIZED.body)
    ref = connector.upsert(SyncItem(stored_item()))
    assert ref.id == the_one(fake, "tasks", stored_item().external_id)["hs_object_id"]
    assert len(fake.calls("POST", "/crm/v3/objects/tasks/batch/upsert")) == 2


def test_a_token_refused_twice_is_transient(fake: FakeHubSpot) -> None:
    connector = connect(fake, access_token="pat-na1-revoked")
    with pytest.raises(Transient, match=r"still unauthorised.*INVALID_AUTHENTICATION"):
        connector.upsert(SyncItem(stored_item()))
    assert not fake.objects["tasks"]


@pytest.mark.parametrize(
    ("retry_after", "expected"), [("7", 7.0), (None, 10.0)], ids=["header", "rolling-window"]
)
def test_a_429_is_rate_limited_with_the_wait(
    fake: FakeHubSpot, connector: HubSpotConnector, retry_after: str | None, expected: float
) -> None:
    fake.rate_limit_next(retry_after)
    with pytest.raises(
        RateLimited, match=r"ten_secondly_rolling limit.*TEN_SECONDLY_ROLLING"
    ) as info:
        connector.upsert(SyncItem(stored_item()))
    assert info.value.retry_after == expected


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(
    fake: FakeHubSpot, connector: HubSpotConnector, status: int
) -> None:
    fake.fail_next(status, {"status": "error", "message": "internal error", "category": "ERROR"})
    with pytest.raises(Transient, match=f"answered {status}: internal error"):
        connector.upsert(SyncItem(stored_item()))


def test_a_validation_error_is_permanent_with_hubspots_message(fake: FakeHubSpot) -> None:
    priorities = {"urgent": "URGENT", "high": "HIGH", "normal": "NORMAL"}
    connector = connect(fake, mapping(task={"values": {**TASK_VALUES, "priority": priorities}}))
    with pytest.raises(Permanent) as info:
        connector.upsert(SyncItem(stored_item(priority=Priority.NORMAL)))
    assert str(info.value).endswith(
        "HubSpot answered 400: Property values were not valid: NORMAL was not one of the "
        "allowed options: [NONE, LOW, MEDIUM, HIGH] (VALIDATION_ERROR)"
    )
    assert not fake.objects["tasks"]


def test_a_multi_status_answer_with_errors_is_permanent(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    body = {
        "status": "COMPLETE",
        "results": [],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "CONFLICT", "message": "Duplicate value"}],
        "startedAt": "2026-11-23T10:00:00.000Z",
        "completedAt": "2026-11-23T10:00:00.100Z",
    }
    fake.fail_next(207, body)
    with pytest.raises(Permanent, match="refused the tasks record: Duplicate value"):
        connector.upsert(SyncItem(stored_item()))


def test_an_unreachable_portal_is_transient() -> None:
    api = FakeHubSpot()
    with serve(api):
        connector = connect(api)
    with pytest.raises(Transient, match="did not answer"):
        connector.upsert(SyncItem(stored_item()))


# -- linking ---------------------------------------------------------------------------------


def open_deals_of(company: str) -> list[dict[str, str]]:
    """The filters of the deal search: by association, one call however many deals."""
    return [
        {"propertyName": "associations.company", "operator": "EQ", "value": company},
        {"propertyName": "hs_is_closed", "operator": "EQ", "value": "false"},
    ]


ACME = (entity("Acme", "ORG", key="Acme Corp"),)


def test_mentioned_contacts_and_companies_are_associated(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    maria = fake.add("contacts", firstname="Maria", lastname="de la Cruz")
    acme = fake.add("companies", name="Acme Corp")
    item = stored_item(
        entities=(
            entity("Sarah", "PERSON", key="Sarah Cole"),  # our own team: not a contact
            entity("maria de la cruz", "PERSON"),
            entity("Acme", "ORG", key="Acme Corp"),
        )
    )
    ref = connector.upsert(SyncItem(item))

    assert fake.associations == {
        ("tasks", ref.id, "contacts", maria),
        ("tasks", ref.id, "companies", acme),
    }
    searches = [r.body["filterGroups"] for r in fake.requests if r.path.endswith("/search")]
    assert searches == [
        [
            {
                "filters": [
                    {"propertyName": "firstname", "operator": "EQ", "value": "maria"},
                    {"propertyName": "lastname", "operator": "EQ", "value": "de la cruz"},
                ]
            }
        ],
        [{"filters": [{"propertyName": "name", "operator": "EQ", "value": "Acme Corp"}]}],
        [{"filters": open_deals_of(acme)}],
    ]


@pytest.mark.parametrize(
    "item", [stored_item(entities=ACME), meeting(entities=ACME)], ids=["task", "meeting"]
)
def test_the_one_open_deal_of_a_mentioned_company_is_associated(
    fake: FakeHubSpot, connector: HubSpotConnector, item: StoredItem
) -> None:
    acme = fake.add("companies", name="Acme Corp")
    fake.add_deal(acme, "Acme 2025 renewal", stage="closedwon")
    deal = fake.add_deal(acme, "Acme Q3 expansion")
    fake.add_deal(fake.add("companies", name="Globex"), "Globex pilot")

    ref = connector.upsert(SyncItem(item))

    assert {a for a in fake.associations if a[:2] == (ref.type, ref.id)} == {
        (ref.type, ref.id, "companies", acme),
        (ref.type, ref.id, "deals", deal),
    }
    (search,) = fake.calls("POST", "/crm/v3/objects/deals/search")
    assert search.body["filterGroups"] == [{"filters": open_deals_of(acme)}]
    assert search.body["limit"] == 2


@pytest.mark.parametrize(
    ("stages", "options"),
    [
        (["appointmentscheduled", "contractsent"], {}),
        (["closedwon", "closedlost"], {}),
        (["appointmentscheduled"], {"link_deals": False}),
    ],
    ids=["two-open", "only-closed", "link-deals-off"],
)
def test_no_deal_is_associated_without_exactly_one_open_or_when_off(
    fake: FakeHubSpot, stages: list[str], options: dict[str, Any]
) -> None:
    acme = fake.add("companies", name="Acme Corp")
    for n, stage in enumerate(stages):
        fake.add_deal(acme, f"Acme deal {n}", stage=stage)

    ref = connect(fake, **options).upsert(SyncItem(stored_item(entities=ACME)))

    assert {a for a in fake.associations if a[:2] == (ref.type, ref.id)} == {
        (ref.type, ref.id, "companies", acme)
    }
    searched = fake.calls("POST", "/crm/v3/objects/deals/search")
    assert len(searched) == (0 if options else 1)


def test_an_ambiguous_or_unknown_name_is_not_associated(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    fake.add("contacts", firstname="John", lastname="Smith")
    fake.add("contacts", firstname="John", lastname="Smith")
    connector.upsert(SyncItem(stored_item(entities=(entity("John Smith", "PERSON"),))))

    assert fake.associations == set()
    assert connector.find_contact("John Smith") is None
    assert connector.find_account("Umbrella") is None


# -- changes flowing back --------------------------------------------------------------------


def test_a_change_made_in_hubspot_flows_back(
    fake: FakeHubSpot, connector: HubSpotConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item))
    _, cursor = connector.changes_since(None)

    moved = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    fake.edit(
        "tasks", ref.id, hs_task_status="COMPLETED", hs_timestamp="2026-11-30T09:00:00.000Z",
        hubspot_owner_id=JOHN,
    )  # fmt: skip
    changes, next_cursor = connector.changes_since(cursor)

    (change,) = changes
    modified = fake.objects["tasks"][ref.id]["hs_lastmodifieddate"]
    assert change.remote == RemoteRef(ref.id, "tasks", modified)
    assert change.external_id == item.external_id
    assert (change.status, change.due, change.assignee) == (ItemStatus.DONE, moved, "John Smith")
    assert change.changed_at == datetime.fromisoformat(modified) and next_cursor > cursor
    assert connector.changes_since(next_cursor) == ([], next_cursor)


def test_the_first_poll_pages_through_every_record_of_ours(
    fake: FakeHubSpot, connector: HubSpotConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.hubspot._PAGE", 2)
    for n in range(3):
        connector.upsert(SyncItem(stored_item(key=f"t{n}")))
    connector.upsert(SyncItem(meeting()))
    fake.add("tasks", hs_task_subject="Made by hand", hs_timestamp="2026-11-30T09:00:00.000Z")

    changes, _ = connector.changes_since(None)

    assert [c.remote.type for c in changes] == ["tasks"] * 3 + ["meetings"]
    assert len({c.external_id for c in changes}) == 4
    assert (changes[-1].start, changes[-1].end) == (START, START + timedelta(hours=1))
    assert changes[-1].status is ItemStatus.OPEN


# -- check -----------------------------------------------------------------------------------


def test_check_confirms_the_mapping_against_the_properties_api(connector: HubSpotConnector) -> None:
    assert connector.check() == [
        "tasks: 7 mapped fields, upsert on chat2task_id",
        "meetings: 7 mapped fields, upsert on chat2task_id",
        "owners: 2 found",
    ]


@pytest.mark.parametrize(
    ("the_mapping", "options", "message"),
    [
        (
            mapping(task={"custom": {"source": "WhatsApp"}}),
            {},
            "hubspot.yaml: task: HubSpot tasks has no field 'source'",
        ),
        (
            mapping(
                task={
                    "values": {
                        **TASK_VALUES,
                        "status": {"open": "OPEN", "done": "COMPLETED", "cancelled": "DEFERRED"},
                    }
                }
            ),
            {},
            "task.values.status.open: HubSpot tasks.hs_task_status has no value 'OPEN'",
        ),
        (
            mapping({"Sarah Cole": "999"}),
            {},
            "owners.Sarah Cole: HubSpot has no user with id '999'",
        ),
        (
            mapping(),
            {"id_property": "hs_task_subject"},
            "'hs_task_subject' must have unique values",
        ),
    ],
    ids=["unknown-property", "enumeration-value", "owner", "not-unique"],
)
def test_check_names_the_first_problem(
    fake: FakeHubSpot, the_mapping: FieldMapping, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConnectorConfigError) as info:
        connect(fake, the_mapping, **options).check()
    assert message in str(info.value)


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT2TASK_HUBSPOT_ACCESS_TOKEN", TOKEN)
    options = HubSpotConnector.parse_options("hubspot", {})
    assert options.access_token.get_secret_value() == TOKEN  # type: ignore[attr-defined]
    assert TOKEN not in repr(options)
