"""API keys of the REST service: only a key's SHA-256 is stored, so a leaked database
cannot be used to call the API; the secret is shown once, when the key is created."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from pipeline.errors import InputError
from pipeline.storage.store import Store
from pipeline.storage.tables import api_keys

#: Every key starts with this, so secret scanners (and people) recognise one.
KEY_PREFIX = "c2t_"
#: Characters of the key kept in clear to tell keys apart in listings and logs.
_SHOWN = len(KEY_PREFIX) + 8


class Role(enum.StrEnum):
    """``admin``: everything in its tenant, keys included; ``supervisor``: every item of the
    tenant; ``agent``: only the items assigned to the key's person."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    tenant: str
    name: str
    prefix: str
    role: Role
    person: str | None
    created_at: datetime
    revoked_at: datetime | None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    store: Store, *, tenant: str, role: Role, name: str, person: str | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret; agents need the roster ``person`` whose items they may see."""
    if role is Role.AGENT and not person:
        raise InputError("an agent key needs --person: the roster name whose tasks it may see")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as conn:
        row = conn.execute(
            insert(api_keys)
            .values(
                tenant=tenant,
                name=name,
                prefix=secret[:_SHOWN],
                key_hash=hash_key(secret),
                role=role.value,
                person=person,
                created_at=datetime.now(UTC),
            )
            .returning(*api_keys.c)
        ).one()
    return _to_key(row), secret


def authenticate(store: Store, secret: str) -> ApiKey | None:
    """The live key with this secret, or ``None`` (unknown or revoked)."""
    query = select(api_keys).where(
        api_keys.c.key_hash == hash_key(secret), api_keys.c.revoked_at.is_(None)
    )
    with store.transaction() as conn:
        row = conn.execute(query).one_or_none()
    return _to_key(row) if row is not None else None


def list_keys(store: Store, *, tenant: str | None = None) -> list[ApiKey]:
    """Keys (revoked ones included, for audits), oldest first; all tenants without ``tenant``."""
    query = select(api_keys).order_by(api_keys.c.id)
    if tenant is not None:
        query = query.where(api_keys.c.tenant == tenant)
    with store.transaction() as conn:
        return [_to_key(row) for row in conn.execute(query)]


def revoke_key(store: Store, key_id: int, *, tenant: str | None = None) -> bool:
    """Revoke a key now; False if there is no such live key (in ``tenant``, when given)."""
    conditions = [api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)]
    if tenant is not None:
        conditions.append(api_keys.c.tenant == tenant)
    with store.transaction() as conn:
        changed = conn.execute(
            update(api_keys).where(*conditions).values(revoked_at=datetime.now(UTC))
        )
    return changed.rowcount > 0


def _to_key(row: Row[Any]) -> ApiKey:
    values = row._asdict()
    del values["key_hash"]
    return ApiKey(**{**values, "role": Role(values["role"])})
