"""The service under test: the real aiohttp app on a loopback port, a migrated database on
each backend (SQLite and PostgreSQL), the embedded queue with no workers (so tests see
exactly what was queued)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from pipeline.config import MetaSettings, QueueSettings, ServiceSettings, Settings, TwilioSettings
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.service.app import create_app
from pipeline.storage import Store
from pipeline.storage.api_keys import Role, create_key

TWILIO_TOKEN = "test_auth_token"
META_SECRET = "test_app_secret"
VERIFY_TOKEN = "verify-me"
#: Our numbers: the Twilio sender and the Meta phone-number id both belong to tenant "acme".
ACME_TWILIO = "+14155238886"
ACME_PHONE_ID = "106540352242922"

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
def service_settings(tmp_path: Path, team_file: Path, migrated_db_url: str) -> Settings:
    return Settings(
        database_url=migrated_db_url,
        team_file=team_file,
        timezone="Europe/London",
        service=ServiceSettings(
            twilio=TwilioSettings(auth_token=SecretStr(TWILIO_TOKEN)),
            meta=MetaSettings(
                app_secret=SecretStr(META_SECRET), verify_token=SecretStr(VERIFY_TOKEN)
            ),
            tenants_by_number={ACME_TWILIO: "acme", ACME_PHONE_ID: "acme"},
        ),
        # The queue file lives apart from the database: a test removes the database folder.
        queue=QueueSettings(workers=0, url=f"sqlite:///{tmp_path / 'queue.sqlite3'}"),
    )


@pytest.fixture
def store(service_settings: Settings) -> Iterator[Store]:
    with Store.open(service_settings.database_url) as opened:
        yield opened


@pytest.fixture
def job_services() -> dict[str, Any]:
    """Prebuilt job services; the extraction tests hand in the session's extractor."""
    return {}


@pytest.fixture
def queue(service_settings: Settings, store: Store, job_services: dict[str, Any]) -> JobQueue:
    return JobQueue(JobContext(service_settings, store, services=job_services))


@pytest_asyncio.fixture
async def client(
    aiohttp_client: ClientFactory, service_settings: Settings, store: Store, queue: JobQueue
) -> Client:
    return await aiohttp_client(create_app(service_settings, store=store, queue=queue))


@dataclass(frozen=True)
class Keys:
    admin: str
    supervisor: str
    agent: str  # John Smith's
    other_tenant: str  # an admin of "acme"


@pytest.fixture
def keys(store: Store) -> Keys:
    def make(role: Role, tenant: str = "default", person: str | None = None) -> str:
        return create_key(store, tenant=tenant, role=role, name=role.value, person=person)[1]

    return Keys(
        admin=make(Role.ADMIN),
        supervisor=make(Role.SUPERVISOR),
        agent=make(Role.AGENT, person="John Smith"),
        other_tenant=make(Role.ADMIN, tenant="acme"),
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def twilio_signature(url: str, params: dict[str, str]) -> str:
    return RequestValidator(TWILIO_TOKEN).compute_signature(url, params)


def meta_signature(body: bytes, secret: str = META_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def queued_jobs(queue: JobQueue) -> list[tuple[str, dict[str, Any], str]]:
    """``(kind, payload, tenant)`` of every job waiting in the queue."""
    return [(task.args[0], task.args[1], task.args[2]) for task in queue.huey.pending()]


def dumps(data: Any) -> bytes:
    return json.dumps(data).encode()
