"""The sync engine, its jobs and its commands against an in-memory CRM and a real SQLite store.

:class:`MemoryCRM` stands in for an external system: its records live in a module-level
account (so the CLI, which builds its own connector, sees the same data) and tests queue
failures and remote changes on it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from huey import MemoryHuey
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner, Result

from connectors.base import Connector, RemoteChange, RemoteRef, SyncItem
from connectors.errors import AuthExpired, Permanent, RateLimited, RemoteNotFound, Transient
from connectors.mapping import DEFAULT_MAPPINGS
from pipeline import registry
from pipeline.cli import app
from pipeline.config import ConnectorSettings, QueueSettings, Settings
from pipeline.domain import Item, ItemType, Message, Priority
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.storage import ItemStatus, Store, item_sync
from pipeline.storage.item_sync import SyncKey, SyncState
from pipeline.sync import engine as engine_module
from pipeline.sync import item_changed
from pipeline.sync.engine import Outcome, SyncEngine
from tests.fakes.hubspot import JOHN, SARAH, TOKEN, FakeHubSpot
from tests.fakes.rest_server import serve

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MAPPING = {
    "task": {
        "object": "Task",
        "fields": {
            "Subject": "title",
            "Body": "description",
            "Due": "due",
            "Status": "status",
            "Owner": "owner",
            "Key": "external_id",
        },
        "values": {"status": {"open": "Open", "done": "Completed", "cancelled": "Deferred"}},
    },
    "event": {"object": "Meeting", "fields": {"Subject": "title", "Start": "start"}},
    "owners": {"Sarah Cole": "u-1", "John Smith": "u-2"},
}


# -- the in-memory CRM -----------------------------------------------------------------------


@dataclass
class Account:
    """One CRM account's records, plus the failures and remote changes a test queued."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    changes: list[RemoteChange] = field(default_factory=list)
    upserts: int = 0
    refreshes: int = 0
    #: Runs inside the next upsert (something happening while a push is in flight).
    before_upsert: Callable[[], None] | None = None
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


ACCOUNTS: dict[str, Account] = {}


class MemoryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str
    password: str = "right"


class MemoryCRM(Connector):
    """A CRM that keeps its records in :data:`ACCOUNTS`; upserts by external id like
    Salesforce or HubSpot do, so a repeated push updates the same record."""

    Options = MemoryOptions

    @property
    def account(self) -> Account:
        options = self.options
        assert isinstance(options, MemoryOptions)
        return ACCOUNTS[options.account]

    def upsert(self, item: SyncItem) -> RemoteRef:
        if self.account.failures:
            raise self.account.failures.pop(0)
        if self.account.before_upsert is not None:
            self.account.before_upsert()
        self.account.upserts += 1
        fields = self.mapping.render(item.item, item.text, UTC)
        if item.link is not None:
            if item.link.id not in self.account.records:
                raise RemoteNotFound(f"memory answered 404: no record {item.link.id}")
            remote_id = item.link.id
        else:
            remote_id = next(
                (k for k, r in self.account.records.items() if r["Key"] == fields["Key"]),
                f"T{next(self.account.ids)}",
            )
        version = self.account.records.get(remote_id, {}).get("version", 0) + 1
        self.account.records[remote_id] = {**fields, "version": version}
        return RemoteRef(remote_id, self.mapping.object_for(item.item), str(version))

    def refresh_auth(self) -> None:
        self.account.refreshes += 1

    def find_contact(self, name: str) -> RemoteRef | None:
        return None

    def find_account(self, name: str) -> RemoteRef | None:
        return None

    def changes_since(self, cursor: str | None) -> tuple[list[RemoteChange], str]:
        seen = int(cursor or 0)
        return self.account.changes[seen:], str(len(self.account.changes))

    def check(self) -> list[str]:
        options = self.options
        assert isinstance(options, MemoryOptions)
        if options.password != "right":
            raise Permanent("memory answered 403: INVALID_LOGIN")
        return ["login", "Task fields", "Meeting fields"]


registry.connectors.register("test-memory", func=MemoryCRM)


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def account(request: pytest.FixtureRequest) -> Iterator[tuple[str, Account]]:
    name = request.node.name
    ACCOUNTS[name] = Account()
    yield name, ACCOUNTS[name]
    del ACCOUNTS[name]


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "memory.yaml"
    path.write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path, mapping_file: Path, account: tuple[str, Account]) -> Settings:
    connector = ConnectorSettings(
        type="test-memory", mapping=mapping_file, options={"account": account[0]}
    )
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'sync.db'}",
        queue=QueueSettings(max_attempts=3, backoff_seconds=1.0),
        connectors={"crm": connector},
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings.database_url) as opened:
        yield opened


@pytest.fixture
def crm(account: tuple[str, Account]) -> Account:
    return account[1]


@pytest.fixture
def engine(settings: Settings, store: Store) -> SyncEngine:
    return SyncEngine(settings, store)


def add_items(store: Store, *titles: str, tenant: str = "default") -> list[int]:
    """One task per title, each from its own message (whose text is ``please <title>``)."""
    batch = []
    for title in titles:
        message = Message(id=title, chat="Acme", author="Sarah Cole", sent_at=T0, text=title)
        item = Item(
            type=ItemType.TASK,
            title=title,
            priority=Priority.NORMAL,
            confidence=0.9,
            message_id=message.id,
            due=T0 + timedelta(days=4),
            assignee="Sarah Cole",
        )
        batch.append((message, [item]))
    store.ingest(batch, extractor_version="test", tenant=tenant)
    stored = store.list_items(tenant=tenant, status=None)
    by_title = {item.title: item.id for item in stored}
    return [by_title[title] for title in titles]


def queue_all(store: Store, item_ids: list[int], tenant: str = "default") -> None:
    item_sync.mark_pending(store, tenant=tenant, item_ids=item_ids, connectors=["crm"])


def row(store: Store, item_id: int, tenant: str = "default") -> item_sync.SyncRow:
    found = item_sync.get(store, SyncKey(tenant, item_id, "crm"))
    assert found is not None
    return found


def later(monkeypatch: pytest.MonkeyPatch, hours: float) -> None:
    """Move the engine's clock forward, so backed-off rows become due."""
    moment = datetime.now(UTC) + timedelta(hours=hours)
    monkeypatch.setattr(engine_module, "_now", lambda: moment)


# -- push ------------------------------------------------------------------------------------


def test_pending_item_is_pushed_once_and_linked(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Send the Q3 report")
    queue_all(store, [item_id])
    assert row(store, item_id).state is SyncState.PENDING

    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}

    synced = row(store, item_id)
    assert synced.state is SyncState.SYNCED and synced.attempts == 0
    assert synced.link == RemoteRef("T1", "Task", "1")
    record = crm.records["T1"]
    assert record["Subject"] == "Send the Q3 report"
    assert record["Body"] == "Send the Q3 report"  # the origin message's text
    assert record["Owner"] == "u-1" and record["Status"] == "Open"
    assert item_sync.links_for(store, [item_id], tenant="default") == {
        item_id: [("crm", RemoteRef("T1", "Task", "1"))]
    }

    # Marked again without a change (a chat command that changed nothing): not sent twice.
    queue_all(store, [item_id])
    assert engine.push(tenant="default", item_id=item_id, connector_name="crm") is Outcome.SKIPPED
    assert crm.upserts == 1 and row(store, item_id).state is SyncState.SYNCED
    # Already synced: a duplicate job finds nothing to do.
    assert engine.push(tenant="default", item_id=item_id, connector_name="crm") is None


def test_an_edit_updates_the_same_remote_record(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Send the Q3 report")
    queue_all(store, [item_id])
    engine.push_due()
    new_due = T0 + timedelta(days=7)
    store.update_item(item_id, {"status": "done", "due": new_due}, tenant="default")
    queue_all(store, [item_id])

    assert engine.push(tenant="default", item_id=item_id, connector_name="crm") is Outcome.PUSHED

    assert list(crm.records) == ["T1"]
    assert crm.records["T1"]["Status"] == "Completed"
    assert crm.records["T1"]["Due"] == "2026-11-30T10:00:00Z"
    assert row(store, item_id).remote_version == "2"


def test_rate_limits_and_outages_back_off_then_go_dead(
    engine: SyncEngine, store: Store, crm: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    [item_id] = add_items(store, "Call Globex")
    queue_all(store, [item_id])
    crm.failures = [
        RateLimited("memory answered 429: daily limit", retry_after=120),
        Transient("memory answered 503: maintenance"),
        Transient("memory answered 503: still maintenance"),
    ]
    before = datetime.now(UTC)

    assert engine.push_due() == {"crm": {Outcome.RETRYING: 1}}
    waiting = row(store, item_id)
    assert waiting.state is SyncState.PENDING and waiting.attempts == 1
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at >= before + timedelta(seconds=120)  # Retry-After honoured
    assert "daily limit" in (waiting.last_error or "")
    assert engine.push_due() == {"crm": {}}  # not due yet

    later(monkeypatch, 1)
    assert engine.push_due() == {"crm": {Outcome.RETRYING: 1}}
    later(monkeypatch, 2)
    assert engine.push_due() == {"crm": {Outcome.DEAD: 1}}

    dead = row(store, item_id)
    assert dead.state is SyncState.DEAD and dead.attempts == 3
    assert dead.last_error == "[C2T512] memory answered 503: still maintenance"
    assert item_sync.list_dead(store, tenant="default") == [dead]
    assert crm.upserts == 0


def test_permanent_refusal_is_dead_at_once_and_retry_dead_revives_it(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Renew the Initech NDA")
    queue_all(store, [item_id])
    crm.failures = [Permanent("memory answered 400: Subject: value too long")]

    assert engine.push_due() == {"crm": {Outcome.DEAD: 1}}
    assert row(store, item_id).last_error == "[C2T520] memory answered 400: Subject: value too long"
    assert row(store, item_id).attempts == 1

    assert item_sync.revive_dead(store, tenant="default") == 1
    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}
    assert row(store, item_id).state is SyncState.SYNCED
    assert item_sync.list_dead(store, tenant="default") == []


def test_expired_token_is_refreshed_once_within_the_push(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Book the venue")
    queue_all(store, [item_id])
    crm.failures = [AuthExpired("memory answered 401: INVALID_SESSION_ID")]

    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}
    assert crm.refreshes == 1 and row(store, item_id).attempts == 0


def test_a_record_deleted_in_the_crm_is_created_again(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Book the venue")
    queue_all(store, [item_id])
    engine.push_due()
    del crm.records["T1"]
    store.update_item(item_id, {"title": "Book the bigger venue"}, tenant="default")
    queue_all(store, [item_id])

    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}
    assert row(store, item_id).link == RemoteRef("T2", "Task", "1")
    assert crm.records["T2"]["Subject"] == "Book the bigger venue"


def test_an_edit_during_a_push_is_not_lost(engine: SyncEngine, store: Store, crm: Account) -> None:
    [item_id] = add_items(store, "Book the venue")
    queue_all(store, [item_id])

    def edit() -> None:  # what a chat command and its item_changed do meanwhile
        crm.before_upsert = None
        store.update_item(item_id, {"title": "Book the bigger venue"}, tenant="default")
        queue_all(store, [item_id])

    crm.before_upsert = edit
    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}

    assert row(store, item_id).state is SyncState.PENDING
    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}
    assert crm.records["T1"]["Subject"] == "Book the bigger venue"


# -- pull ------------------------------------------------------------------------------------


def synced_item(engine: SyncEngine, store: Store, title: str, tenant: str = "default") -> int:
    [item_id] = add_items(store, title, tenant=tenant)
    queue_all(store, [item_id], tenant=tenant)
    engine.push_due(tenant=tenant)
    return item_id


def test_pull_applies_completion_due_move_and_reassignment(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    item_id = synced_item(engine, store, "Send the Q3 report")
    moved = T0 + timedelta(days=10)
    crm.changes.append(
        RemoteChange(
            remote=RemoteRef("T1", "Task", "7"),
            changed_at=datetime.now(UTC) + timedelta(seconds=1),
            status=ItemStatus.DONE,
            due=moved,
            assignee="John Smith",
        )
    )

    assert engine.pull("default", "crm") == 1

    item = store.get_item(item_id)
    assert (item.status, item.due, item.assignee) == (ItemStatus.DONE, moved, "John Smith")
    assert item_sync.get_cursor(store, tenant="default", connector="crm") == "1"
    assert row(store, item_id).remote_version == "7"
    # The same batch is not fetched again.
    assert engine.pull("default", "crm") == 0


def test_a_pulled_change_is_not_pushed_back(engine: SyncEngine, store: Store, crm: Account) -> None:
    item_id = synced_item(engine, store, "Send the Q3 report")
    crm.changes.append(
        RemoteChange(
            remote=RemoteRef("T1", "Task", "2"),
            changed_at=datetime.now(UTC) + timedelta(seconds=1),
            status=ItemStatus.DONE,
        )
    )
    engine.pull("default", "crm")

    # Both ways the item can be queued again: the hook and the CLI's catch-up.
    queue_all(store, [item_id])
    item_sync.mark_stale(store, tenant="default", connectors=["crm"])
    assert engine.push_due() == {"crm": {Outcome.SKIPPED: 1}}
    assert crm.upserts == 1


def test_pull_ignores_our_own_echo_and_older_changes(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    item_id = synced_item(engine, store, "Send the Q3 report")
    crm.changes += [
        # Our push, reported back with the version it produced.
        RemoteChange(
            RemoteRef("T1", "Task", "1"), datetime.now(UTC) + timedelta(1), status=ItemStatus.DONE
        ),
        # A change made before our push, which overwrote it.
        RemoteChange(
            RemoteRef("T1", "Task", "0"), T0 - timedelta(days=1), status=ItemStatus.CANCELLED
        ),
    ]

    assert engine.pull("default", "crm") == 0
    assert store.get_item(item_id).status is ItemStatus.OPEN


def test_a_newer_unpushed_local_edit_beats_an_older_remote_change(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    item_id = synced_item(engine, store, "Send the Q3 report")
    changed_in_crm = datetime.now(UTC)  # after our push, before the local edit
    store.update_item(item_id, {"title": "Send the Q4 report"}, tenant="default")
    queue_all(store, [item_id])
    crm.changes.append(
        RemoteChange(RemoteRef("T1", "Task", "5"), changed_in_crm, status=ItemStatus.DONE)
    )

    assert engine.pull("default", "crm") == 0
    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}
    assert crm.records["T1"]["Subject"] == "Send the Q4 report"
    assert store.get_item(item_id).status is ItemStatus.OPEN


def test_a_remote_change_after_an_unpushed_local_edit_merges_with_it(
    engine: SyncEngine, store: Store, crm: Account
) -> None:
    item_id = synced_item(engine, store, "Send the Q3 report")
    store.update_item(item_id, {"title": "Send the Q4 report"}, tenant="default")
    queue_all(store, [item_id])
    crm.changes.append(
        RemoteChange(
            RemoteRef("T1", "Task", "5"), datetime.now(UTC) + timedelta(1), status=ItemStatus.DONE
        )
    )

    assert engine.pull("default", "crm") == 1
    assert engine.push_due() == {"crm": {Outcome.PUSHED: 1}}  # the title still goes out
    assert crm.records["T1"]["Subject"] == "Send the Q4 report"
    assert crm.records["T1"]["Status"] == "Completed"


# -- tenants ---------------------------------------------------------------------------------


def test_tenants_never_see_each_other(engine: SyncEngine, store: Store, crm: Account) -> None:
    [ours] = add_items(store, "Send the Q3 report", tenant="acme")
    [theirs] = add_items(store, "Send the Q3 report", tenant="globex")

    assert item_sync.mark_pending(store, tenant="acme", item_ids=[theirs], connectors=["crm"]) == 0
    queue_all(store, [ours], tenant="acme")
    queue_all(store, [theirs], tenant="globex")
    assert engine.push_due(tenant="acme") == {"crm": {Outcome.PUSHED: 1}}
    assert row(store, theirs, tenant="globex").state is SyncState.PENDING
    assert item_sync.links_for(store, [ours, theirs], tenant="globex") == {}

    crm.changes.append(
        RemoteChange(
            RemoteRef("T1", "Task", "9"), datetime.now(UTC) + timedelta(1), status=ItemStatus.DONE
        )
    )
    assert engine.pull("globex", "crm") == 0
    assert store.get_item(ours, tenant="acme").status is ItemStatus.OPEN
    assert item_sync.get_cursor(store, tenant="acme", connector="crm") is None
    assert engine.pull("acme", "crm") == 1


# -- jobs ------------------------------------------------------------------------------------


def job_queue(settings: Settings, store: Store) -> JobQueue:
    return JobQueue(JobContext(settings, store), huey=MemoryHuey("sync-test"))


def test_item_changed_pushes_through_the_queue_and_recovers_after_a_crash(
    settings: Settings, store: Store, crm: Account
) -> None:
    first, second = add_items(store, "Send the Q3 report", "Call Globex")
    queue = job_queue(settings, store)

    item_changed(queue.context, queue, "default", [first, second])
    queue.huey.flush()  # the worker died: its queued jobs are gone, the rows are not
    assert row(store, first).state is SyncState.PENDING

    queue.recover()  # what every worker does at start-up and every minute
    queue.drain()

    assert {row(store, i).state for i in (first, second)} == {SyncState.SYNCED}
    assert crm.upserts == 2
    # The recover also polled the CRM for this tenant, and saved where it left off.
    assert item_sync.get_cursor(store, tenant="default", connector="crm") == "0"


def test_the_pull_job_applies_remote_changes(
    settings: Settings, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Send the Q3 report")
    queue = job_queue(settings, store)
    item_changed(queue.context, queue, "default", [item_id])
    queue.drain()
    crm.changes.append(
        RemoteChange(
            RemoteRef("T1", "Task", "3"), datetime.now(UTC) + timedelta(1), assignee="John Smith"
        )
    )

    queue.submit("crm_pull", {"connector": "crm"}, tenant="default")
    queue.drain()

    assert store.get_item(item_id).assignee == "John Smith"


def test_item_changed_is_a_no_op_without_connectors(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}")
    with Store.open(settings.database_url) as store:
        [item_id] = add_items(store, "Send the Q3 report")
        queue = job_queue(settings, store)
        item_changed(queue.context, queue, "default", [item_id])
        assert queue.depth() == 0
        assert item_sync.links_for(store, [item_id], tenant="default") == {}


# -- commands --------------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, settings: Settings, account: tuple[str, Account]) -> Path:
    path = tmp_path / "config.yaml"
    config = {
        "database_url": settings.database_url,
        "queue": {"max_attempts": 2},
        "connectors": {
            "crm": {
                "type": "test-memory",
                "mapping": "memory.yaml",
                "options": {"account": account[0]},
            }
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_sync_command_pushes_new_and_changed_items_and_reports(
    config_file: Path, store: Store, crm: Account
) -> None:
    first, second = add_items(store, "Send the Q3 report", "Call Globex")  # a CLI import

    pushed = cli("sync", "--config", str(config_file))
    assert pushed.exit_code == 0, pushed.output
    assert "│ crm       │      2 │       0 │        0 │    0 │" in pushed.output
    assert {r["Subject"] for r in crm.records.values()} == {"Send the Q3 report", "Call Globex"}

    store.update_item(first, {"status": "done"}, tenant="default")
    crm.failures = [Permanent("memory answered 400: Status is read-only")]
    failed = cli("sync", "--config", str(config_file), "--connector", "crm")
    assert failed.exit_code == 1
    assert "│ crm       │      0 │       0 │        0 │    1 │" in failed.output
    assert f"item {first} → crm: [C2T520] memory answered 400: Status is read-only" in failed.output

    revived = cli("sync", "--config", str(config_file), "--retry-dead")
    assert revived.exit_code == 0, revived.output
    assert "│ crm       │      1 │       0 │        0 │    0 │" in revived.output
    assert row(store, second).state is SyncState.SYNCED


def test_sync_pull_command_applies_remote_changes(
    config_file: Path, store: Store, crm: Account
) -> None:
    [item_id] = add_items(store, "Send the Q3 report")
    assert cli("sync", "--config", str(config_file)).exit_code == 0
    crm.changes.append(
        RemoteChange(
            RemoteRef("T1", "Task", "2"), datetime.now(UTC) + timedelta(1), status=ItemStatus.DONE
        )
    )

    pulled = cli("sync", "--config", str(config_file), "--pull")

    assert pulled.exit_code == 0, pulled.output
    # pulled 1, then the item is re-checked and found equal to the CRM's record
    assert "│ crm       │      1 │      0 │       1 │        0 │    0 │" in pulled.output
    assert store.get_item(item_id).status is ItemStatus.DONE


def test_connectors_list_shows_configured_and_installed_types(config_file: Path) -> None:
    listed = cli("connectors", "list", "--config", str(config_file))

    assert listed.exit_code == 0, listed.output
    assert "│ crm  │ test-memory │ yes     │ yes       │" in listed.output
    for installed in ("test-memory", "salesforce", "hubspot", "pipedrive", "dynamics"):
        assert f"│ {installed}" in listed.output


def test_connectors_check_reports_each_connector(config_file: Path, tmp_path: Path) -> None:
    checked = cli("connectors", "check", "--config", str(config_file))
    assert checked.exit_code == 0, checked.output
    assert "✓ crm: login, Task fields, Meeting fields" in checked.output

    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["connectors"]["crm"]["options"]["password"] = "wrong"
    config["connectors"]["typo"] = {"type": "memroy"}
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")

    failed = cli("connectors", "check", "--config", str(config_file))
    assert failed.exit_code == 1
    assert "✗ crm: [C2T520] memory answered 403: INVALID_LOGIN" in failed.output
    assert "✗ typo: [C2T500] connector 'typo': unknown type 'memroy'" in failed.output


# -- end to end with HubSpot -----------------------------------------------------------------


def test_hubspot_round_trip_through_the_cli(
    tmp_path: Path, store: Store, settings: Settings
) -> None:
    """Item → HubSpot (its real SDK, a fake portal) → a user completes, reassigns and
    reschedules it there → ``sync --pull`` brings that back, and nothing is pushed again."""
    mapping = yaml.safe_load((DEFAULT_MAPPINGS / "hubspot.yaml").read_text(encoding="utf-8"))
    mapping["owners"] = {"Sarah Cole": SARAH, "John Smith": JOHN}
    (tmp_path / "hubspot.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    [item_id] = add_items(store, "Send the Q3 report")
    external = store.get_item(item_id).external_id
    portal = FakeHubSpot()
    with serve(portal):
        config = tmp_path / "hubspot-config.yaml"
        options = {"access_token": TOKEN, "host": portal.base_url, "timeout": 5}
        connector = {"type": "hubspot", "mapping": "hubspot.yaml", "options": options}
        config.write_text(
            yaml.safe_dump(
                {"database_url": settings.database_url, "connectors": {"hubspot": connector}}
            ),
            encoding="utf-8",
        )
        pushed = cli("sync", "--config", str(config))
        assert pushed.exit_code == 0, pushed.output
        (record,) = portal.by_id_property("tasks", external)
        assert record["hs_task_subject"] == "Send the Q3 report"
        assert record["hubspot_owner_id"] == SARAH

        moved = T0 + timedelta(days=9)
        portal.edit(
            "tasks",
            record["hs_object_id"],
            hs_task_status="COMPLETED",
            hubspot_owner_id=JOHN,
            hs_timestamp=str(int(moved.timestamp() * 1000)),
        )
        pulled = cli("sync", "--config", str(config), "--pull")

    assert pulled.exit_code == 0, pulled.output
    # pulled, then found equal to the HubSpot record: skipped, not pushed back
    assert "│ hubspot   │      1 │      0 │       1 │        0 │    0 │" in pulled.output
    item = store.get_item(item_id)
    assert (item.status, item.assignee, item.due) == (ItemStatus.DONE, "John Smith", moved)
    assert len(portal.calls("POST", "/crm/v3/objects/tasks/batch/upsert")) == 1
    assert item_sync.get_cursor(store, tenant="default", connector="hubspot")
