"""A real SQLite store and embedded queue per test, the fakes of both providers, a clock.

The job context gets the session's extractor (spaCy loads once) and a settable clock, so
quiet hours and "tomorrow" are deterministic; the rate limiter is off unless a test sets it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

import pipeline.jobs.kinds  # noqa: F401  (registers the job kinds)
from pipeline.config import (
    ConnectorSettings,
    MetaSettings,
    QueueSettings,
    ServiceSettings,
    Settings,
    TwilioSettings,
)
from pipeline.domain import Message
from pipeline.extract import Extractor
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.storage import Store
from tests.conftest import MONDAY_10AM
from tests.fakes import meta, twilio
from tests.fakes.meta import FakeMeta
from tests.fakes.rest_server import serve
from tests.fakes.twilio import FakeTwilio

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
SARAH = "+447700900101"  # Sarah Cole on the test roster
JOHN = "+447700900102"  # John Smith, Sarah's report
STRANGER = "+15550001111"  # nobody on the roster


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    with serve(fake):
        yield fake


@pytest.fixture
def fake_meta() -> Iterator[FakeMeta]:
    fake = FakeMeta()
    with serve(fake):
        yield fake


def service_settings(twilio_url: str, meta_url: str, **changes: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "twilio": TwilioSettings(
            account_sid=twilio.ACCOUNT_SID,
            auth_token=twilio.AUTH_TOKEN,
            sender=twilio.SENDER,
            api_base=twilio_url,
        ),
        "meta": MetaSettings(
            access_token=meta.ACCESS_TOKEN, phone_number_id=meta.PHONE_NUMBER_ID, graph_url=meta_url
        ),
        "recipient_interval_seconds": 0,
    }
    return ServiceSettings(**{**values, **changes})


@pytest.fixture
def make_settings(
    tmp_path: Path,
    migrated_db_url: str,
    settings: Settings,
    fake_twilio: FakeTwilio,
    fake_meta: FakeMeta,
) -> Callable[..., Settings]:
    """Settings on a fresh database (SQLite and PostgreSQL); keyword arguments change the
    service."""

    def build(
        *,
        queue: QueueSettings | None = None,
        connectors: dict[str, ConnectorSettings] | None = None,
        **service: Any,
    ) -> Settings:
        return settings.model_copy(
            update={
                "database_url": migrated_db_url,
                "service": service_settings(fake_twilio.base_url, fake_meta.graph_url, **service),
                "queue": _in_tmp_path(queue or QueueSettings(backoff_seconds=0.5, max_attempts=3)),
                "connectors": connectors or {},
            }
        )

    def _in_tmp_path(queue: QueueSettings) -> QueueSettings:
        """The embedded queue file in ``tmp_path``, not beside a PostgreSQL database (the
        working directory, shared by every test)."""
        if queue.url:
            return queue
        return queue.model_copy(update={"url": f"sqlite:///{tmp_path / 'queue.sqlite3'}"})

    return build


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A reachable, empty Redis database at ``CHAT2TASK_TEST_REDIS_URL`` (default local,
    db 15; flushed before and after). Without one the test is skipped, except on CI (``CI``
    set), where it fails."""
    url = os.environ.get("CHAT2TASK_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {url}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10AM + timedelta(minutes=1))


@dataclass
class Harness:
    """A store, a queue and a way to receive messages as the webhooks store them."""

    store: Store
    queue: JobQueue
    clock: Clock
    _ids: Iterator[int]

    @property
    def context(self) -> JobContext:
        return self.queue.context

    def receive(
        self, text: str, *, sender: str = SARAH, channel: str = "twilio", at: datetime | None = None
    ) -> int:
        """Store an inbound message, submit its job and run the queue; returns its row id."""
        row_id = self.store_message(text, sender=sender, channel=channel, at=at)
        self.queue.submit(
            "inbound", {"message_ids": [row_id], "channel": channel}, tenant="default"
        )
        self.queue.drain()
        return row_id

    def run_scheduled(self) -> int:
        """Run the jobs scheduled for later (retries, held messages) as if their time came."""
        later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2)  # Huey: naive UTC
        due = self.queue.huey.read_schedule(later)
        for task in due:
            self.queue.huey.execute(task, later)
        return len(due) + self.queue.drain()

    def store_message(
        self, text: str, *, sender: str = SARAH, channel: str = "twilio", at: datetime | None = None
    ) -> int:
        message = Message(
            id=f"{'SM' if channel == 'twilio' else 'wamid.'}{next(self._ids):08d}",
            chat=sender,
            author="Sarah" if sender == SARAH else sender,
            sent_at=at or self.clock.now,
            text=text,
            source=channel,
        )
        return next(iter(self.store.save_messages([message]).ids.values()))


@pytest.fixture
def make_harness(
    make_settings: Callable[..., Settings], extractor: Extractor, clock: Clock
) -> Iterator[Callable[..., Harness]]:
    stores: list[Store] = []

    def build(**changes: Any) -> Harness:
        settings = make_settings(**changes)
        store = Store.open(settings.database_url)
        stores.append(store)
        context = JobContext(settings, store, services={"extractor": extractor, "clock": clock})
        queue = JobQueue(context)
        context.service("queue", lambda: queue)
        return Harness(store, queue, clock, itertools.count(1))

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
