"""The Salesforce connector, through simple-salesforce, against a fake org over TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme

from connectors.base import RemoteRef, SyncItem
from connectors.errors import ConnectorConfigError, Permanent, RateLimited, Transient
from connectors.mapping import FieldMapping
from connectors.salesforce import SalesforceConnector
from pipeline.domain import ItemType
from pipeline.storage.tables import ItemStatus
from tests.fakes.items import entity, stored_item
from tests.fakes.rest_server import serve
from tests.fakes.salesforce import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    EXTERNAL_ID,
    JOHN,
    MY_DOMAIN,
    SARAH,
    FakeSalesforce,
    client_session,
    server_context,
)

OWNERS: dict[str, str | int] = {"Sarah Cole": SARAH, "John Smith": JOHN}
TASK_VALUES = FieldMapping.default("salesforce").objects[ItemType.TASK].values
URGENT = {"urgent": "Urgent", "high": "High", "normal": "Normal"}
TEXT = "Sarah, send the Q3 report to Acme by Friday 3pm"


def mapping(owners: dict[str, str | int] = OWNERS, **sections: Any) -> FieldMapping:
    """The default mapping with our fake's users; ``task``/``event`` changes go in ``sections``."""
    base = FieldMapping.default("salesforce")
    task, event = (
        base.objects[kind].model_copy(update=sections.get(kind.value, {})) for kind in ItemType
    )
    return FieldMapping(base.source, task, event, owners)


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, trustme.CA]:
    ca = trustme.CA()
    return server_context(ca), ca


@pytest.fixture(scope="module")
def ca_file(
    tls: tuple[ssl.SSLContext, trustme.CA], tmp_path_factory: pytest.TempPathFactory
) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    tls[1].cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def fake(tls: tuple[ssl.SSLContext, trustme.CA]) -> Iterator[FakeSalesforce]:
    api = FakeSalesforce()
    with serve(api, tls[0]):
        yield api


def connect(
    fake: FakeSalesforce, ca_file: str, the_mapping: FieldMapping | None = None, **options: Any
) -> SalesforceConnector:
    raw = {
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "domain": MY_DOMAIN,
        "timeout": 0.5,
        "session": client_session(fake, ca_file),
        **options,
    }
    parsed = SalesforceConnector.parse_options("salesforce", raw)
    return SalesforceConnector("salesforce", parsed, the_mapping or mapping())


@pytest.fixture
def connector(fake: FakeSalesforce, ca_file: str) -> SalesforceConnector:
    return connect(fake, ca_file)


def the_task(fake: FakeSalesforce, external_id: str) -> dict[str, Any]:
    (record,) = fake.by_external_id("Task", external_id)
    return record


# -- writing ---------------------------------------------------------------------------------


def test_a_task_is_upserted_on_the_external_id_field_with_mapped_fields(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item, text=TEXT))

    record = the_task(fake, item.external_id)
    assert ref == RemoteRef(record["Id"], "Task")
    assert record["Id"].startswith("00T")
    assert {k: record[k] for k in ("Subject", "ActivityDate", "Priority", "Status", "OwnerId")} == {
        "Subject": "Send Q3 report to Acme",
        "ActivityDate": "2026-11-27",
        "Priority": "High",
        "Status": "Not Started",
        "OwnerId": SARAH,
    }
    assert record["Description"] == TEXT
    (patch,) = fake.calls("PATCH")
    assert patch.path.endswith(f"/sobjects/Task/{EXTERNAL_ID}/{item.external_id}")
    assert patch.headers["authorization"] == "Bearer 00Dfake!1"
    assert patch.headers["content-type"] == "application/json"
    assert fake.logins == [{"grant_type": "client_credentials"}]


def test_the_due_date_is_the_calendar_day_in_the_connectors_timezone(
    fake: FakeSalesforce, ca_file: str
) -> None:
    connector = connect(fake, ca_file, timezone="Pacific/Auckland")  # UTC+13 in November
    item = stored_item(due=datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    connector.upsert(SyncItem(item))
    assert the_task(fake, item.external_id)["ActivityDate"] == "2026-11-28"


def test_an_event_gets_its_span_in_utc(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    start = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    item = stored_item(
        type=ItemType.EVENT, title="Meeting with Globex", due=None, start=start,
        end=start.replace(hour=16),
    )  # fmt: skip
    ref = connector.upsert(SyncItem(item))

    (record,) = fake.by_external_id("Event", item.external_id)
    assert ref == RemoteRef(record["Id"], "Event") and record["Id"].startswith("00U")
    assert record["StartDateTime"] == "2026-11-27T15:00:00.000+0000"
    assert record["EndDateTime"] == "2026-11-27T16:00:00.000+0000"
    assert "Status" not in record and "Priority" not in record


@pytest.mark.parametrize("update_status", [200, 204], ids=["api>=46", "older-api"])
def test_an_update_changes_the_same_record(
    fake: FakeSalesforce, connector: SalesforceConnector, update_status: int
) -> None:
    fake.update_status = update_status
    item = stored_item()
    first = connector.upsert(SyncItem(item))
    again = connector.upsert(SyncItem(stored_item(title="Send Q4 report", status=ItemStatus.DONE)))

    assert again == first
    record = the_task(fake, item.external_id)
    assert (record["Subject"], record["Status"]) == ("Send Q4 report", "Completed")
    assert len(fake.records["Task"]) == 1


def test_an_upsert_retried_after_a_timeout_creates_no_duplicate(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    item = stored_item()
    fake.delay_next(1.0, method="PATCH")  # the record is written, the answer comes too late
    with pytest.raises(Transient, match="did not answer"):
        connector.upsert(SyncItem(item))
    assert len(fake.records["Task"]) == 1

    ref = connector.upsert(SyncItem(item))
    assert ref.id == the_task(fake, item.external_id)["Id"]
    assert len(fake.records["Task"]) == 1


# -- failures --------------------------------------------------------------------------------


def test_an_expired_session_logs_in_again_and_the_call_succeeds(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    connector.upsert(SyncItem(stored_item()))
    fake.expire_sessions()

    connector.upsert(SyncItem(stored_item(title="Renamed")))

    assert len(fake.logins) == 2
    assert the_task(fake, stored_item().external_id)["Subject"] == "Renamed"
    assert len(fake.calls("PATCH")) == 3  # created; refused (expired); sent again


def test_a_session_refused_right_after_a_new_login_is_transient(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    fake.fail_next(401, expired, method="PATCH")
    fake.fail_next(401, expired, method="PATCH")
    with pytest.raises(Transient, match="still unauthorised after a refresh"):
        connector.upsert(SyncItem(stored_item()))
    assert len(fake.logins) == 2


def test_the_api_request_limit_is_rate_limited(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    fake.limit_exceeded_next(method="PATCH")
    with pytest.raises(RateLimited, match="REQUEST_LIMIT_EXCEEDED: TotalRequests Limit") as info:
        connector.upsert(SyncItem(stored_item()))
    assert info.value.retry_after is None  # Salesforce sends no Retry-After: the engine backs off


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    fake: FakeSalesforce, connector: SalesforceConnector, status: int
) -> None:
    unavailable = [{"message": "Service unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
    fake.fail_next(status, unavailable, method="PATCH")
    with pytest.raises(Transient, match=f"answered {status}: SERVER_UNAVAILABLE"):
        connector.upsert(SyncItem(stored_item()))


def test_a_validation_error_is_permanent_with_salesforces_message(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    item = stored_item(type=ItemType.EVENT, due=None, start=None, end=None)
    with pytest.raises(Permanent) as info:
        connector.upsert(SyncItem(item))
    assert "REQUIRED_FIELD_MISSING: Required fields are missing: [StartDateTime" in str(info.value)
    assert "answered 400" in str(info.value)
    assert not fake.records["Event"]


def test_a_picklist_value_the_org_refuses_is_permanent(fake: FakeSalesforce, ca_file: str) -> None:
    statuses = {"open": "Open", "done": "Done", "cancelled": "Cancelled"}
    custom = mapping(
        task={"values": {**mapping().objects[ItemType.TASK].values, "status": statuses}}
    )
    with pytest.raises(Permanent, match="bad value for restricted picklist field: Open"):
        connect(fake, ca_file, custom).upsert(SyncItem(stored_item()))


def test_wrong_credentials_are_permanent(fake: FakeSalesforce, ca_file: str) -> None:
    connector = connect(fake, ca_file, consumer_secret="wrong")
    with pytest.raises(Permanent, match="login failed \\(invalid_grant\\): authentication failure"):
        connector.upsert(SyncItem(stored_item()))


def test_an_unreachable_org_is_transient(
    tls: tuple[ssl.SSLContext, trustme.CA], ca_file: str
) -> None:
    api = FakeSalesforce()
    with serve(api, tls[0]):
        connector = connect(api, ca_file)
    with pytest.raises(Transient, match="did not answer"):
        connector.upsert(SyncItem(stored_item()))


# -- linking ---------------------------------------------------------------------------------


def test_mentioned_contact_and_account_become_who_and_what(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    contact = fake.add("Contact", Name="Maria Lopez")
    account = fake.add("Account", Name="O'Brien & Sons")
    item = stored_item(
        entities=(
            entity("Sarah", "PERSON", key="Sarah Cole"),  # our own team: not a contact
            entity("Maria Lopez", "PERSON"),
            entity("O'Brien", "ORG", key="O'Brien & Sons"),
        )
    )
    connector.upsert(SyncItem(item))

    record = the_task(fake, item.external_id)
    assert (record["WhoId"], record["WhatId"]) == (contact, account)
    queries = [r.query["q"] for r in fake.calls("GET", "/services/data/v59.0/query")]
    assert queries == [
        "SELECT Id FROM Contact WHERE Name = 'Maria Lopez' LIMIT 2",
        "SELECT Id FROM Account WHERE Name = 'O\\'Brien & Sons' LIMIT 2",
        f"SELECT Id FROM Opportunity WHERE AccountId = '{account}' AND IsClosed = false LIMIT 2",
    ]


def test_an_ambiguous_or_unknown_name_is_not_linked(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    fake.add("Contact", Name="John Smith")
    fake.add("Contact", Name="John Smith")
    item = stored_item(entities=(entity("John Smith", "PERSON"), entity("Umbrella", "ORG")))
    connector.upsert(SyncItem(item))

    record = the_task(fake, item.external_id)
    assert "WhoId" not in record and "WhatId" not in record
    assert connector.find_contact("John Smith") is None
    assert connector.find_account("Umbrella") is None


def test_the_accounts_one_open_opportunity_becomes_the_what(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    acme = fake.add("Account", Name="Acme")
    deal = fake.add("Opportunity", Name="Acme renewal", AccountId=acme)
    fake.add("Opportunity", Name="Acme pilot", AccountId=acme, IsClosed=True)
    item = stored_item(entities=(entity("Acme", "ORG"),))
    connector.upsert(SyncItem(item))

    assert the_task(fake, item.external_id)["WhatId"] == deal
    assert connector.find_open_deal(RemoteRef(acme, "Account")) == RemoteRef(deal, "Opportunity")


@pytest.mark.parametrize("closed", [(False, False), (True, True)], ids=["two-open", "all-closed"])
def test_without_exactly_one_open_opportunity_the_account_is_the_what(
    fake: FakeSalesforce, connector: SalesforceConnector, closed: tuple[bool, bool]
) -> None:
    acme = fake.add("Account", Name="Acme")
    for n, is_closed in enumerate(closed):
        fake.add("Opportunity", Name=f"Acme deal {n}", AccountId=acme, IsClosed=is_closed)
    item = stored_item(entities=(entity("Acme", "ORG"),))
    connector.upsert(SyncItem(item))

    assert the_task(fake, item.external_id)["WhatId"] == acme


def test_with_link_deals_off_the_account_is_the_what(fake: FakeSalesforce, ca_file: str) -> None:
    acme = fake.add("Account", Name="Acme")
    fake.add("Opportunity", Name="Acme renewal", AccountId=acme)
    item = stored_item(entities=(entity("Acme", "ORG"),))
    connect(fake, ca_file, link_deals=False).upsert(SyncItem(item))

    assert the_task(fake, item.external_id)["WhatId"] == acme
    queries = [r.query["q"] for r in fake.calls("GET", "/services/data/v59.0/query")]
    assert not [q for q in queries if "Opportunity" in q]


def test_a_person_known_only_as_a_lead_is_the_who_with_no_what(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    lead = fake.add("Lead", Name="Maria Lopez")
    fake.add("Lead", Name="Maria Lopez", IsConverted=True)  # now a Contact elsewhere: not her
    acme = fake.add("Account", Name="Acme")
    fake.add("Opportunity", Name="Acme renewal", AccountId=acme)
    item = stored_item(entities=(entity("Maria Lopez", "PERSON"), entity("Acme", "ORG")))
    connector.upsert(SyncItem(item))

    record = the_task(fake, item.external_id)
    assert record["WhoId"] == lead and record.get("WhatId") is None
    assert connector.find_contact("Maria Lopez") == RemoteRef(lead, "Lead")


def test_an_activity_moved_onto_a_lead_loses_its_what(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    fake.add("Contact", Name="Maria Lopez")
    lead = fake.add("Lead", Name="Tom Baker")
    acme = fake.add("Account", Name="Acme")
    item = stored_item(entities=(entity("Maria Lopez", "PERSON"), entity("Acme", "ORG")))
    connector.upsert(SyncItem(item))
    assert the_task(fake, item.external_id)["WhatId"] == acme

    # The item now names someone else, known only as a Lead.
    edited = stored_item(entities=(entity("Tom Baker", "PERSON"), entity("Acme", "ORG")))
    connector.upsert(SyncItem(edited))

    record = the_task(fake, item.external_id)
    assert (record["WhoId"], record["WhatId"]) == (lead, None)


def test_a_contact_wins_over_a_lead_of_the_same_name(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    contact = fake.add("Contact", Name="Maria Lopez")
    fake.add("Lead", Name="Maria Lopez")
    acme = fake.add("Account", Name="Acme")
    item = stored_item(entities=(entity("Maria Lopez", "PERSON"), entity("Acme", "ORG")))
    connector.upsert(SyncItem(item))

    record = the_task(fake, item.external_id)
    assert (record["WhoId"], record["WhatId"]) == (contact, acme)
    queries = [r.query["q"] for r in fake.calls("GET", "/services/data/v59.0/query")]
    assert not [q for q in queries if "FROM Lead" in q]


# -- changes flowing back --------------------------------------------------------------------


def test_a_change_made_in_salesforce_flows_back(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item))
    _, cursor = connector.changes_since(None)

    fake.edit("Task", ref.id, Status="Completed", ActivityDate="2026-11-30", OwnerId=JOHN)
    changes, next_cursor = connector.changes_since(cursor)

    (change,) = changes
    modstamp = fake.records["Task"][ref.id]["SystemModstamp"]
    assert change.remote == RemoteRef(ref.id, "Task", modstamp)
    assert change.external_id == item.external_id
    assert change.status is ItemStatus.DONE
    assert change.due == datetime(2026, 11, 30, tzinfo=UTC)
    assert change.assignee == "John Smith"
    assert change.changed_at == datetime.fromisoformat(modstamp) and next_cursor > cursor
    assert connector.changes_since(next_cursor) == ([], next_cursor)


def test_the_first_poll_reads_every_record_of_ours_with_its_current_values(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    start = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    event = stored_item(
        key="m2", type=ItemType.EVENT, due=None, start=start, end=start.replace(hour=16)
    )
    connector.upsert(SyncItem(stored_item()))
    connector.upsert(SyncItem(event))
    fake.add("Task", Subject="Made by hand in Salesforce")  # no external id: not ours

    changes, _ = connector.changes_since(None)

    assert [c.remote.type for c in changes] == ["Task", "Event"]
    task, meeting = changes
    assert (task.status, task.assignee) == (ItemStatus.OPEN, "Sarah Cole")
    assert (meeting.start, meeting.end, meeting.status) == (start, start.replace(hour=16), None)


# -- check -----------------------------------------------------------------------------------


def test_check_confirms_the_mapping_against_the_orgs_describe(
    fake: FakeSalesforce, connector: SalesforceConnector
) -> None:
    host = fake.base_url.removeprefix("https://")
    assert connector.check() == [
        f"logged in to {host}",
        "Task: 6 mapped fields, upsert on Chat2Task_Id__c",
        "Event: 5 mapped fields, upsert on Chat2Task_Id__c",
        "owners: 2 found",
    ]


@pytest.mark.parametrize(
    ("the_mapping", "options", "message"),
    [
        (
            mapping(task={"custom": {"Source__c": "WhatsApp"}}),
            {},
            "task: Salesforce Task has no field 'Source__c'",
        ),
        (
            mapping(task={"values": {**TASK_VALUES, "priority": URGENT}}),
            {},
            "task.values.priority.urgent: Salesforce Task.Priority has no value 'Urgent'",
        ),
        (
            mapping({"Sarah Cole": "005000000000099AAA"}),
            {},
            "owners.Sarah Cole: Salesforce has no user",
        ),
        (mapping(), {"external_id_field": "Description"}, "Task.Description is not an External ID"),
    ],
    ids=["unknown-field", "picklist-value", "owner", "not-external-id"],
)
def test_check_names_the_first_problem(
    fake: FakeSalesforce,
    ca_file: str,
    the_mapping: FieldMapping,
    options: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ConnectorConfigError) as info:
        connect(fake, ca_file, the_mapping, **options).check()
    assert message in str(info.value)


# -- options ---------------------------------------------------------------------------------


def test_the_username_password_flow_sends_what_salesforce_expects(
    fake: FakeSalesforce, ca_file: str
) -> None:
    connector = connect(
        fake, ca_file, domain="login", username="sarah@example.com", password="s3cret"
    )
    connector.upsert(SyncItem(stored_item()))
    assert fake.logins == [
        {
            "grant_type": "password",
            "client_id": CONSUMER_KEY,
            "client_secret": CONSUMER_SECRET,
            "username": "sarah@example.com",
            "password": "s3cret",
        }
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"consumer_key": "k", "consumer_secret": "s"}, "needs domain set to your My Domain"),
        ({"username": "u@example.com"}, "no complete login"),
    ],
)
def test_incomplete_login_options_are_refused_with_the_env_names(
    options: dict[str, str], message: str
) -> None:
    with pytest.raises(ConnectorConfigError, match=message) as info:
        SalesforceConnector.parse_options("salesforce", options)
    assert "CHAT2TASK_SALESFORCE_CONSUMER_SECRET" in str(info.value)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT2TASK_SALESFORCE_CONSUMER_KEY", "env-key")
    monkeypatch.setenv("CHAT2TASK_SALESFORCE_CONSUMER_SECRET", "env-secret")
    options = SalesforceConnector.parse_options("salesforce", {"domain": MY_DOMAIN})
    assert options.login_arguments() == {"consumer_key": "env-key", "consumer_secret": "env-secret"}  # type: ignore[attr-defined]
    assert "env-secret" not in repr(options)
