"""The Dynamics 365 connector against a fake Entra ID + Dataverse over TLS (MSAL, httpx)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import RemoteRef, SyncItem, create_connector
from connectors.dynamics import DynamicsConnector
from connectors.errors import (
    ConnectorConfigError,
    Permanent,
    RateLimited,
    RemoteNotFound,
    Transient,
)
from connectors.mapping import FieldMapping
from pipeline.config import ConnectorSettings
from pipeline.domain import ItemType, Priority
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus
from tests.fakes.dynamics import (
    APP_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    KEY_COLUMN,
    TENANT,
    FakeDynamics,
)
from tests.fakes.dynamics import running_dynamics as running
from tests.fakes.items import entity, stored_item

SARAH = "00000000-0000-0000-0000-00000000005a"
JOHN = "00000000-0000-0000-0000-00000000000b"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDynamics]:
    with running(tmp_path) as api:
        yield api


def options(fake: FakeDynamics, **changes: object) -> dict[str, object]:
    return {
        "base_url": fake.base_url,
        "authority": f"{fake.base_url}/{TENANT}",
        "client_id": CLIENT_ID,
        "ca_bundle": str(fake.ca_path),
        "instance_discovery": False,
        "timeout": 1.0,
        **changes,
    }


Connect = Callable[..., DynamicsConnector]


@pytest.fixture
def connect(fake: FakeDynamics) -> Iterator[Connect]:
    """Build connectors to ``fake`` (options overridable); closed afterwards."""
    made: list[DynamicsConnector] = []

    def build(**changes: object) -> DynamicsConnector:
        raw = {"client_secret": CLIENT_SECRET, **options(fake, **changes)}
        base = FieldMapping.default("dynamics")
        owners: dict[str, str | int] = {"Sarah Cole": SARAH, "John Smith": JOHN}
        mapping = FieldMapping(
            base.source, base.objects[ItemType.TASK], base.objects[ItemType.EVENT], owners
        )
        parsed = DynamicsConnector.parse_options("dynamics", raw)
        made.append(DynamicsConnector("dynamics", parsed, mapping))
        return made[-1]

    yield build
    for connector in made:
        connector.api.close()


@pytest.fixture
def connector(connect: Connect) -> DynamicsConnector:
    return connect()


def test_a_task_is_upserted_at_its_external_id_with_odata_headers(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    item = stored_item(priority=Priority.URGENT)
    ref = connector.upsert(SyncItem(item, text="Send the Q3 report to Acme by Friday 3pm"))

    assert ref == RemoteRef(item.external_id, "tasks", 'W/"1"')
    row = fake.tables["tasks"][item.external_id]
    assert row["subject"] == "Send Q3 report to Acme"
    assert row["description"] == "Send the Q3 report to Acme by Friday 3pm"
    assert row["scheduledend"] == "2026-11-27T15:00:00Z"
    assert row["prioritycode"] == 2
    assert row["_ownerid_value"] == SARAH
    (patch,) = fake.calls("PATCH")
    assert patch.path == f"/api/data/v9.2/tasks({item.external_id})"
    assert "if-match" not in patch.headers  # an upsert: creates or updates
    assert patch.headers["odata-maxversion"] == patch.headers["odata-version"] == "4.0"
    assert patch.headers["accept"] == "application/json"
    assert patch.headers["authorization"] == "Bearer token-1"


def test_an_event_is_an_appointment_with_start_and_end(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    event = stored_item(
        type=ItemType.EVENT,
        due=None,
        start=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        end=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
    )
    ref = connector.upsert(SyncItem(event))

    row = fake.tables["appointments"][ref.id]
    assert (row["scheduledstart"], row["scheduledend"]) == (
        "2026-11-27T14:00:00Z",
        "2026-11-27T15:00:00Z",
    )
    assert (row["statecode"], row["statuscode"]) == (3, 5)  # scheduled, busy


def test_an_update_uses_if_match_on_the_same_row(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    item = stored_item()
    first = connector.upsert(SyncItem(item))
    again = connector.upsert(SyncItem(stored_item(title="Send Q4 report"), link=first))

    assert again.id == first.id and len(fake.tables["tasks"]) == 1
    assert fake.tables["tasks"][first.id]["subject"] == "Send Q4 report"
    assert fake.calls("PATCH")[-1].headers["if-match"] == "*"


def test_completing_is_a_state_change_after_the_fields_and_reopening_comes_first(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    ref = connector.upsert(SyncItem(stored_item()))
    connector.upsert(SyncItem(stored_item(status=ItemStatus.DONE), link=ref))
    row = fake.tables["tasks"][ref.id]
    assert (row["statecode"], row["statuscode"]) == (1, 5)
    assert fake.calls("PATCH")[-1].body == {"statecode": 1, "statuscode": 5}

    connector.upsert(SyncItem(stored_item(title="Send it again"), link=ref))  # reopened

    assert (row["statecode"], row["statuscode"], row["subject"]) == (0, 2, "Send it again")


def test_a_row_deleted_in_dynamics_is_not_recreated(connector: DynamicsConnector) -> None:
    gone = RemoteRef("0a0a0a0a-0000-4000-8000-000000000000", "tasks")
    with pytest.raises(RemoteNotFound, match="Does Not Exist"):
        connector.upsert(SyncItem(stored_item(), link=gone))


def test_a_write_that_timed_out_is_not_duplicated_on_retry(
    fake: FakeDynamics, connect: Connect
) -> None:
    connector = connect(timeout=0.3)
    fake.delay_next(1.0, method="PATCH")  # Dataverse writes the row, the answer comes too late
    with pytest.raises(Transient, match="timed out"):
        connector.upsert(SyncItem(stored_item()))
    assert len(fake.tables["tasks"]) == 1

    ref = connector.upsert(SyncItem(stored_item(title="Send Q3 report today")))

    assert list(fake.tables["tasks"]) == [ref.id]
    assert fake.tables["tasks"][ref.id]["subject"] == "Send Q3 report today"


def test_an_expired_token_is_replaced_not_served_from_msals_cache(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    connector.upsert(SyncItem(stored_item("m1")))
    fake.expire_tokens()

    connector.upsert(SyncItem(stored_item("m2")))

    assert fake.tokens_issued == 2 and len(fake.tables["tasks"]) == 2
    assert fake.calls("PATCH")[-1].headers["authorization"] == "Bearer token-2"


def test_a_wrong_client_secret_is_permanent_with_entras_reason(connect: Connect) -> None:
    connector = connect(client_secret="wrong")
    with pytest.raises(Permanent, match="invalid_client: AADSTS7000215"):
        connector.upsert(SyncItem(stored_item()))


def test_429_is_rate_limited_with_retry_after(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    fake.throttle_next(seconds=5, method="PATCH")
    with pytest.raises(RateLimited, match="0x80072322") as raised:
        connector.upsert(SyncItem(stored_item()))
    assert raised.value.retry_after == 5.0


def test_5xx_is_transient(fake: FakeDynamics, connector: DynamicsConnector) -> None:
    unavailable = {"error": {"code": "0x80040216", "message": "Service unavailable"}}
    fake.fail_next(503, unavailable, method="PATCH")
    with pytest.raises(Transient, match="503: Service unavailable"):
        connector.upsert(SyncItem(stored_item()))


def test_a_validation_error_is_permanent_with_dataverses_message(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    no_start = stored_item(type=ItemType.EVENT, due=None, start=None, end=None)
    with pytest.raises(Permanent, match=r"400: Required field.*scheduledstart.*0x80040203"):
        connector.upsert(SyncItem(no_start))
    assert fake.tables["appointments"] == {}


def test_the_account_is_preferred_as_regarding_else_the_contact(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    acme = fake.add_account("Acme Corp")
    jane = fake.add_contact("Jane O'Neil")
    both = stored_item(
        "m1", entities=(entity("Jane O'Neil", "PERSON"), entity("Acme", "ORG", key="Acme Corp"))
    )
    only_jane = stored_item("m2", entities=(entity("Jane O'Neil", "PERSON"),))

    first = fake.tables["tasks"][connector.upsert(SyncItem(both)).id]
    second = fake.tables["tasks"][connector.upsert(SyncItem(only_jane)).id]

    assert (first["_regardingobjectid_value"], first["_regardingobjectid_target"]) == (
        acme,
        "accounts",
    )
    assert (second["_regardingobjectid_value"], second["_regardingobjectid_target"]) == (
        jane,
        "contacts",
    )
    assert connector.find_account("Initech") is None


def about_acme(key: str = "m1", **changes: object) -> StoredItem:
    """An item that mentions Jane at Acme Corp."""
    mentions = (entity("Jane O'Neil", "PERSON"), entity("Acme", "ORG", key="Acme Corp"))
    return stored_item(key, entities=mentions, **changes)


def regarding(row: dict[str, Any]) -> tuple[str, str]:
    return row["_regardingobjectid_value"], row["_regardingobjectid_target"]


def test_the_accounts_one_open_opportunity_is_preferred_as_regarding(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    acme = fake.add_account("Acme Corp")
    fake.add_contact("Jane O'Neil")
    fake.add_opportunity(acme, statecode=1)  # won: history, not the deal in flight
    deal = fake.add_opportunity(acme)
    fake.add_opportunity(fake.add_account("Initech"))

    ref = connector.upsert(SyncItem(about_acme()))

    assert regarding(fake.tables["tasks"][ref.id]) == (deal, "opportunities")
    assert (
        fake.calls("PATCH")[-1].body["regardingobjectid_opportunity_task@odata.bind"]
        == f"/opportunities({deal})"
    )
    (query,) = fake.calls("GET", "/api/data/v9.2/opportunities")
    assert query.query == {
        "$select": "opportunityid",
        "$filter": f"_parentaccountid_value eq {acme} and statecode eq 0",
        "$top": "2",
    }


@pytest.mark.parametrize(
    ("states", "link_deals"),
    [([0, 0], True), ([1, 2], True), ([0], False)],
    ids=["two open", "only won and lost", "link_deals off"],
)
def test_the_account_is_regarding_without_a_single_open_opportunity_to_link(
    fake: FakeDynamics, connect: Connect, states: list[int], link_deals: bool
) -> None:
    acme = fake.add_account("Acme Corp")
    for state in states:
        fake.add_opportunity(acme, statecode=state)

    ref = connect(link_deals=link_deals).upsert(SyncItem(about_acme()))

    assert regarding(fake.tables["tasks"][ref.id]) == (acme, "accounts")
    asked = fake.calls("GET", "/api/data/v9.2/opportunities")
    assert len(asked) == (1 if link_deals else 0)


def test_an_appointment_is_regarding_the_open_opportunity_too(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    deal = fake.add_opportunity(fake.add_account("Acme Corp"))
    event = about_acme(
        type=ItemType.EVENT,
        due=None,
        start=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        end=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
    )

    ref = connector.upsert(SyncItem(event))

    assert ref.type == "appointments"
    assert regarding(fake.tables["appointments"][ref.id]) == (deal, "opportunities")


def test_the_fake_refuses_a_regarding_opportunity_that_does_not_exist(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    """Like Dataverse, so that the tests above could not pass with a made-up id."""
    missing = "00000000-0000-0000-0000-0000000000ff"
    body = {
        "subject": "x",
        "regardingobjectid_opportunity_task@odata.bind": f"/opportunities({missing})",
    }
    with pytest.raises(Permanent, match=f"400: opportunity With Id = {missing} Does Not Exist"):
        connector.api.request("PATCH", f"tasks({stored_item().external_id})", json=body)
    assert fake.tables["tasks"] == {}


def test_changes_made_in_dynamics_flow_back(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    item = stored_item()
    ref = connector.upsert(SyncItem(item))
    _, cursor = connector.changes_since(None)

    fake.edit(
        "tasks",
        ref.id,
        statecode=1,
        statuscode=5,
        scheduledend="2026-12-01T09:30:00Z",
        _ownerid_value=JOHN,
    )
    changes, cursor = connector.changes_since(cursor)

    (change,) = changes
    assert change.remote == RemoteRef(ref.id, "tasks", 'W/"2"')
    assert change.external_id == item.external_id
    assert change.status is ItemStatus.DONE
    assert change.due == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert change.assignee == "John Smith"
    assert connector.changes_since(cursor) == ([], cursor)


def test_changes_follow_next_links_across_tables(
    fake: FakeDynamics, connector: DynamicsConnector
) -> None:
    fake.page_size = 2
    tasks = {connector.upsert(SyncItem(stored_item(f"m{n}"))).id for n in range(3)}
    event = stored_item(
        "e1",
        type=ItemType.EVENT,
        start=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        end=datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
    )
    appointment = connector.upsert(SyncItem(event)).id

    changes, _ = connector.changes_since(None)

    assert {c.remote.id for c in changes} == {*tasks, appointment}
    assert next(c for c in changes if c.remote.id == appointment).start == event.start


def test_check_runs_whoami_and_finds_the_mapped_columns(connector: DynamicsConnector) -> None:
    checked = connector.check()
    assert checked[0] == f"Dynamics 365: signed in as application user {APP_USER}"
    assert "table 'appointment'" in checked[2]


# -- upserting by an alternate key ----------------------------------------------------------

KEYED_PATCH = f"/api/data/v9.2/tasks({KEY_COLUMN}='{{}}')"


@pytest.fixture
def keyed(fake: FakeDynamics, connect: Connect) -> DynamicsConnector:
    """A connector upserting by ``c2t_externalid``, an alternate key on both tables."""
    fake.add_key("task")
    fake.add_key("appointment")
    return connect(alternate_key=KEY_COLUMN)


def test_an_alternate_key_upsert_is_not_duplicated_on_retry_and_keeps_dataverses_guid(
    fake: FakeDynamics, connect: Connect
) -> None:
    fake.add_key("task")
    connector = connect(alternate_key=KEY_COLUMN, timeout=0.3)
    item = stored_item()
    fake.delay_next(1.0, method="PATCH")  # Dataverse creates the row, the answer comes too late
    with pytest.raises(Transient, match="timed out"):
        connector.upsert(SyncItem(item))

    ref = connector.upsert(SyncItem(stored_item(title="Send Q3 report today")))

    (guid,) = fake.tables["tasks"]
    assert ref == RemoteRef(guid, "tasks", 'W/"2"')
    assert guid != item.external_id and uuid.UUID(guid)
    row = fake.tables["tasks"][guid]
    assert (row[KEY_COLUMN], row["subject"]) == (item.external_id, "Send Q3 report today")
    patches = fake.calls("PATCH")
    assert [p.path for p in patches] == [KEYED_PATCH.format(item.external_id)] * 2
    assert not any(KEY_COLUMN in p.body or "if-match" in p.headers for p in patches)


def test_once_linked_a_keyed_record_is_written_at_its_guid(
    fake: FakeDynamics, keyed: DynamicsConnector
) -> None:
    """The state change of a new, already done item goes to the GUID just read back too."""
    item = stored_item(status=ItemStatus.DONE)
    ref = keyed.upsert(SyncItem(item))
    keyed.upsert(SyncItem(stored_item(title="Send it again"), link=ref))  # reopened

    row = fake.tables["tasks"][ref.id]
    assert (row["statecode"], row["subject"]) == (0, "Send it again")
    paths = [p.path for p in fake.calls("PATCH")]
    assert paths == [KEYED_PATCH.format(item.external_id)] + [f"/api/data/v9.2/tasks({ref.id})"] * 3


def test_a_quote_in_the_external_id_is_doubled_in_the_key_literal(
    fake: FakeDynamics, keyed: DynamicsConnector
) -> None:
    item = stored_item(external_id="o'brien-1")
    first = keyed.upsert(SyncItem(item))
    again = keyed.upsert(SyncItem(item))

    assert again.id == first.id and fake.tables["tasks"][first.id][KEY_COLUMN] == "o'brien-1"
    assert fake.calls("PATCH")[0].path == KEYED_PATCH.format("o''brien-1")


def test_an_alternate_key_dataverse_does_not_have_is_permanent_and_named(
    fake: FakeDynamics, connect: Connect
) -> None:
    connector = connect(alternate_key=KEY_COLUMN)
    with pytest.raises(
        Permanent, match=r"table 'task' has no alternate key on column 'c2t_externalid'"
    ) as raised:
        connector.upsert(SyncItem(stored_item()))
    assert "0x80060888" in str(raised.value.__cause__)
    assert fake.tables["tasks"] == {}


def test_changes_to_keyed_rows_carry_the_items_external_id(
    fake: FakeDynamics, keyed: DynamicsConnector
) -> None:
    item = stored_item()
    ref = keyed.upsert(SyncItem(item))
    theirs = str(uuid.uuid4())  # a task made in Dynamics: no key value
    keyed.api.request("PATCH", f"tasks({theirs})", json={"subject": "Call Jane"})

    changes, _ = keyed.changes_since(None)

    assert {(c.remote.id, c.external_id) for c in changes} == {
        (ref.id, item.external_id),
        (theirs, None),
    }


def test_check_finds_the_alternate_key_on_both_tables(keyed: DynamicsConnector) -> None:
    checked = keyed.check()
    assert "task: alternate key 'c2t_externalid'" in checked
    assert "appointment: alternate key 'c2t_externalid'" in checked


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        (None, "has no alternate key on column 'c2t_externalid'"),
        ("Pending", "alternate key on column 'c2t_externalid' is Pending, not Active"),
    ],
    ids=["missing", "index not built"],
)
def test_check_names_the_table_without_a_usable_alternate_key(
    fake: FakeDynamics, connect: Connect, status: str | None, problem: str
) -> None:
    fake.add_key("task")
    if status:
        fake.add_key("appointment", status=status)
    with pytest.raises(ConnectorConfigError, match=rf"table 'appointment'\W+(the )?{problem}"):
        connect(alternate_key=KEY_COLUMN).check()


def test_the_registry_builds_it_with_the_secret_from_the_environment(
    fake: FakeDynamics, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ConnectorSettings(type="dynamics", options=options(fake))
    monkeypatch.delenv("CHAT2TASK_D365_CLIENT_SECRET", raising=False)
    with pytest.raises(ConnectorConfigError, match="CHAT2TASK_D365_CLIENT_SECRET"):
        create_connector("d365", settings)

    monkeypatch.setenv("CHAT2TASK_D365_CLIENT_SECRET", CLIENT_SECRET)
    connector = create_connector("d365", settings)

    assert isinstance(connector, DynamicsConnector)
    ref = connector.upsert(SyncItem(stored_item()))
    assert ref.id in fake.tables["tasks"]
    assert CLIENT_SECRET not in repr(connector.options)
