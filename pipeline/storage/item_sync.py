"""The sync outbox and remote links (``item_sync``) and the pull cursors (``sync_cursors``).

One row per item and connector holds the *desired* state: ``pending`` means "make the remote
record look like the item as it is now", so marking an item pending twice, or pushing it
twice, converges on one record. The row also keeps the link to that record, which survives
every state change: re-pushing updates the record instead of creating another.

A push first *claims* its row by moving ``next_attempt_at`` a lease into the future in one
conditional ``UPDATE``: duplicate jobs (a recover racing a fresh submit) then find nothing to
do, and a worker that dies mid-push leaves a row that becomes due again when the lease ends.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, and_, case, or_, select, update

from connectors.base import RemoteRef
from pipeline.storage import engine as db
from pipeline.storage.store import Store
from pipeline.storage.tables import (
    LinkRole,
    item_messages,
    item_sync,
    items,
    messages,
    sync_cursors,
)


class SyncState(enum.StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    DEAD = "dead"


class SyncKey(NamedTuple):
    """Identifies one row; the tenant guards every write against cross-tenant ids."""

    tenant: str
    item_id: int
    connector: str


@dataclass(frozen=True, slots=True)
class SyncRow:
    """One item in one external system."""

    item_id: int
    connector: str
    tenant: str
    state: SyncState
    remote_id: str | None
    remote_type: str | None
    remote_version: str | None
    pushed_hash: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    synced_at: datetime | None
    updated_at: datetime

    @property
    def key(self) -> SyncKey:
        return SyncKey(self.tenant, self.item_id, self.connector)

    @property
    def link(self) -> RemoteRef | None:
        if self.remote_id is None or self.remote_type is None:
            return None
        return RemoteRef(self.remote_id, self.remote_type, self.remote_version)


# -- marking work ----------------------------------------------------------------------------


def mark_pending(
    store: Store, *, tenant: str, item_ids: Iterable[int], connectors: Sequence[str]
) -> int:
    """Ask for ``item_ids`` to be pushed to every one of ``connectors`` (dead rows included:
    an edit may fix what the CRM refused). Links are kept; ids of other tenants are ignored.
    Returns the number of rows marked."""
    wanted = list(item_ids)
    if not wanted or not connectors:
        return 0
    with store.transaction() as conn:
        owned = conn.execute(
            select(items.c.id).where(items.c.tenant == tenant, items.c.id.in_(wanted))
        ).scalars()
        return _upsert_pending(conn, tenant, list(owned), connectors)


def mark_stale(store: Store, *, tenant: str, connectors: Sequence[str]) -> int:
    """Mark pending every item never queued for a connector or changed since its last push.

    Catches up on changes made without :func:`pipeline.sync.item_changed` (a CLI import);
    dead rows stay dead until revived.
    """
    marked = 0
    row = item_sync.c
    with store.transaction() as conn:
        for connector in connectors:
            stale = (
                select(items.c.id)
                .outerjoin(item_sync, and_(row.item_id == items.c.id, row.connector == connector))
                .where(
                    items.c.tenant == tenant,
                    or_(
                        row.item_id.is_(None),
                        and_(
                            row.state == SyncState.SYNCED.value,
                            or_(row.synced_at.is_(None), row.synced_at < items.c.updated_at),
                        ),
                    ),
                )
            )
            marked += _upsert_pending(
                conn, tenant, list(conn.execute(stale).scalars()), [connector]
            )
    return marked


def _upsert_pending(
    conn: Connection, tenant: str, item_ids: Sequence[int], connectors: Sequence[str]
) -> int:
    if not item_ids:
        return 0
    now = _now()
    pending = {
        "state": SyncState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": None,
        "updated_at": now,
    }
    rows = [
        {"item_id": item_id, "connector": connector, "tenant": tenant, **pending}
        for item_id in item_ids
        for connector in connectors
    ]
    insert = db.insert(conn, item_sync)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[item_sync.c.item_id, item_sync.c.connector], set_=pending
        ),
        rows,
    )
    return len(rows)


def revive_dead(store: Store, *, tenant: str, connector: str | None = None) -> int:
    """Make dead rows pending again with fresh attempts (``chat2task sync --retry-dead``)."""
    with store.transaction() as conn:
        revived = conn.execute(
            update(item_sync)
            .where(*_scope(tenant, connector), item_sync.c.state == SyncState.DEAD.value)
            .values(
                state=SyncState.PENDING.value,
                attempts=0,
                next_attempt_at=None,
                updated_at=_now(),
            )
        )
    return revived.rowcount


# -- claiming and recording pushes -----------------------------------------------------------


def due(
    store: Store, *, now: datetime, connectors: Sequence[str], tenant: str | None = None
) -> list[SyncRow]:
    """Pending rows whose time has come, without claiming them (the recover submits jobs)."""
    query = select(item_sync).where(
        _is_due(now), item_sync.c.connector.in_(connectors), *_tenant(tenant)
    )
    with store.transaction() as conn:
        return [_row(r) for r in conn.execute(query.order_by(item_sync.c.next_attempt_at))]


def claim_due(
    store: Store,
    *,
    now: datetime,
    lease: timedelta,
    connectors: Sequence[str],
    tenant: str | None = None,
    item_id: int | None = None,
) -> list[SyncRow]:
    """Take the due rows for this worker: each is returned to one caller only."""
    conditions = [_is_due(now), item_sync.c.connector.in_(connectors), *_tenant(tenant)]
    if item_id is not None:
        conditions.append(item_sync.c.item_id == item_id)
    with store.transaction() as conn:
        claimed = conn.execute(
            update(item_sync)
            .where(*conditions)
            .values(next_attempt_at=now + lease)
            .returning(*item_sync.c)
        )
        return sorted((_row(r) for r in claimed), key=lambda r: (r.tenant, r.item_id))


def record_success(
    store: Store,
    key: SyncKey,
    remote: RemoteRef,
    pushed_hash: str,
    *,
    synced_at: datetime | None,
) -> None:
    """The remote record matches the item hashed as ``pushed_hash``; ``synced_at`` is when
    we wrote it (``None`` when nothing needed writing: the last push time stays, so remote
    changes made after it are still pulled)."""
    pushed = {} if synced_at is None else {"synced_at": synced_at}
    _set(
        store,
        key,
        state=_unless_marked_again(SyncState.SYNCED),
        remote_id=remote.id,
        remote_type=remote.type,
        remote_version=remote.version,
        pushed_hash=pushed_hash,
        attempts=0,
        next_attempt_at=None,
        last_error=None,
        **pushed,
    )


def record_retry(
    store: Store, key: SyncKey, *, attempts: int, next_attempt_at: datetime, error: str
) -> None:
    _set(store, key, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)


def record_dead(store: Store, key: SyncKey, *, attempts: int, error: str) -> None:
    """Give up on the row; ``error`` is what the CRM said, for the operator."""
    _set(
        store,
        key,
        state=_unless_marked_again(SyncState.DEAD),
        attempts=attempts,
        next_attempt_at=None,
        last_error=error,
    )


def clear_link(store: Store, key: SyncKey) -> None:
    """Forget a remote record that no longer exists, so the next push creates a new one."""
    _set(store, key, remote_id=None, remote_type=None, remote_version=None, pushed_hash=None)


def record_pulled(
    store: Store, key: SyncKey, *, remote_version: str | None, pushed_hash: str | None
) -> None:
    """Remember the remote version we have seen; with ``pushed_hash`` (the item now equals
    the remote record) the change is not pushed back."""
    values: dict[str, Any] = {"remote_version": remote_version}
    if pushed_hash is not None:
        values["pushed_hash"] = pushed_hash
    _set(store, key, **values)


def _set(store: Store, key: SyncKey, **values: Any) -> None:
    with store.transaction() as conn:
        conn.execute(
            update(item_sync)
            .where(
                item_sync.c.tenant == key.tenant,
                item_sync.c.item_id == key.item_id,
                item_sync.c.connector == key.connector,
            )
            .values(**values, updated_at=_now())
        )


# -- reads -----------------------------------------------------------------------------------


def get(store: Store, key: SyncKey) -> SyncRow | None:
    query = select(item_sync).where(
        item_sync.c.tenant == key.tenant,
        item_sync.c.item_id == key.item_id,
        item_sync.c.connector == key.connector,
    )
    with store.transaction() as conn:
        found = conn.execute(query).one_or_none()
    return _row(found) if found is not None else None


def find(
    store: Store,
    *,
    tenant: str,
    connector: str,
    remote_id: str | None = None,
    external_id: str | None = None,
) -> SyncRow | None:
    """The row linked to a remote record, by the item's external id (when the record carries
    it) or else by the remote id."""
    query = select(item_sync).where(*_scope(tenant, connector))
    if external_id is not None:
        query = query.join(items, items.c.id == item_sync.c.item_id).where(
            items.c.external_id == external_id
        )
    elif remote_id is not None:
        query = query.where(item_sync.c.remote_id == remote_id)
    else:
        raise ValueError("find needs a remote_id or an external_id")
    with store.transaction() as conn:
        found = conn.execute(query.limit(1)).one_or_none()
    return _row(found) if found is not None else None


def list_dead(store: Store, *, tenant: str, connector: str | None = None) -> list[SyncRow]:
    query = select(item_sync).where(
        *_scope(tenant, connector), item_sync.c.state == SyncState.DEAD.value
    )
    with store.transaction() as conn:
        return [_row(r) for r in conn.execute(query.order_by(item_sync.c.item_id))]


def links_for(
    store: Store, item_ids: Iterable[int], *, tenant: str
) -> dict[int, list[tuple[str, RemoteRef]]]:
    """The remote records of each item (``Added to CRM as task #…`` confirmations)."""
    query = (
        select(item_sync)
        .where(
            item_sync.c.tenant == tenant,
            item_sync.c.item_id.in_(list(item_ids)),
            item_sync.c.remote_id.is_not(None),
        )
        .order_by(item_sync.c.item_id, item_sync.c.connector)
    )
    links: defaultdict[int, list[tuple[str, RemoteRef]]] = defaultdict(list)
    with store.transaction() as conn:
        for found in conn.execute(query):
            row = _row(found)
            if row.link is not None:
                links[row.item_id].append((row.connector, row.link))
    return dict(links)


def origin_text(store: Store, *, tenant: str, item_id: int) -> str:
    """The text of the message the item came from: the CRM record's description."""
    query = (
        select(messages.c.text)
        .join(item_messages, item_messages.c.message_id == messages.c.id)
        .where(
            item_messages.c.item_id == item_id,
            item_messages.c.role == LinkRole.ORIGIN.value,
            messages.c.tenant == tenant,
        )
        .limit(1)
    )
    with store.transaction() as conn:
        return conn.execute(query).scalar_one_or_none() or ""


def tenants(store: Store, *, connector: str) -> list[str]:
    """Tenants that have pushed to ``connector`` or pulled from it: the ones to poll."""
    pushed = select(item_sync.c.tenant).where(item_sync.c.connector == connector)
    pulled = select(sync_cursors.c.tenant).where(sync_cursors.c.connector == connector)
    with store.transaction() as conn:
        return sorted(set(conn.execute(pushed.union(pulled)).scalars()))


# -- cursors ---------------------------------------------------------------------------------


def get_cursor(store: Store, *, tenant: str, connector: str) -> str | None:
    query = select(sync_cursors.c.cursor).where(
        sync_cursors.c.tenant == tenant, sync_cursors.c.connector == connector
    )
    with store.transaction() as conn:
        return conn.execute(query).scalar_one_or_none()


def set_cursor(store: Store, *, tenant: str, connector: str, cursor: str) -> None:
    with store.transaction() as conn:
        insert = db.insert(conn, sync_cursors)
        conn.execute(
            insert.values(
                tenant=tenant, connector=connector, cursor=cursor, updated_at=_now()
            ).on_conflict_do_update(
                index_elements=[sync_cursors.c.tenant, sync_cursors.c.connector],
                set_={"cursor": cursor, "updated_at": _now()},
            )
        )


# -- helpers ---------------------------------------------------------------------------------


def _is_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        item_sync.c.state == SyncState.PENDING.value,
        or_(item_sync.c.next_attempt_at.is_(None), item_sync.c.next_attempt_at <= now),
    )


def _unless_marked_again(state: SyncState) -> ColumnElement[str]:
    """``state``, unless the item changed while it was being pushed: :func:`mark_pending`
    then cleared the claim's ``next_attempt_at``, and the row must stay pending."""
    return case((item_sync.c.next_attempt_at.is_(None), SyncState.PENDING.value), else_=state.value)


def _tenant(tenant: str | None) -> list[ColumnElement[bool]]:
    return [] if tenant is None else [item_sync.c.tenant == tenant]


def _scope(tenant: str, connector: str | None) -> list[ColumnElement[bool]]:
    conditions = _tenant(tenant)
    if connector is not None:
        conditions.append(item_sync.c.connector == connector)
    return conditions


def _row(found: Any) -> SyncRow:
    values = dict(found._mapping)
    values["state"] = SyncState(values["state"])
    return SyncRow(**values)


def _now() -> datetime:
    return datetime.now(UTC)
