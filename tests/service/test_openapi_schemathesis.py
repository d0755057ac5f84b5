"""Schemathesis against the live service: every GET operation of /openapi.json, with
generated parameters, must answer as documented (status, content type, body schema)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from pipeline.config import Settings
from pipeline.jobs.queue import JobQueue
from pipeline.service.app import create_app
from pipeline.storage import Store
from tests.service.conftest import Keys, bearer


@pytest.fixture
def live_url(service_settings: Settings, store: Store, queue: JobQueue) -> Iterator[str]:
    """The app on a loopback port, served from its own thread (schemathesis is synchronous)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(service_settings, store=store, queue=queue))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_get_operations_conform_to_the_document(live_url: str, keys: Keys) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results  # every operation parses
    operations = [r.ok() for r in results if isinstance(r, Ok) and r.ok().method == "get"]
    assert {op.path for op in operations} >= {"/tasks", "/tasks/{id}", "/users", "/healthz"}
    strategy = st.one_of([op.as_strategy() for op in operations])

    @given(case=strategy)
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live_url, headers=bearer(keys.admin))

    conforms()
