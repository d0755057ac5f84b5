"""Background jobs behind one small interface, on Huey.

Huey runs the same tasks on two back ends with one API: ``SqliteHuey`` (the embedded default:
a SQLite file beside the database, worker threads inside ``chat2task serve``) and
``RedisHuey`` (scale-out: any number of ``chat2task worker`` processes on other machines).

Huey removes a job from its queue when a worker takes it, so a worker killed mid-job would
lose it. The database is therefore the source of truth, not the queue: every job is
idempotent, and each kind registers a ``recover`` function that re-submits whatever the
database shows as unfinished (messages not yet extracted, replies not yet sent, items not
yet synced). Workers run recovery when they start and then every minute.

Retries are ours, not Huey's: a failed job is submitted again after an exponential backoff
with jitter (or the ``retry_after`` the error carries) until ``max_attempts``; then it goes to
the ``dead_jobs`` table with its reason. Errors that say retrying cannot help
(``retriable = False``) go there at once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy.engine import make_url

from pipeline.config import QueueSettings, Settings
from pipeline.errors import ConfigError
from pipeline.storage import dead_jobs

log = logging.getLogger(__name__)

#: A job handler: does the work for ``payload`` in ``tenant``; raises to fail.
Handler = Callable[["JobContext", dict[str, Any], str], None]
#: Re-submits what the database shows as unfinished for one job kind.
Recover = Callable[["JobContext", "JobQueue"], int]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    handler: Handler
    recover: Recover | None = None


#: Job kinds by name; modules register theirs with :func:`job` when imported.
JOB_KINDS: dict[str, JobKind] = {}


def job(name: str, *, recover: Recover | None = None) -> Callable[[Handler], Handler]:
    """Register a job handler (and how to find its unfinished work after a crash)."""

    def register(handler: Handler) -> Handler:
        JOB_KINDS[name] = JobKind(name, handler, recover)
        return handler

    return register


class JobContext:
    """What handlers share: settings, store, and the expensive services built on first use."""

    def __init__(
        self, settings: Settings, store: Any, *, services: dict[str, Any] | None = None
    ) -> None:
        """``services`` pre-fills the cache (tests hand in an already loaded extractor)."""
        self.settings = settings
        self.store = store
        self._services: dict[str, Any] = dict(services or {})
        self._lock = threading.Lock()

    def service(self, name: str, build: Callable[[], Any]) -> Any:
        """The named service, built once per process (spaCy pipelines, API clients…)."""
        with self._lock:
            if name not in self._services:
                self._services[name] = build()
            return self._services[name]


def backoff_seconds(attempt: int, settings: QueueSettings, retry_after: float | None) -> float:
    """Delay before try ``attempt + 1``: exponential with "equal jitter", at least
    ``retry_after``. Jitter spreads retries so that a recovering API is not hit by all
    jobs at once."""
    ceiling = min(settings.backoff_max_seconds, settings.backoff_seconds * 2 ** (attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def embedded_queue_path(database_url: str) -> Path:
    """The embedded queue's SQLite file: beside a SQLite database, else in the working dir.

    A separate file from the store keeps the queue's writes from waiting on the store's lock.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).with_suffix(".queue.sqlite3")
    return Path("chat2task.queue.sqlite3")


def is_redis_url(url: str) -> bool:
    """Whether ``queue.url`` names a Redis broker (which then also holds shared state)."""
    return url.startswith(("redis://", "rediss://", "unix://"))


def make_huey(settings: Settings) -> Huey:
    url = settings.queue.url
    if not url:
        return SqliteHuey("chat2task", filename=str(embedded_queue_path(settings.database_url)))
    if is_redis_url(url):
        return RedisHuey("chat2task", url=url)
    if url.startswith("sqlite:///"):
        return SqliteHuey("chat2task", filename=url.removeprefix("sqlite:///"))
    raise ConfigError(
        f"queue.url {url!r} is not supported: leave it empty for the embedded SQLite queue "
        "or use redis://host:6379/0"
    )


class _HostedConsumer(Consumer):
    """A consumer living inside another program (the web server), which owns the signals."""

    def _set_signal_handlers(self) -> None:
        pass


class JobQueue:
    """Submit jobs and run workers; one instance per process."""

    def __init__(self, context: JobContext, huey: Huey | None = None) -> None:
        self.context = context
        self.settings = context.settings.queue
        self.huey = huey or make_huey(context.settings)
        # Handlers submit follow-up jobs (send the reply, push to the CRM) through this queue.
        context.service("queue", lambda: self)
        self._task = self.huey.task(name="chat2task.job")(self._execute)
        self.huey.periodic_task(crontab(minute="*"), name="chat2task.recover")(self.recover)
        self._consumer: Consumer | None = None

    # -- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        tenant: str,
        delay: float = 0.0,
        attempt: int = 1,
    ) -> None:
        """Queue a job; ``payload`` must be JSON-like and small (ids, not objects)."""
        if kind not in JOB_KINDS:
            raise ConfigError(f"unknown job kind {kind!r}; known: {', '.join(sorted(JOB_KINDS))}")
        if delay > 0:
            self._task.schedule((kind, payload, tenant, attempt), delay=delay)
        else:
            self._task(kind, payload, tenant, attempt)

    def depth(self) -> int:
        """Jobs waiting: queued now plus scheduled for later (retries, held messages)."""
        return int(self.huey.pending_count()) + int(self.huey.scheduled_count())

    def ping(self) -> bool:
        try:
            self.huey.pending_count()
        except Exception:  # any back-end failure means "not reachable"
            log.exception("queue back end unreachable")
            return False
        return True

    # -- running ------------------------------------------------------------------------------

    def _execute(self, kind: str, payload: dict[str, Any], tenant: str, attempt: int) -> None:
        spec = JOB_KINDS[kind]
        try:
            spec.handler(self.context, payload, tenant)
        except Exception as exc:  # every failure is either retried or buried
            self._failed(spec, payload, tenant, attempt, exc)

    def _failed(
        self, spec: JobKind, payload: dict[str, Any], tenant: str, attempt: int, exc: Exception
    ) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        retriable = getattr(exc, "retriable", True)
        if retriable and attempt < self.settings.max_attempts:
            delay = backoff_seconds(attempt, self.settings, getattr(exc, "retry_after", None))
            log.warning(
                "job %s attempt %d failed (%s); retry in %.1f s", spec.name, attempt, reason, delay
            )
            self.submit(spec.name, payload, tenant=tenant, delay=delay, attempt=attempt + 1)
            return
        log.error("job %s failed for good after %d attempt(s): %s", spec.name, attempt, reason)
        dead_jobs.bury(
            self.context.store,
            tenant=tenant,
            kind=spec.name,
            payload=payload,
            attempts=attempt,
            error=reason,
        )

    def recover(self) -> int:
        """Re-submit unfinished work of every kind; returns how many jobs were submitted."""
        submitted = 0
        for spec in list(JOB_KINDS.values()):
            if spec.recover is not None:
                try:
                    submitted += spec.recover(self.context, self)
                except Exception:  # one kind's failure must not stop the others
                    log.exception("recovery of %s jobs failed", spec.name)
        return submitted

    def retry_dead(self, *, kind: str | None = None, tenant: str | None = None) -> int:
        """Submit dead jobs again (after an operator fixed the cause)."""
        jobs = dead_jobs.list_dead(self.context.store, tenant=tenant, kind=kind)
        for dead in jobs:
            self.submit(dead.kind, dead.payload, tenant=dead.tenant)
            dead_jobs.mark_retried(self.context.store, dead.id)
        return len(jobs)

    def start_workers(self, workers: int | None = None) -> None:
        """Run workers as threads of this process (the embedded mode), after recovery."""
        count = self.settings.workers if workers is None else workers
        if count <= 0 or self._consumer is not None:
            return
        self.recover()
        self._consumer = _HostedConsumer(
            self.huey,
            workers=count,
            worker_type="thread",
            periodic=True,
            check_worker_health=False,
            initial_delay=0.05,
            max_delay=0.5,
        )
        self._consumer.start()

    def stop_workers(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def run_worker(self, workers: int) -> None:
        """Serve jobs in the foreground until SIGINT/SIGTERM (``chat2task worker``)."""
        self.recover()
        consumer = self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=True,
            initial_delay=0.05,
            max_delay=0.5,
        )
        consumer.run()

    def drain(self) -> int:
        """Run every queued job now, in this thread (CLI batch commands and tests)."""
        ran = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            ran += 1
        return ran
