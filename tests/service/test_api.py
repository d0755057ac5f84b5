"""The REST API over HTTP: CRUD, filters, pages, roles, tenant isolation, keys."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.jobs.queue import JobQueue
from pipeline.service.app import create_app
from pipeline.storage import Store
from pipeline.storage.api_keys import list_keys, revoke_key
from tests.service.conftest import Client, ClientFactory, Keys, bearer

pytestmark = pytest.mark.asyncio


async def create(client: Client, key: str, path: str = "/tasks", **body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=bearer(key))
    assert response.status == 201, await response.text()
    assert response.headers["Location"].startswith("/tasks/")
    created: dict[str, Any] = await response.json()
    return created


async def listing(client: Client, key: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/tasks", params=params, headers=bearer(key))
    assert response.status == 200, await response.text()
    page: dict[str, Any] = await response.json()
    return page


async def test_create_read_update_a_task(client: Client, keys: Keys) -> None:
    task = await create(
        client,
        keys.supervisor,
        title="Send Q3 report to Acme",
        priority="high",
        due="2026-11-27T17:00:00+00:00",
        assignee="John Smith",
    )
    assert (task["type"], task["status"], task["priority"]) == ("task", "open", "high")
    assert task["due"] == "2026-11-27T17:00:00Z"
    read = await client.get(f"/tasks/{task['id']}", headers=bearer(keys.supervisor))
    assert (await read.json()) == task

    patch = {"status": "done", "priority": "urgent", "title": "Send Q3 report", "due": None}
    changed = await client.patch(f"/tasks/{task['id']}", json=patch, headers=bearer(keys.admin))
    assert changed.status == 200
    body = await changed.json()
    assert (body["status"], body["priority"], body["title"], body["due"]) == (
        "done",
        "urgent",
        "Send Q3 report",
        None,
    )
    assert body["assignee"] == "John Smith"  # absent from the patch: kept
    reassigned = await client.patch(
        f"/tasks/{task['id']}", json={"assignee": "Priya Shah"}, headers=bearer(keys.admin)
    )
    assert (await reassigned.json())["assignee"] == "Priya Shah"


async def test_create_an_event_with_the_default_length(client: Client, keys: Keys) -> None:
    event = await create(
        client,
        keys.supervisor,
        "/calendar/events",
        title="Meeting with Globex",
        start="2026-11-27T15:00:00+01:00",
    )
    assert event["type"] == "event"
    assert (event["start"], event["end"]) == ("2026-11-27T14:00:00Z", "2026-11-27T15:00:00Z")
    listed = await listing(client, keys.supervisor, type="event")
    assert [item["id"] for item in listed["items"]] == [event["id"]]


async def test_filters(client: Client, keys: Keys) -> None:
    key = keys.supervisor
    a = await create(
        client,
        key,
        title="Call Acme",
        priority="urgent",
        assignee="John Smith",
        due="2026-11-24T10:00:00Z",
    )
    b = await create(
        client, key, title="Draft NDA", assignee="Priya Shah", due="2026-11-30T10:00:00Z"
    )
    c = await create(client, key, title="Book the offsite")
    await client.patch(f"/tasks/{c['id']}", json={"status": "done"}, headers=bearer(key))

    def ids(page: dict[str, Any]) -> list[int]:
        return [item["id"] for item in page["items"]]

    assert ids(await listing(client, key)) == [a["id"], b["id"], c["id"]]  # soonest first
    assert ids(await listing(client, key, status="open")) == [a["id"], b["id"]]
    assert ids(await listing(client, key, status="done")) == [c["id"]]
    assert ids(await listing(client, key, priority="urgent")) == [a["id"]]
    assert ids(await listing(client, key, assignee="Priya Shah")) == [b["id"]]
    assert ids(await listing(client, key, q="nda")) == [b["id"]]
    window = {"due_from": "2026-11-25T00:00:00Z", "due_to": "2026-12-01T00:00:00Z"}
    assert ids(await listing(client, key, **window)) == [b["id"]]
    assert ids(await listing(client, key, type="event")) == []


async def test_pages_follow_next_links(client: Client, keys: Keys) -> None:
    made = [(await create(client, keys.supervisor, title=f"Task {n}"))["id"] for n in range(5)]
    seen: list[int] = []
    page = await listing(client, keys.supervisor, limit=2)
    while True:
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        response = await client.get(page["next"], headers=bearer(keys.supervisor))
        page = await response.json()
    assert seen == made
    assert page["offset"] == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"status": "finished"}, "status"),
        ({"due_from": "soon"}, "due_from"),
    ],
)
async def test_bad_filters_are_400_naming_the_parameter(
    client: Client, keys: Keys, params: dict[str, str], field: str
) -> None:
    response = await client.get("/tasks", params=params, headers=bearer(keys.admin))
    assert response.status == 400
    assert field in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{", "not JSON"),
        (b'{"title": ""}', "title"),
        (b'{"title": "x", "due": "2026-11-27T17:00:00"}', "due"),  # no zone: ambiguous
        (b'{"title": "x", "colour": "red"}', "colour"),
    ],
)
async def test_bad_bodies_are_400_naming_the_problem(
    client: Client, keys: Keys, body: bytes, problem: str
) -> None:
    response = await client.post("/tasks", data=body, headers=bearer(keys.admin))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    assert problem in error["message"]


async def test_agent_sees_and_changes_only_its_own_tasks(client: Client, keys: Keys) -> None:
    mine = await create(client, keys.supervisor, title="Call Acme", assignee="John Smith")
    theirs = await create(client, keys.supervisor, title="Draft NDA", assignee="Priya Shah")
    unassigned = await create(client, keys.supervisor, title="Book the offsite")

    assert [i["id"] for i in (await listing(client, keys.agent))["items"]] == [mine["id"]]
    assert (await listing(client, keys.agent, assignee="Priya Shah"))["items"] == []
    for hidden in (theirs, unassigned):
        read = await client.get(f"/tasks/{hidden['id']}", headers=bearer(keys.agent))
        assert read.status == 404
        patched = await client.patch(
            f"/tasks/{hidden['id']}", json={"status": "done"}, headers=bearer(keys.agent)
        )
        assert patched.status == 404
    done = await client.patch(
        f"/tasks/{mine['id']}", json={"status": "done"}, headers=bearer(keys.agent)
    )
    assert (await done.json())["status"] == "done"
    give_away = await client.patch(
        f"/tasks/{mine['id']}", json={"assignee": "Priya Shah"}, headers=bearer(keys.agent)
    )
    assert give_away.status == 403
    own = await create(client, keys.agent, title="Prepare demo")
    assert own["assignee"] == "John Smith"
    assert (await client.get("/users", headers=bearer(keys.agent))).status == 403


async def test_another_tenant_gets_404_for_everything(client: Client, keys: Keys) -> None:
    task = await create(client, keys.admin, title="Call Acme", assignee="John Smith")
    intruder = bearer(keys.other_tenant)
    assert (await client.get(f"/tasks/{task['id']}", headers=intruder)).status == 404
    patched = await client.patch(f"/tasks/{task['id']}", json={"status": "done"}, headers=intruder)
    assert patched.status == 404
    assert (await (await client.get("/tasks", headers=intruder)).json())["items"] == []
    crm = await client.put("/crm/activities", json={"item_ids": [task["id"]]}, headers=intruder)
    assert await crm.json() == {"queued": [], "not_found": [task["id"]]}
    still = await client.get(f"/tasks/{task['id']}", headers=bearer(keys.admin))
    assert (await still.json())["status"] == "open"


async def test_missing_unknown_and_revoked_keys_are_401(
    client: Client, keys: Keys, store: Store
) -> None:
    assert (await client.get("/tasks")).status == 401
    assert (await client.get("/tasks", headers=bearer("c2t_nope"))).status == 401
    assert (await client.get("/tasks", headers={"X-API-Key": keys.supervisor})).status == 200
    [supervisor] = [k for k in list_keys(store, tenant="default") if k.role == "supervisor"]
    assert revoke_key(store, supervisor.id)
    response = await client.get("/tasks", headers={"X-API-Key": keys.supervisor})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_admin_manages_keys_of_its_own_tenant(client: Client, keys: Keys) -> None:
    made = await client.post(
        "/keys",
        json={"name": "ci", "role": "agent", "person": "Priya Shah"},
        headers=bearer(keys.admin),
    )
    assert made.status == 201
    created = await made.json()
    assert created["secret"].startswith(created["key"]["prefix"])
    assert (await client.get("/tasks", headers=bearer(created["secret"]))).status == 200
    listed = await (await client.get("/keys", headers=bearer(keys.admin))).json()
    assert "secret" not in str(listed)
    assert len(listed["keys"]) == 4  # admin, supervisor, agent, ci: not the other tenant's
    assert (await client.get("/keys", headers=bearer(keys.supervisor))).status == 403
    other = await client.delete(f"/keys/{created['key']['id']}", headers=bearer(keys.other_tenant))
    assert other.status == 404
    revoked = await client.delete(f"/keys/{created['key']['id']}", headers=bearer(keys.admin))
    assert revoked.status == 204
    assert (await client.get("/tasks", headers=bearer(created["secret"]))).status == 401


async def test_crm_activities_reports_what_was_queued(client: Client, keys: Keys) -> None:
    task = await create(client, keys.admin, title="Call Acme")
    response = await client.put(
        "/crm/activities", json={"item_ids": [task["id"], 999]}, headers=bearer(keys.supervisor)
    )
    assert response.status == 202
    assert await response.json() == {"queued": [task["id"]], "not_found": [999]}


async def test_calendar_feed_of_a_person(client: Client, keys: Keys) -> None:
    await create(
        client, keys.admin, title="Call Acme", assignee="Will Turner", due="2026-11-27T17:00:00Z"
    )
    await create(
        client,
        keys.admin,
        "/calendar/events",
        title="Globex demo",
        assignee="Will Turner",
        start="2026-11-27T15:00:00Z",
    )
    await create(client, keys.admin, title="Not Will's", assignee="John Smith")
    response = await client.get("/calendar/Will.ics", headers=bearer(keys.admin))
    assert response.status == 200
    assert response.content_type == "text/calendar"
    feed = await response.text()
    assert "BEGIN:VTODO" in feed and "SUMMARY:Call Acme" in feed
    assert "BEGIN:VEVENT" in feed and "TZID=America/New_York" in feed
    assert "Not Will" not in feed
    assert (await client.get("/calendar/Will.ics", headers=bearer(keys.agent))).status == 404
    assert (await client.get("/calendar/John.ics", headers=bearer(keys.agent))).status == 200


async def test_users_lists_the_roster_with_contacts(
    client: Client, keys: Keys, store: Store
) -> None:
    from datetime import UTC, datetime

    from pipeline.notify.contacts import set_opt_out, touch

    now = datetime.now(UTC)
    touch(store, "default", "+447700900102", "twilio", "Johnny", now, person="John Smith")
    set_opt_out(store, "default", "+447700900102", True, now)
    touch(store, "default", "+15550009999", "meta", "Stranger", now)
    response = await client.get("/users", headers=bearer(keys.supervisor))
    assert response.status == 200
    body = await response.json()
    users = {user["name"]: user for user in body["users"]}
    assert set(users) == {"Sarah Cole", "John Smith", "Priya Shah", "Will Turner"}
    assert users["John Smith"]["whatsapp"]["opted_out"] is True
    assert users["Sarah Cole"]["whatsapp"] is None
    assert [c["address"] for c in body["other_contacts"]] == ["+15550009999"]


async def test_unknown_paths_and_methods_use_the_error_shape(client: Client, keys: Keys) -> None:
    missing = await client.get("/nothing", headers=bearer(keys.admin))
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    wrong = await client.delete("/tasks", headers=bearer(keys.admin))
    assert wrong.status == 405
    assert "GET" in wrong.headers["Allow"]
    for path in ("/tasks/abc", "/tasks/99999999999999999999999", "/tasks/0"):
        assert (await client.get(path, headers=bearer(keys.admin))).status == 404


async def test_a_key_over_its_rate_gets_429_and_others_carry_on(
    aiohttp_client: ClientFactory,
    service_settings: Settings,
    store: Store,
    queue: JobQueue,
    keys: Keys,
) -> None:
    service = service_settings.service.model_copy(update={"api_rate": 2.0})
    settings = service_settings.model_copy(update={"service": service})
    client = await aiohttp_client(create_app(settings, store=store, queue=queue))

    statuses = [(await client.get("/tasks", headers=bearer(keys.admin))).status for _ in range(2)]
    assert statuses == [200, 200]
    refused = await client.get("/tasks", headers=bearer(keys.admin))
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "1"
    assert (await refused.json())["error"]["code"] == "rate_limited"

    assert (await client.get("/tasks", headers=bearer(keys.supervisor))).status == 200
    assert (await client.get("/healthz")).status == 200  # unkeyed paths are not paced
