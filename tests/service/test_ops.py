"""Operations over HTTP: /healthz, /metrics, the OpenAPI document, redacted JSON logs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import create_engine, make_url, text

from pipeline.config import Settings
from pipeline.jobs.queue import JobQueue
from pipeline.service.app import create_app
from pipeline.storage import Store
from tests.service.conftest import Client, ClientFactory, Keys, bearer, twilio_signature
from tests.service.test_webhooks_twilio import inbound

pytestmark = pytest.mark.asyncio


async def test_healthz_ok(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}


def take_away(database_url: str) -> None:
    """Remove the database: the SQLite folder (so the file cannot be created again), or the
    PostgreSQL database, connections and all."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        shutil.rmtree(Path(url.database or "").parent)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
    admin.dispose()


async def test_healthz_503_when_the_database_is_gone(
    client: Client, store: Store, service_settings: Settings
) -> None:
    store.close()  # drop pooled connections: the next one must connect again
    take_away(service_settings.database_url)
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body == {"status": "unavailable", "checks": {"database": "failed", "queue": "ok"}}


async def test_metrics_expose_webhook_queue_and_delivery_figures(client: Client) -> None:
    params = inbound("SMmetrics")
    url = str(client.make_url("/webhooks/twilio"))
    await client.post(
        "/webhooks/twilio",
        data=params,
        headers={"X-Twilio-Signature": twilio_signature(url, params)},
    )
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    for name in (
        'chat2task_messages_in_total{channel="twilio"}',
        'chat2task_webhook_seconds_bucket{channel="twilio"',
        "chat2task_queue_depth 1.0",
        "# TYPE chat2task_outbound_messages gauge",
        "chat2task_items_created_total",
        "chat2task_extraction_seconds",
    ):
        assert name in text, name


async def test_metrics_need_the_token_once_one_is_set(
    aiohttp_client: ClientFactory, service_settings: Settings, store: Store, queue: JobQueue
) -> None:
    service = service_settings.service.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    settings = service_settings.model_copy(update={"service": service})
    client = await aiohttp_client(create_app(settings, store=store, queue=queue))

    for headers in ({}, bearer("wrong"), {"Authorization": "Basic c2NyYXBlLW1l"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status == 401
        assert (await refused.json())["error"]["code"] == "unauthorized"
    allowed = await client.get("/metrics", headers=bearer("scrape-me"))
    assert allowed.status == 200
    assert "chat2task_queue_depth" in await allowed.text()


async def test_openapi_document_lists_every_route(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    app = client.app
    assert app is not None
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert documented == served
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}


async def test_access_log_lines_are_redacted(
    aiohttp_client: ClientFactory,
    service_settings: Settings,
    store: Store,
    queue: JobQueue,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pipeline.service.logging import AccessLogger, JsonFormatter

    app = create_app(service_settings, store=store, queue=queue)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogger)
    client = await aiohttp_client(server)
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        response = await client.get("/calendar/+447700900102.ics", headers=bearer(keys.admin))
        assert response.status == 200
    [record] = [r for r in caplog.records if r.name == "aiohttp.access"]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["path"] == "/calendar/+•••••••••102.ics"
    assert (entry["method"], entry["status"]) == ("GET", 200)
    assert "7700900102" not in json.dumps(entry)
