"""The people we talk to on WhatsApp: consent, quiet hours, and which roster person they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, case, or_, select, update

from pipeline.errors import InputError
from pipeline.storage import Store
from pipeline.storage import engine as db
from pipeline.storage.tables import contacts


@dataclass(frozen=True, slots=True)
class Contact:
    """A WhatsApp number of one tenant; ``person`` is the roster name when the number is known."""

    id: int
    tenant: str
    address: str
    channel: str
    profile_name: str | None
    person: str | None
    opted_out: bool
    consent_changed_at: datetime | None
    quiet_start: time | None
    quiet_end: time | None
    timezone: str | None
    last_inbound_at: datetime | None

    def zone(self, default: str) -> ZoneInfo:
        return ZoneInfo(self.timezone or default)


def touch(
    store: Store,
    tenant: str,
    address: str,
    channel: str,
    profile_name: str | None,
    at: datetime,
    *,
    person: str | None = None,
    timezone: str | None = None,
) -> Contact:
    """Record an inbound message from ``address``: create the contact or refresh it.

    Replays of older messages (job retries, recovery) never move ``last_inbound_at`` or the
    reply channel backwards. ``person``/``timezone`` come from the roster; the roster wins for
    the person, a zone the contact set for themselves wins over the roster's.
    """
    now = datetime.now(UTC)
    with store.transaction() as conn:
        insert = db.insert(conn, contacts)
        newer = or_(
            contacts.c.last_inbound_at.is_(None),
            contacts.c.last_inbound_at < insert.excluded.last_inbound_at,
        )
        latest = {
            name: case((newer, insert.excluded[name]), else_=contacts.c[name])
            for name in ("last_inbound_at", "channel")
        }
        statement = insert.values(
            tenant=tenant,
            address=address,
            channel=channel,
            profile_name=profile_name,
            person=person,
            timezone=timezone,
            last_inbound_at=at,
            created_at=now,
            updated_at=now,
        ).on_conflict_do_update(
            index_elements=[contacts.c.tenant, contacts.c.address],
            set_={
                **latest,
                "profile_name": insert.excluded.profile_name,
                "person": insert.excluded.person,
                "timezone": case(
                    (contacts.c.timezone.is_(None), insert.excluded.timezone),
                    else_=contacts.c.timezone,
                ),
                "updated_at": now,
            },
        )
        conn.execute(statement)
        return _to_contact(conn.execute(_by_address(tenant, address)).one())


def set_opt_out(store: Store, tenant: str, address: str, opted_out: bool, at: datetime) -> bool:
    """Apply a STOP (``True``) or START (``False``) sent at ``at``; False if a later consent
    change is already recorded, so replaying an old keyword cannot undo a newer one."""
    with store.transaction() as conn:
        changed = conn.execute(
            update(contacts)
            .where(
                contacts.c.tenant == tenant,
                contacts.c.address == address,
                or_(contacts.c.consent_changed_at.is_(None), contacts.c.consent_changed_at <= at),
            )
            .values(opted_out=opted_out, consent_changed_at=at, updated_at=datetime.now(UTC))
        )
    return changed.rowcount > 0


def set_quiet_hours(
    store: Store,
    tenant: str,
    address: str,
    start: time | None,
    end: time | None,
    timezone: str | None = None,
) -> Contact:
    """Give a contact their own quiet hours (both ``None``: back to the default window)."""
    if (start is None) != (end is None):
        raise InputError("quiet hours need both a start and an end (or neither)")
    if timezone is not None:
        ZoneInfo(timezone)  # fail here, not at send time
    with store.transaction() as conn:
        values = {
            "quiet_start": start.strftime("%H:%M") if start else None,
            "quiet_end": end.strftime("%H:%M") if end else None,
            "updated_at": datetime.now(UTC),
        }
        if timezone is not None:
            values["timezone"] = timezone
        changed = conn.execute(
            update(contacts)
            .where(contacts.c.tenant == tenant, contacts.c.address == address)
            .values(**values)
        )
        if changed.rowcount == 0:
            raise InputError(f"There is no contact {address}")
        return _to_contact(conn.execute(_by_address(tenant, address)).one())


def get_contact(store: Store, tenant: str, address: str) -> Contact | None:
    with store.transaction() as conn:
        row = conn.execute(_by_address(tenant, address)).one_or_none()
    return _to_contact(row) if row else None


def find_person(store: Store, tenant: str, person: str) -> Contact | None:
    """The contact a roster person last wrote from (where their reminders go)."""
    query = (
        select(contacts)
        .where(contacts.c.tenant == tenant, contacts.c.person == person)
        .order_by(contacts.c.last_inbound_at.desc().nulls_last())
        .limit(1)
    )
    with store.transaction() as conn:
        row = conn.execute(query).one_or_none()
    return _to_contact(row) if row else None


def list_contacts(store: Store, tenant: str) -> list[Contact]:
    query = select(contacts).where(contacts.c.tenant == tenant).order_by(contacts.c.id)
    with store.transaction() as conn:
        return [_to_contact(row) for row in conn.execute(query)]


def _by_address(tenant: str, address: str) -> Select[Any]:
    return select(contacts).where(contacts.c.tenant == tenant, contacts.c.address == address)


def _to_contact(row: Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        tenant=row.tenant,
        address=row.address,
        channel=row.channel,
        profile_name=row.profile_name,
        person=row.person,
        opted_out=row.opted_out,
        consent_changed_at=row.consent_changed_at,
        quiet_start=time.fromisoformat(row.quiet_start) if row.quiet_start else None,
        quiet_end=time.fromisoformat(row.quiet_end) if row.quiet_end else None,
        timezone=row.timezone,
        last_inbound_at=row.last_inbound_at,
    )
