"""Field mappings, the connector registry, HTTP error classification and the CRM helpers."""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import (
    RemoteChange,
    RemoteRef,
    create_connector,
    raise_for_status,
    retry_after,
)
from connectors.crm import changes_after, parse_moment
from connectors.errors import (
    AuthExpired,
    ConnectorConfigError,
    ConnectorError,
    Permanent,
    RateLimited,
    RemoteNotFound,
    Transient,
)
from connectors.hubspot import HubSpotConnector
from connectors.mapping import DEFAULT_MAPPINGS, FieldMapping
from connectors.salesforce import SalesforceConnector
from pipeline.config import ConnectorSettings
from pipeline.domain import ItemType, Priority
from pipeline.storage.tables import ItemStatus
from tests.fakes.items import stored_item

LONDON = ZoneInfo("Europe/London")
VALID = """\
task:
  object: Task
  fields: {Subject: title, ActivityDate: due_date, Priority: priority, OwnerId: owner}
  values:
    priority: {urgent: High, high: High, normal: Normal}
  custom: {Source__c: WhatsApp}
event:
  object: Event
  fields: {Subject: title, StartDateTime: start}
owners:
  Sarah Cole: "005A"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- mapping files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            VALID.replace("Subject: title, Activity", "Subject: titel, Activity"),
            "task.fields.Subject names unknown item field 'titel'; use one of ",
        ),
        (
            VALID.replace("urgent: High, ", ""),
            "mapping field 'Priority' has no value for priority 'urgent': add it under "
            "task.values.priority in ",
        ),
        (
            VALID.replace("  custom:", "  values_extra: {}\n  custom:"),
            "task.values_extra: Extra inputs are not permitted",
        ),
        (
            VALID.replace("priority: {urgent", "title: {x: y}\n    priority: {urgent"),
            "task.values.title: only priority, status are translated",
        ),
        (VALID.replace("event:", "meeting:"), "event: Field required"),
        ("task: [unclosed", "is not valid YAML"),
    ],
    ids=[
        "unknown-item-field",
        "missing-enum-value",
        "unknown-key",
        "untranslatable",
        "no-event",
        "yaml",
    ],
)
def test_a_bad_mapping_fails_on_load_naming_the_file_and_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConnectorConfigError) as info:
        FieldMapping.load(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_a_missing_mapping_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match=r"nope\.yaml does not exist"):
        FieldMapping.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted(DEFAULT_MAPPINGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_default_mapping_loads(path: Path) -> None:
    loaded = FieldMapping.default(path.stem)
    assert {loaded.object_for(stored_item(type=kind)) for kind in ItemType} == {
        loaded.objects[ItemType.TASK].object,
        loaded.objects[ItemType.EVENT].object,
    }


def test_render_maps_translates_adds_constants_and_leaves_out_unknowns(tmp_path: Path) -> None:
    mapping = FieldMapping.load(write(tmp_path, VALID))
    late = stored_item(due=datetime(2026, 11, 27, 23, 30, tzinfo=UTC), priority=Priority.URGENT)

    assert mapping.render(late, "text", LONDON) == {
        "Subject": "Send Q3 report to Acme",
        "ActivityDate": "2026-11-27",
        "Priority": "High",
        "OwnerId": "005A",
        "Source__c": "WhatsApp",
    }
    # 23:30 UTC is already the next day in Auckland; no due date, no owner: left out.
    auckland = mapping.render(late, "", ZoneInfo("Pacific/Auckland"))
    assert auckland["ActivityDate"] == "2026-11-28"
    bare = mapping.render(stored_item(due=None, assignee="Nobody Known"), "", UTC)
    assert "ActivityDate" not in bare and "OwnerId" not in bare


def test_values_read_back_through_the_mapping() -> None:
    mapping = FieldMapping.default("salesforce")
    assert mapping.crm_field(ItemType.TASK, "status") == "Status"
    assert mapping.item_value(ItemType.TASK, "status", "Completed") == "done"
    assert mapping.item_value(ItemType.TASK, "status", "In Progress") is None
    task, event = mapping.objects[ItemType.TASK], mapping.objects[ItemType.EVENT]
    custom = FieldMapping(mapping.source, task, event, {"Sarah Cole": 75})
    assert custom.assignee_for("75") == custom.assignee_for(75) == "Sarah Cole"
    assert custom.assignee_for("76") is None


# -- the registry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options", "cls"),
    [
        (
            "salesforce",
            {"consumer_key": "k", "consumer_secret": "s", "domain": "acme.my"},
            SalesforceConnector,
        ),
        ("hubspot", {"access_token": "pat-na1-x"}, HubSpotConnector),
    ],
)
def test_create_connector_finds_the_class_through_the_entry_point(
    kind: str, options: dict[str, str], cls: type
) -> None:
    connector = create_connector(f"my-{kind}", ConnectorSettings(type=kind, options=options))
    assert isinstance(connector, cls)
    assert connector.name == f"my-{kind}"
    assert connector.mapping.source == str(DEFAULT_MAPPINGS / f"{kind}.yaml")


def test_create_connector_uses_the_configured_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    settings = ConnectorSettings(type="hubspot", mapping=path, options={"access_token": "t"})
    assert create_connector("crm", settings).mapping.source == str(path)


def test_an_unknown_connector_type_lists_the_installed_ones() -> None:
    with pytest.raises(
        ConnectorConfigError, match=r"unknown type 'zoho' \(installed: .*hubspot.*salesforce"
    ):
        create_connector("crm", ConnectorSettings(type="zoho"))


def test_invalid_options_name_the_key_and_the_secret_variables() -> None:
    settings = ConnectorSettings(type="hubspot", options={"acces_token": "typo"})
    with pytest.raises(ConnectorConfigError) as info:
        create_connector("hubspot", settings)
    message = str(info.value)
    assert "access_token: Field required" in message and "acces_token" in message
    assert "CHAT2TASK_HUBSPOT_ACCESS_TOKEN" in message


# -- HTTP errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, Permanent),
        (401, AuthExpired),
        (403, Permanent),
        (404, RemoteNotFound),
        (408, Transient),
        (409, Transient),
        (422, Permanent),
        (423, Transient),
        (429, RateLimited),
        (500, Transient),
        (503, Transient),
    ],
)
def test_raise_for_status_classifies_by_what_the_engine_should_do(
    status: int, error: type[ConnectorError]
) -> None:
    with pytest.raises(ConnectorError) as info:
        raise_for_status("CRM", status, {}, "why")
    assert type(info.value) is error
    assert str(info.value).endswith(f"CRM answered {status}: why")


def test_success_and_redirects_raise_nothing() -> None:
    for status in (200, 201, 204, 300):
        raise_for_status("CRM", status, {}, "")


def test_a_429_carries_the_servers_wait() -> None:
    with pytest.raises(RateLimited) as info:
        raise_for_status("CRM", 429, {"retry-after": "12"}, "slow down")
    assert info.value.retry_after == 12.0


def test_retry_after_reads_seconds_or_an_http_date() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=90)
    http_date = email.utils.format_datetime(soon, usegmt=True)
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert 85 <= (retry_after({"retry-after": http_date}) or 0) <= 90
    assert retry_after({"Retry-After": "-5"}) == 0.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None


# -- shared CRM helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27T15:00:00.000+0000", datetime(2026, 11, 27, 15, tzinfo=UTC)),
        ("2026-11-27T15:00:00Z", datetime(2026, 11, 27, 15, tzinfo=UTC)),
        ("1795791600000", datetime(2026, 11, 27, 15, tzinfo=UTC)),
        ("2026-07-01", datetime(2026, 6, 30, 23, tzinfo=UTC)),  # London midnight in summer time
        ("", None),
        (None, None),
    ],
)
def test_parse_moment_reads_every_crm_format_as_utc(value: str | None, expected: datetime) -> None:
    assert parse_moment(value, LONDON) == expected


def test_changes_after_sorts_drops_what_the_cursor_has_seen_and_moves_on() -> None:
    def change(minute: int) -> RemoteChange:
        at = datetime(2026, 11, 23, 10, minute, tzinfo=UTC)
        return RemoteChange(RemoteRef(str(minute), "Task"), at, status=ItemStatus.DONE)

    def fetch(kind: ItemType, since: datetime | None) -> Iterable[RemoteChange]:
        return [change(5), change(1)] if kind is ItemType.TASK else [change(3)]

    everything, cursor = changes_after(None, fetch)
    assert [c.remote.id for c in everything] == ["1", "3", "5"]
    assert cursor == "2026-11-23T10:05:00+00:00"

    newer, again = changes_after("2026-11-23T10:03:00+00:00", fetch)
    assert [c.remote.id for c in newer] == ["5"] and again == cursor
    assert changes_after(cursor, fetch) == ([], cursor)
    assert changes_after(None, lambda kind, since: []) == ([], "")
