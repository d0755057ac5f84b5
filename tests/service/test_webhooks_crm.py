"""CRM webhooks over HTTP: each CRM's proof, 404s, and that a nudge queues exactly one pull
(end to end: a change in a fake HubSpot, a signed webhook, the queue drained, the item updated)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from aiohttp import ClientResponse, encode_basic_auth

from connectors.mapping import DEFAULT_MAPPINGS
from pipeline.config import ConnectorSettings, Settings
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.service.app import create_app
from pipeline.storage import ItemStatus, Store
from pipeline.sync import item_changed
from tests.fakes.hubspot import JOHN, SARAH, TOKEN, FakeHubSpot
from tests.fakes.rest_server import serve
from tests.service.conftest import Client, ClientFactory, dumps, queued_jobs
from tests.test_sync import T0, add_items

pytestmark = pytest.mark.asyncio

HUBSPOT_SECRET = "hubspot-client-secret"
PIPEDRIVE_AUTH = ("chat2task", "s3cret:with-colon")
SALESFORCE_TOKEN = "flow-token"
EVENTS = dumps([{"objectId": 1001, "subscriptionType": "object.propertyChange"}])
PULL = ("crm_pull", {"connector": "hubspot"}, "default")


@pytest.fixture
def portal() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    with serve(fake):
        yield fake


@pytest.fixture
def crm_settings(
    service_settings: Settings, portal: FakeHubSpot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    mapping = yaml.safe_load((DEFAULT_MAPPINGS / "hubspot.yaml").read_text(encoding="utf-8"))
    mapping["owners"] = {"Sarah Cole": SARAH, "John Smith": JOHN}
    (tmp_path / "hubspot.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    monkeypatch.setenv("CHAT2TASK_HUBSPOT_WEBHOOK_SECRET", HUBSPOT_SECRET)
    monkeypatch.setenv("CHAT2TASK_PIPEDRIVE_WEBHOOK_SECRET", ":".join(PIPEDRIVE_AUTH))
    monkeypatch.setenv("CHAT2TASK_SALESFORCE_WEBHOOK_SECRET", SALESFORCE_TOKEN)
    monkeypatch.setenv("CHAT2TASK_OLD_WEBHOOK_SECRET", "whatever")
    monkeypatch.delenv("CHAT2TASK_DYNAMICS_WEBHOOK_SECRET", raising=False)
    options = {"access_token": TOKEN, "host": portal.base_url, "timeout": 5}
    connectors = {
        "hubspot": ConnectorSettings(
            type="hubspot", mapping=tmp_path / "hubspot.yaml", options=options
        ),
        # Never built here (a webhook only queues a pull), so they need no options.
        "pipedrive": ConnectorSettings(type="pipedrive"),
        "salesforce": ConnectorSettings(type="salesforce"),
        "dynamics": ConnectorSettings(type="dynamics"),  # no secret: webhooks off
        "old": ConnectorSettings(type="salesforce", enabled=False),
    }
    return service_settings.model_copy(update={"connectors": connectors})


@pytest.fixture
def crm_queue(crm_settings: Settings, store: Store) -> JobQueue:
    return JobQueue(JobContext(crm_settings, store))


@pytest_asyncio.fixture
async def crm_client(
    aiohttp_client: ClientFactory, crm_settings: Settings, store: Store, crm_queue: JobQueue
) -> Client:
    return await aiohttp_client(create_app(crm_settings, store=store, queue=crm_queue))


def hubspot_v3(secret: str, url: str, body: bytes, timestamp: str) -> str:
    """What HubSpot sends: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    signed = b"POST" + url.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


async def post_hubspot(
    client: Client,
    *,
    path: str = "/webhooks/crm/hubspot",
    secret: str = HUBSPOT_SECRET,
    age: timedelta = timedelta(0),
    signed_url: str | None = None,
) -> ClientResponse:
    timestamp = str(int((time.time() - age.total_seconds()) * 1000))
    url = signed_url or str(client.make_url(path))
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": hubspot_v3(secret, url, EVENTS, timestamp),
    }
    return await client.post(path, data=EVENTS, headers=headers)


async def test_signed_hubspot_nudge_queues_one_pull(
    crm_client: Client, crm_queue: JobQueue
) -> None:
    response = await post_hubspot(crm_client)
    assert response.status == 202
    assert await response.json() == {"queued": "crm_pull"}
    assert queued_jobs(crm_queue) == [PULL]


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-secret", timedelta(0)), (HUBSPOT_SECRET, timedelta(minutes=6))],
    ids=["bad-signature", "stale-timestamp"],
)
async def test_hubspot_bad_signature_or_stale_timestamp_is_refused(
    crm_client: Client, crm_queue: JobQueue, secret: str, age: timedelta
) -> None:
    response = await post_hubspot(crm_client, secret=secret, age=age)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "bad_signature"
    assert queued_jobs(crm_queue) == []


async def test_hubspot_signature_covers_the_query_and_the_tenant_must_be_known(
    crm_client: Client, crm_queue: JobQueue
) -> None:
    assert (await post_hubspot(crm_client, path="/webhooks/crm/hubspot?tenant=acme")).status == 202
    refused = await post_hubspot(crm_client, path="/webhooks/crm/hubspot?tenant=globex")
    assert refused.status == 400
    assert queued_jobs(crm_queue) == [("crm_pull", {"connector": "hubspot"}, "acme")]


async def test_hubspot_signs_the_public_url_with_its_escapes_decoded(
    aiohttp_client: ClientFactory, crm_settings: Settings, store: Store, crm_queue: JobQueue
) -> None:
    """Behind a proxy HubSpot signs the URL it called, with ``%3A``, ``%40``… decoded."""
    service = crm_settings.service.model_copy(update={"public_url": "https://hooks.test/a%3Ab%40c"})
    settings = crm_settings.model_copy(update={"service": service})
    client = await aiohttp_client(create_app(settings, store=store, queue=crm_queue))
    signed_url = "https://hooks.test/a:b@c/webhooks/crm/hubspot"
    assert (await post_hubspot(client, signed_url=signed_url)).status == 202
    assert queued_jobs(crm_queue) == [PULL]


@pytest.mark.parametrize(
    ("auth", "status", "queued"),
    [
        (encode_basic_auth(*PIPEDRIVE_AUTH), 202, 1),
        (encode_basic_auth(PIPEDRIVE_AUTH[0], "wrong"), 403, 0),
        (f"Bearer {PIPEDRIVE_AUTH[1]}", 403, 0),
    ],
    ids=["right", "wrong-password", "not-basic"],
)
async def test_pipedrive_basic_auth(
    crm_client: Client, crm_queue: JobQueue, auth: str, status: int, queued: int
) -> None:
    headers = {"Authorization": auth}
    response = await crm_client.post("/webhooks/crm/pipedrive", data=b"{}", headers=headers)
    assert response.status == status
    assert queued_jobs(crm_queue) == [("crm_pull", {"connector": "pipedrive"}, "default")] * queued


@pytest.mark.parametrize(
    ("token", "status", "queued"),
    [(SALESFORCE_TOKEN, 202, 1), ("wrong", 403, 0), (None, 403, 0)],
    ids=["right", "wrong", "none"],
)
async def test_other_crms_send_the_shared_token(
    crm_client: Client, crm_queue: JobQueue, token: str | None, status: int, queued: int
) -> None:
    headers = {"X-Chat2Task-Token": token} if token else {}
    response = await crm_client.post("/webhooks/crm/salesforce", headers=headers)
    assert response.status == status
    assert queued_jobs(crm_queue) == [("crm_pull", {"connector": "salesforce"}, "default")] * queued


@pytest.mark.parametrize("connector", ["nosuch", "old", "dynamics"])
async def test_unknown_disabled_or_secretless_connector_is_404(
    crm_client: Client, crm_queue: JobQueue, connector: str
) -> None:
    response = await crm_client.post(
        f"/webhooks/crm/{connector}", headers={"X-Chat2Task-Token": "whatever"}
    )
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    assert queued_jobs(crm_queue) == []


async def test_a_change_in_hubspot_flows_back_on_its_webhook(
    aiohttp_client: ClientFactory, crm_settings: Settings, store: Store, portal: FakeHubSpot
) -> None:
    # The sync engine builds every enabled connector: keep only the one with a live fake.
    hubspot = {"hubspot": crm_settings.connectors["hubspot"]}
    settings = crm_settings.model_copy(update={"connectors": hubspot})
    queue = JobQueue(JobContext(settings, store))
    client = await aiohttp_client(create_app(settings, store=store, queue=queue))
    [item_id] = add_items(store, "Send the Q3 report")
    item_changed(queue.context, queue, "default", [item_id])
    queue.drain()
    (record,) = portal.by_id_property("tasks", store.get_item(item_id).external_id)
    moved = T0 + timedelta(days=9)
    portal.edit(
        "tasks",
        record["hs_object_id"],
        hs_task_status="COMPLETED",
        hubspot_owner_id=JOHN,
        hs_timestamp=str(int(moved.timestamp() * 1000)),
    )

    assert (await post_hubspot(client)).status == 202
    assert queued_jobs(queue) == [PULL]
    assert queue.drain() == 1

    item = store.get_item(item_id)
    assert (item.status, item.assignee, item.due) == (ItemStatus.DONE, "John Smith", moved)
