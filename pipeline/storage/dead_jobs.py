"""The dead-letter table: background jobs that failed for good, kept with their reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from pipeline.storage.store import Store
from pipeline.storage.tables import dead_jobs


@dataclass(frozen=True, slots=True)
class DeadJob:
    id: int
    tenant: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    error: str
    failed_at: datetime
    retried_at: datetime | None


def bury(
    store: Store, *, tenant: str, kind: str, payload: dict[str, Any], attempts: int, error: str
) -> int:
    """Record a job that will not be tried again; returns its dead-letter id."""
    with store.transaction() as conn:
        row = conn.execute(
            insert(dead_jobs)
            .values(
                tenant=tenant,
                kind=kind,
                payload=payload,
                attempts=attempts,
                error=error,
                failed_at=datetime.now(UTC),
            )
            .returning(dead_jobs.c.id)
        ).one()
    return int(row.id)


def list_dead(
    store: Store,
    *,
    tenant: str | None = None,
    include_retried: bool = False,
    kind: str | None = None,
) -> list[DeadJob]:
    query = select(dead_jobs).order_by(dead_jobs.c.id)
    if tenant is not None:
        query = query.where(dead_jobs.c.tenant == tenant)
    if kind is not None:
        query = query.where(dead_jobs.c.kind == kind)
    if not include_retried:
        query = query.where(dead_jobs.c.retried_at.is_(None))
    with store.transaction() as conn:
        return [DeadJob(**row._mapping) for row in conn.execute(query)]


def mark_retried(store: Store, job_id: int) -> None:
    with store.transaction() as conn:
        conn.execute(
            update(dead_jobs).where(dead_jobs.c.id == job_id).values(retried_at=datetime.now(UTC))
        )
