"""Storage behaves the same on SQLite and PostgreSQL (every test runs on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect

from pipeline.domain import (
    Attachment,
    Entity,
    Grain,
    Item,
    ItemType,
    Message,
    MessageKind,
    Priority,
    content_id,
)
from pipeline.errors import InputError, StorageError
from pipeline.storage import ItemStatus, Store, external_id
from pipeline.storage.engine import alembic_config
from pipeline.storage.tables import Base

KOLKATA = ZoneInfo("Asia/Kolkata")
T0 = datetime(2024, 3, 4, 9, 30, tzinfo=KOLKATA)


def message(key: str, text: str = "please send the invoice", **fields: object) -> Message:
    values: dict[str, object] = {"chat": "Acme", "author": "Ravi", "sent_at": T0, "text": text}
    values.update(fields)
    return Message(id=key, **values)  # type: ignore[arg-type]


def item(of: Message, index: int = 0, title: str = "Send the invoice", **fields: object) -> Item:
    values: dict[str, object] = {
        "type": ItemType.TASK,
        "title": title,
        "priority": Priority.NORMAL,
        "confidence": 0.9,
    }
    values.update(fields)
    return Item(message_id=of.id, index=index, **values)  # type: ignore[arg-type]


def engine_of(store: Store) -> Engine:
    return store._engine


# -- schema ----------------------------------------------------------------------------------


def test_migrate_from_empty_then_again_is_a_no_op(db_url: str) -> None:
    with Store.open(db_url, migrate=False) as store:
        assert inspect(engine_of(store)).get_table_names() == []
        store.migrate()
        store.migrate()
        with engine_of(store).connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            head = ScriptDirectory.from_config(alembic_config(conn)).get_current_head()
        tables = set(inspect(engine_of(store)).get_table_names())
    assert current == head
    assert {"messages", "items", "item_messages", "import_runs"} <= tables


def test_models_match_migrations(store: Store) -> None:
    with engine_of(store).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    # Autogenerate ignores constraint names; later migrations rely on them.
    inspector = inspect(engine_of(store))
    for table in Base.metadata.sorted_tables:
        expected = {c.name for c in table.constraints} | {i.name for i in table.indexes}
        found = {
            inspector.get_pk_constraint(table.name)["name"],
            *(c["name"] for c in inspector.get_unique_constraints(table.name)),
            *(c["name"] for c in inspector.get_check_constraints(table.name)),
            *(c["name"] for c in inspector.get_foreign_keys(table.name)),
            *(i["name"] for i in inspector.get_indexes(table.name)),
        }
        # SQLite does not keep primary key names.
        assert expected - {f"pk_{table.name}"} <= found, table.name


# -- messages --------------------------------------------------------------------------------


def test_saving_the_same_messages_twice_inserts_nothing_new(store: Store) -> None:
    batch = [message("m1"), message("m2", "second"), message("m1")]
    first = store.save_messages(batch)
    second = store.save_messages(batch[:2])
    assert (first.inserted, first.existing) == (2, 1)
    assert (second.inserted, second.existing) == (0, 2)
    assert second.ids == first.ids
    assert store.counts()["messages"] == 2


def test_same_key_in_another_chat_or_tenant_is_another_message(store: Store) -> None:
    store.save_messages([message("m1"), message("m1", chat="Other")])
    store.save_messages([message("m1")], tenant="acme")
    assert store.counts()["messages"] == 2
    assert store.counts(tenant="acme")["messages"] == 1


def test_identical_texts_in_the_same_minute_are_both_kept(store: Store) -> None:
    ids = [content_id("Acme", "Ravi", T0, "ok", ordinal) for ordinal in (0, 1)]
    result = store.save_messages([message(key, "ok") for key in ids])
    assert result.inserted == 2
    pending = store.pending_messages(extractor_version="v1")
    assert [m.id for m in pending] == ids


def test_aware_datetimes_round_trip_in_their_zone(store: Store) -> None:
    offset = timezone(timedelta(hours=-3, minutes=-30))
    sent = [
        message("kolkata", sent_at=datetime(2024, 3, 31, 1, 30, tzinfo=KOLKATA)),
        message("fixed", sent_at=datetime(2024, 12, 31, 23, 59, 59, 123456, tzinfo=offset)),
        message("utc", sent_at=datetime(2024, 1, 1, tzinfo=UTC)),
    ]
    due = datetime(2024, 3, 31, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # just after DST
    store.ingest([(sent[0], [item(sent[0], due=due)])], extractor_version="v0")
    store.save_messages(sent[1:])

    back = store.pending_messages(extractor_version="v1")
    assert back == sent
    assert [m.sent_at.utcoffset() for m in back] == [m.sent_at.utcoffset() for m in sent]
    assert isinstance(back[0].sent_at.tzinfo, ZoneInfo)
    assert back[0].sent_at.tzinfo.key == "Asia/Kolkata"
    (stored,) = store.list_items()
    assert stored.due == due
    assert stored.due is not None and stored.due.tzinfo is UTC
    assert stored.created_at.tzinfo is UTC


def test_unicode_round_trips(store: Store) -> None:
    text = "Réunion 📅 demain 10:00\u202fAM — تسليم الفاتورة — שלח חשבונית 👍🏽"
    sent = message("u1", text, chat="Équipe 🚚", author="مريم", reply_to="ref‏1")
    entity = Entity("مريم", "PERSON", 0, 4, key="crm:👤")
    store.ingest([(sent, [item(sent, title=text, entities=(entity,))])], extractor_version="v1")
    assert store.pending_messages(extractor_version="v2") == [sent]
    (stored,) = store.list_items(chat="Équipe 🚚")
    assert (stored.title, stored.entities, stored.chat) == (text, (entity,), "Équipe 🚚")


def test_message_fields_round_trip(store: Store) -> None:
    sent = message(
        "media",
        "",
        kind=MessageKind.MEDIA,
        attachments=(Attachment("IMG-1.jpg", "image/jpeg"), Attachment(uri="https://x/y")),
        edited=True,
        source="webhook",
        line=42,
        author=None,
    )
    store.save_messages([sent])
    assert store.pending_messages(extractor_version="v1") == [sent]


# -- items -----------------------------------------------------------------------------------


def test_replace_items_updates_in_place_and_removes_stale(store: Store) -> None:
    sent = message("m1")
    first = store.replace_items(
        sent, [item(sent, 0), item(sent, 1, "Call Ravi")], extractor_version="v1"
    )
    before = {i.title: i for i in store.list_items()}
    store.set_status(before["Send the invoice"].id, "done")

    second = store.replace_items(
        sent,
        [item(sent, 0, "Send the final invoice", priority=Priority.HIGH)],
        extractor_version="v2",
    )

    assert (first.created, first.updated, first.removed) == (2, 0, 0)
    assert (second.created, second.updated, second.removed) == (0, 1, 1)
    (after,) = store.list_items(status=None)
    kept = before["Send the invoice"]
    assert (after.id, after.external_id) == (kept.id, kept.external_id)
    assert after.external_id == external_id(sent, 0)
    assert (after.title, after.priority, after.extractor_version) == (
        "Send the final invoice",
        Priority.HIGH,
        "v2",
    )
    assert after.status is ItemStatus.DONE  # a user's decision survives re-extraction
    assert after.created_at == kept.created_at and after.updated_at > kept.updated_at
    assert after.message_keys == ("m1",) and (after.source, after.chat) == (sent.source, "Acme")


def test_re_extracting_the_same_items_touches_nothing(store: Store) -> None:
    sent = message("m1")
    found = [item(sent, 0, entities=(Entity("Ravi", "PERSON", 0, 4),))]
    store.replace_items(sent, found, extractor_version="v1")
    (before,) = store.list_items()
    changes = store.replace_items(sent, found, extractor_version="v1")
    assert (changes.created, changes.updated, changes.unchanged, changes.removed) == (0, 0, 1, 0)
    assert store.list_items() == [before]


def test_pending_messages_follow_the_extractor_version(store: Store) -> None:
    done, todo = message("done"), message("todo")
    store.ingest([(done, [item(done)])], extractor_version="v1")
    store.save_messages([todo])
    assert [m.id for m in store.pending_messages(extractor_version="v1")] == ["todo"]
    assert [m.id for m in store.pending_messages(extractor_version="v2")] == ["done", "todo"]
    assert len(store.pending_messages(extractor_version="v2", limit=1)) == 1

    result = store.ingest([(done, [item(done)]), (todo, [])], extractor_version="v2")
    assert (result.messages_new, result.items.created, result.items.updated) == (0, 0, 1)
    assert store.pending_messages(extractor_version="v2") == []
    assert store.counts()["tasks"] == 1


def test_a_failure_inside_ingest_leaves_nothing_written(store: Store) -> None:
    batch = [message(f"m{n}", sent_at=T0 + timedelta(minutes=n)) for n in range(3)]
    naive = datetime(2024, 3, 5, 17, 0)
    items_per_message = [[item(batch[0])], [item(batch[1], due=naive)], [item(batch[2])]]

    with pytest.raises(StorageError, match="naive datetime"):
        store.ingest(list(zip(batch, items_per_message, strict=True)), extractor_version="v1")
    with pytest.raises(ValueError, match="another message"):
        store.ingest(
            [(batch[0], [item(batch[0])]), (batch[1], [item(batch[0])])], extractor_version="v1"
        )

    assert store.counts() == dict.fromkeys(store.counts(), 0)
    assert store.pending_messages(extractor_version="v1") == []


def test_list_items_filters(store: Store) -> None:
    base = datetime(2024, 3, 4, tzinfo=UTC)
    a, b = message("a"), message("b", chat="Depot")
    batch = [
        (
            a,
            [
                item(a, 0, "Send ÜBER invoice 100%", due=base + timedelta(days=1), assignee="ravi"),
                item(a, 1, "Pay rent", priority=Priority.URGENT, due=base + timedelta(days=3)),
                item(a, 2, "Undated chore"),
            ],
        ),
        (
            b,
            [
                item(b, 0, "Standup", type=ItemType.EVENT, start=base + timedelta(days=2),
                     end=base + timedelta(days=2, hours=1), grain=Grain.MINUTE),
                item(b, 1, "Call über driver", priority=Priority.HIGH, assignee="ravi"),
            ],
        ),
    ]  # fmt: skip
    store.ingest(batch, extractor_version="v1")
    titles = lambda **kw: [i.title for i in store.list_items(**kw)]  # noqa: E731

    everything = [
        "Send ÜBER invoice 100%",
        "Standup",
        "Pay rent",
        "Undated chore",
        "Call über driver",
    ]
    assert titles() == everything  # soonest first, undated last
    assert titles(type=ItemType.EVENT) == ["Standup"]
    assert titles(priority=Priority.URGENT) == ["Pay rent"]
    assert titles(assignee="ravi") == ["Send ÜBER invoice 100%", "Call über driver"]
    assert titles(chat="Depot") == ["Standup", "Call über driver"]
    assert titles(due_from=base + timedelta(days=1), due_to=base + timedelta(days=3)) == [
        "Send ÜBER invoice 100%",
        "Standup",
    ]
    assert titles(due_from=base.astimezone(KOLKATA) + timedelta(days=3)) == ["Pay rent"]
    assert titles(search="über") == ["Send ÜBER invoice 100%", "Call über driver"]
    assert titles(search="100%") == ["Send ÜBER invoice 100%"]
    assert titles(search="_") == []
    assert titles(limit=2) == everything[:2]
    assert titles(limit=2, offset=2) == everything[2:4]

    pay = store.list_items(priority=Priority.URGENT)[0]
    store.set_status(pay.id, "cancelled")
    assert "Pay rent" not in titles()
    assert titles(status="cancelled") == ["Pay rent"]
    assert len(store.list_items(status=None)) == 5
    assert store.list_items(tenant="other") == []


def test_set_status_rejects_unknown_items_and_statuses(store: Store) -> None:
    sent = message("m1")
    store.replace_items(sent, [item(sent)], extractor_version="v1")
    (stored,) = store.list_items()
    assert store.set_status(stored.id, "done").status is ItemStatus.DONE
    with pytest.raises(InputError, match="open, done, cancelled"):
        store.set_status(stored.id, "finished")
    with pytest.raises(InputError, match="no item"):
        store.set_status(stored.id + 1000, "done")
    with pytest.raises(InputError, match="no item"):
        store.set_status(stored.id, "open", tenant="other")


def test_counts(store: Store) -> None:
    a, b = message("a"), message("b")
    store.ingest(
        [
            (a, [item(a, 0, priority=Priority.URGENT), item(a, 1, type=ItemType.EVENT)]),
            (b, [item(b, 0, priority=Priority.HIGH)]),
        ],
        extractor_version="v1",
    )
    store.set_status(store.list_items(priority=Priority.HIGH)[0].id, "done")
    assert store.counts() == {
        "messages": 2,
        "tasks": 2,
        "events": 1,
        "open": 2,
        "urgent": 1,
        "high": 1,
        "normal": 1,
    }


# -- imports ---------------------------------------------------------------------------------


def test_import_run_records_counts_and_failures(store: Store) -> None:
    sent = message("m1")
    with store.import_run(source="whatsapp-export", chat="Acme", path="chat.txt") as counts:
        counts.add(store.ingest([(sent, [item(sent)])], extractor_version="v1"))
        counts.unparsed_lines = 3
    with pytest.raises(RuntimeError), store.import_run(source="whatsapp-export"):
        raise RuntimeError("disk full")

    failed, done = store.list_imports()
    assert (done.chat, done.path, done.error) == ("Acme", "chat.txt", None)
    assert (done.messages_seen, done.messages_new, done.items_created, done.unparsed_lines) == (
        1,
        1,
        1,
        3,
    )
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert failed.error == "RuntimeError: disk full" and failed.finished_at is not None


def test_ingest_of_20000_messages(store: Store) -> None:
    start = datetime(2024, 1, 1, 8, tzinfo=KOLKATA)
    sent = [
        message(f"m{n}", f"message {n}", sent_at=start + timedelta(seconds=n))
        for n in range(20_000)
    ]
    batch = [(m, [item(m, 0, f"task {n}")] if n % 4 == 0 else []) for n, m in enumerate(sent)]

    first = store.ingest(batch, extractor_version="v1")
    again = store.ingest(batch, extractor_version="v1")

    assert (first.messages_seen, first.messages_new, first.items.created) == (20_000, 20_000, 5_000)
    assert (again.messages_new, again.items.created, again.items.unchanged) == (0, 0, 5_000)
    assert store.counts()["messages"] == 20_000 and store.counts()["tasks"] == 5_000
    assert store.pending_messages(extractor_version="v1") == []


# -- errors ----------------------------------------------------------------------------------


def test_unreachable_postgresql_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as caught:
        Store.open("postgresql://chat2task:s3cret@127.0.0.1:1/chat2task")
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "s3cret" not in message
    assert "PostgreSQL server is running" in message and caught.value.code == "C2T300"


def test_unopenable_sqlite_file_is_a_storage_error(tmp_path: object) -> None:
    with pytest.raises(StorageError, match="folder of the database file exists"):
        Store.open(f"sqlite:///{tmp_path}/missing/dir/chat2task.db")


@pytest.mark.parametrize("url", ["not a url", "mysql://u:pw@host/db"])
def test_unusable_urls_are_storage_errors(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        Store.open(url)
    assert "pw" not in str(caught.value)


def test_database_from_a_newer_chat2task_is_refused(db_url: str) -> None:
    with Store.open(db_url) as store, engine_of(store).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="newer chat2task"):
        Store.open(db_url)


def test_no_schema_is_created_outside_migrations(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        Store.open(db_url, migrate=False).close()
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
