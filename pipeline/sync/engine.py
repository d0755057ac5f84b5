"""Pushes items to the configured CRMs and pulls their changes back.

Connectors only talk to their API; this engine owns everything around them: which items
are due, what an error means (:mod:`connectors.errors`: by type alone), backoff, dead
letters, and keeping pushes and pulls from undoing each other. The rows it works on are in
:mod:`pipeline.storage.item_sync`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Connector, RemoteChange, RemoteRef, SyncItem, create_connector
from connectors.errors import ConnectorError, RateLimited, RemoteNotFound
from pipeline.config import Settings
from pipeline.errors import InputError
from pipeline.jobs.queue import backoff_seconds
from pipeline.storage import item_sync
from pipeline.storage.item_sync import SyncRow, SyncState
from pipeline.storage.records import StoredItem
from pipeline.storage.store import Store
from pipeline.sync import enabled_connectors

log = logging.getLogger(__name__)

#: How long a claimed row is left alone: a worker that dies mid-push gives it up after this.
CLAIM_LEASE = timedelta(minutes=5)
#: Item fields a remote change may set.
PULLED_FIELDS = ("status", "due", "start", "end", "assignee")


class Outcome(enum.StrEnum):
    """What one push did (the columns of ``chat2task sync``)."""

    PUSHED = "pushed"
    SKIPPED = "skipped"
    RETRYING = "retrying"
    DEAD = "dead"


class SyncEngine:
    """The enabled connectors of ``settings``, built (and so validated) up front."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.connectors: dict[str, Connector] = {
            name: create_connector(name, settings.connectors[name])
            for name in enabled_connectors(settings)
        }

    def connector(self, name: str) -> Connector:
        try:
            return self.connectors[name]
        except KeyError:
            known = ", ".join(self.connectors) or "none"
            raise InputError(f"no enabled connector {name!r} (enabled: {known})") from None

    # -- push ---------------------------------------------------------------------------------

    def push(self, tenant: str, item_id: int, connector_name: str) -> Outcome | None:
        """Push one item if its row is due; ``None`` when there was nothing to do (already
        synced, dead, waiting for a retry, or being pushed by another worker)."""
        self.connector(connector_name)
        claimed = item_sync.claim_due(
            self.store,
            now=_now(),
            lease=CLAIM_LEASE,
            connectors=[connector_name],
            tenant=tenant,
            item_id=item_id,
        )
        return self._push_row(claimed[0]) if claimed else None

    def push_due(
        self, *, tenant: str | None = None, connector: str | None = None
    ) -> dict[str, Counter[Outcome]]:
        """Push every due row (of one tenant / connector when given); outcomes per connector."""
        names = [self.connector(connector).name] if connector else list(self.connectors)
        rows = item_sync.claim_due(
            self.store, now=_now(), lease=CLAIM_LEASE, connectors=names, tenant=tenant
        )
        outcomes: dict[str, Counter[Outcome]] = {name: Counter() for name in names}
        for row in rows:
            outcomes[row.connector][self._push_row(row)] += 1
        return outcomes

    def _push_row(self, row: SyncRow) -> Outcome:
        connector = self.connectors[row.connector]
        found = self.store.get_items([row.item_id], tenant=row.tenant)
        if not found:  # deleted since it was marked; its row went with it
            return Outcome.SKIPPED
        item = found[0]
        text = item_sync.origin_text(self.store, tenant=row.tenant, item_id=row.item_id)
        digest = payload_hash(connector, item, text, self.settings)
        if row.link is not None and row.pushed_hash == digest:
            item_sync.record_success(self.store, row.key, row.link, digest, synced_at=None)
            return Outcome.SKIPPED
        try:
            remote = self._upsert(connector, row, SyncItem(item, text, row.link))
        except Exception as exc:  # every failure is retried or buried, never lost
            return self._failed(row, exc)
        item_sync.record_success(self.store, row.key, remote, digest, synced_at=_now())
        return Outcome.PUSHED

    def _upsert(self, connector: Connector, row: SyncRow, sync_item: SyncItem) -> RemoteRef:
        try:
            return connector.call(lambda: connector.upsert(sync_item))
        except RemoteNotFound:
            if sync_item.link is None:
                raise
            # Someone deleted the record in the CRM: forget it (also for later retries) and
            # create it again, once.
            log.warning("%s record %s is gone; creating it again", row.connector, row.remote_id)
            item_sync.clear_link(self.store, row.key)
            fresh = SyncItem(sync_item.item, sync_item.text, None)
            return connector.call(lambda: connector.upsert(fresh))

    def _failed(self, row: SyncRow, exc: Exception) -> Outcome:
        attempt = row.attempts + 1
        error = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, ConnectorError):
            # A bug in a connector: retried like an outage so that it ends up dead with its
            # reason instead of failing the same way every minute forever.
            log.exception("%s push of item %d crashed", row.connector, row.item_id)
        retriable = getattr(exc, "retriable", True)
        if retriable and attempt < self.settings.queue.max_attempts:
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            delay = backoff_seconds(attempt, self.settings.queue, retry_after)
            item_sync.record_retry(
                self.store,
                row.key,
                attempts=attempt,
                next_attempt_at=_now() + timedelta(seconds=delay),
                error=error,
            )
            return Outcome.RETRYING
        log.error("%s push of item %d is dead: %s", row.connector, row.item_id, error)
        item_sync.record_dead(self.store, row.key, attempts=attempt, error=error)
        return Outcome.DEAD

    # -- pull ---------------------------------------------------------------------------------

    def pull(self, tenant: str, connector_name: str) -> int:
        """Apply the CRM's changes since the saved cursor; returns how many items changed.

        The cursor is saved only after every change is applied, so a crash repeats the batch
        (applying a change twice is harmless) rather than losing it.
        """
        connector = self.connector(connector_name)
        cursor = item_sync.get_cursor(self.store, tenant=tenant, connector=connector_name)
        changes, new_cursor = connector.call(lambda: connector.changes_since(cursor))
        applied = sum(
            self._apply(tenant, connector, change)
            for change in sorted(changes, key=lambda c: c.changed_at)
        )
        item_sync.set_cursor(self.store, tenant=tenant, connector=connector_name, cursor=new_cursor)
        return applied

    def _apply(self, tenant: str, connector: Connector, change: RemoteChange) -> bool:
        row = item_sync.find(
            self.store,
            tenant=tenant,
            connector=connector.name,
            remote_id=change.remote.id,
            external_id=change.external_id,
        )
        if row is None:  # not ours, or another tenant's
            return False
        found = self.store.get_items([row.item_id], tenant=tenant)
        if not found or not _remote_is_newer(change, row, found[0]):
            return False
        item = found[0]
        updates = {
            name: value
            for name in PULLED_FIELDS
            if (value := getattr(change, name)) is not None and value != getattr(item, name)
        }
        if updates:
            item = self.store.update_item(item.id, updates, tenant=tenant)
        # A synced row now equals the remote record: hashing it stops the change from being
        # pushed back. A pending row still has a local edit to push, merged with this change.
        digest = None
        if row.state is SyncState.SYNCED:
            text = item_sync.origin_text(self.store, tenant=tenant, item_id=item.id)
            digest = payload_hash(connector, item, text, self.settings)
        item_sync.record_pulled(
            self.store, row.key, remote_version=change.remote.version, pushed_hash=digest
        )
        return bool(updates)


def _remote_is_newer(change: RemoteChange, row: SyncRow, item: StoredItem) -> bool:
    """Last writer wins: a remote change is applied unless it is one we already know (our
    own push echoed back), our push came after it, or an unpushed local edit is newer."""
    if change.remote.version is not None and change.remote.version == row.remote_version:
        return False
    if row.synced_at is not None and change.changed_at <= row.synced_at:
        return False
    return not (row.state is SyncState.PENDING and item.updated_at >= change.changed_at)


def payload_hash(connector: Connector, item: StoredItem, text: str, settings: Settings) -> str:
    """A digest of what a push would send: unchanged, the push is skipped.

    The item's own fields are hashed beside the mapped payload because connectors render
    dates in their own zone (a moved due time may not move the date in ours); the payload
    makes a mapping change re-push every item.
    """
    payload: dict[str, Any] = {
        "item": {
            name: getattr(item, name) for name in ("type", "title", "priority", *PULLED_FIELDS)
        },
        "object": connector.mapping.object_for(item),
        "fields": connector.mapping.render(item, text, settings.zone),
    }
    encoded = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)
