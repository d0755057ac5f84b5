"""``POST /extract`` with the session's extractor (spaCy loads once per test session)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.extract import Extractor
from tests.service.conftest import Client, Keys, bearer

pytestmark = pytest.mark.asyncio


@pytest.fixture
def job_services(extractor: Extractor) -> dict[str, Any]:
    return {"extractor": extractor}


async def test_extract_resolves_dates_against_the_given_time(client: Client, keys: Keys) -> None:
    body = {
        "text": "John, can you send the Q3 report to Acme by Friday?",
        "sent_at": "2026-11-23T10:00:00",
        "timezone": "Europe/London",
        "author": "Sarah Cole",
    }
    response = await client.post("/extract", json=body, headers=bearer(keys.agent))
    assert response.status == 200
    [item] = (await response.json())["items"]
    assert item["type"] == "task"
    assert item["assignee"] == "John Smith"
    assert item["due"].startswith("2026-11-27")


async def test_extract_refuses_an_unknown_zone(client: Client, keys: Keys) -> None:
    response = await client.post(
        "/extract",
        json={"text": "call Acme", "timezone": "Mars/Olympus"},
        headers=bearer(keys.admin),
    )
    assert response.status == 400
    assert "Mars/Olympus" in (await response.json())["error"]["message"]
