"""The REST API: tasks and events, calendar feeds, CRM pushes, the roster, extraction.

Every handler works inside the caller's tenant (from its API key): an id of another tenant
is "not found", exactly like an id that does not exist. Agents see and change only the
items assigned to their person; supervisors and admins all items of the tenant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from connectors.calendar.ics import to_ics
from pipeline.domain import ItemType, Message, Priority
from pipeline.jobs.services import extractor
from pipeline.notify.contacts import list_contacts
from pipeline.roster import Person
from pipeline.service.auth import agent_person, caller, require, visible_to
from pipeline.service.errors import ApiError, not_found
from pipeline.service.items import create_item
from pipeline.service.parsing import path_id, read_body, read_query, respond
from pipeline.service.schemas import (
    ContactOut,
    CrmRequest,
    CrmResult,
    EventCreate,
    ExtractedItem,
    ExtractRequest,
    ExtractResult,
    TaskCreate,
    TaskOut,
    TaskPage,
    TaskPatch,
    TaskQuery,
    UserOut,
    Users,
)
from pipeline.service.state import ServiceState, blocking, state
from pipeline.storage import StoredItem
from pipeline.storage.api_keys import ApiKey, Role
from pipeline.sync import item_changed
from pipeline.zones import parse_zone

#: Items read per query when a calendar feed gathers all of a person's items.
_FEED_PAGE = 500


async def list_tasks(request: web.Request) -> web.Response:
    """``GET /tasks``: filtered, soonest first, one page at a time with a ``next`` link."""
    service, key = state(request), caller(request)
    query = read_query(request, TaskQuery)
    zone = service.settings.zone
    person = agent_person(key)
    if person is not None and query.assignee not in (None, person):
        found: list[StoredItem] = []  # another person's tasks: an agent sees none of them
    else:
        found = await blocking(
            service.store.list_items,
            tenant=key.tenant,
            type=query.type,
            status=query.status.value if query.status else None,
            priority=query.priority,
            assignee=person or query.assignee,
            due_from=_aware(query.due_from, zone),
            due_to=_aware(query.due_to, zone),
            search=query.q,
            limit=query.limit + 1,
            offset=query.offset,
        )
    more = len(found) > query.limit
    following = request.rel_url.update_query(offset=query.offset + query.limit, limit=query.limit)
    page = TaskPage(
        items=[TaskOut.of(item) for item in found[: query.limit]],
        limit=query.limit,
        offset=query.offset,
        next=str(following) if more else None,
    )
    return respond(page)


async def get_task(request: web.Request) -> web.Response:
    """``GET /tasks/{id}``."""
    item = await _visible_item(request)
    return respond(TaskOut.of(item))


async def create_task(request: web.Request) -> web.Response:
    """``POST /tasks``: a task written by a person; agents create their own tasks only."""
    key = caller(request)
    body = await read_body(request, TaskCreate)
    assignee = _assignee(key, body.assignee)
    return await _create(request, ItemType.TASK, body.title, body.priority, assignee, due=body.due)


async def create_event(request: web.Request) -> web.Response:
    """``POST /calendar/events``: an event; without ``end`` it lasts the configured length."""
    service, key = state(request), caller(request)
    body = await read_body(request, EventCreate)
    end = body.end or body.start + timedelta(minutes=service.settings.event_minutes)
    if end <= body.start:
        raise ApiError(400, "invalid_request", "end must be after start")
    return await _create(
        request,
        ItemType.EVENT,
        body.title,
        body.priority,
        _assignee(key, body.assignee),
        start=body.start,
        end=end,
    )


async def _create(
    request: web.Request,
    type: ItemType,
    title: str,
    priority: Priority,
    assignee: str | None,
    **times: datetime | None,
) -> web.Response:
    service, key = state(request), caller(request)
    item = await blocking(
        create_item,
        service.store,
        tenant=key.tenant,
        type=type,
        title=title,
        priority=priority,
        author=key.person or key.name,
        assignee=assignee,
        **times,
    )
    await _push_to_crm(service, key.tenant, [item.id])
    return respond(TaskOut.of(item), status=201, headers={"Location": f"/tasks/{item.id}"})


async def update_task(request: web.Request) -> web.Response:
    """``PATCH /tasks/{id}``: complete, reassign, or change due, priority or title."""
    service, key = state(request), caller(request)
    item = await _visible_item(request)
    patch = await read_body(request, TaskPatch)
    changes = patch.changes()
    if not changes:
        raise ApiError(400, "invalid_request", "send at least one field to change")
    if "assignee" in changes:
        changes["assignee"] = _assignee(key, changes["assignee"], required=True)
    if "status" in changes:
        changes["status"] = changes["status"].value
    updated = await blocking(service.store.update_item, item.id, changes, tenant=key.tenant)
    await _push_to_crm(service, key.tenant, [updated.id])
    return respond(TaskOut.of(updated))


async def calendar_feed(request: web.Request) -> web.Response:
    """``GET /calendar/{user}.ics``: every item of one person as iCalendar."""
    service, key = state(request), caller(request)
    handle = request.match_info["user"]
    person = service.roster.person(handle)
    name = person.name if person else handle
    person_of_key = agent_person(key)
    if person_of_key is not None and name != person_of_key:
        raise not_found(f"calendar {handle}")
    zone = parse_zone((person and person.timezone) or service.settings.timezone)
    found = await blocking(_all_items_of, service, key.tenant, name)
    body = to_ics(found, zone=zone, name=f"chat2task: {name}")
    return web.Response(body=body, content_type="text/calendar", charset="utf-8")


def _all_items_of(service: ServiceState, tenant: str, assignee: str) -> list[StoredItem]:
    found: list[StoredItem] = []
    while True:
        page = service.store.list_items(
            tenant=tenant, status=None, assignee=assignee, limit=_FEED_PAGE, offset=len(found)
        )
        found.extend(page)
        if len(page) < _FEED_PAGE:
            return found


async def crm_activities(request: web.Request) -> web.Response:
    """``PUT /crm/activities``: (re)push items to the CRMs; reports what was queued."""
    service, key = state(request), caller(request)
    body = await read_body(request, CrmRequest)
    wanted = list(dict.fromkeys(body.item_ids))
    found = await blocking(service.store.get_items, wanted, tenant=key.tenant)
    queued = sorted(item.id for item in found if visible_to(key, item))
    await _push_to_crm(service, key.tenant, queued)
    missing = [item_id for item_id in wanted if item_id not in set(queued)]
    return respond(CrmResult(queued=queued, not_found=missing), status=202)


async def list_users(request: web.Request) -> web.Response:
    """``GET /users``: the roster with each person's WhatsApp contact and consent."""
    service = state(request)
    key = require(request, Role.ADMIN, Role.SUPERVISOR)
    contacts = [
        ContactOut.model_validate(contact, from_attributes=True)
        for contact in await blocking(list_contacts, service.store, key.tenant)
    ]
    users: list[UserOut] = []
    matched: set[str] = set()
    for person in service.roster.team:
        contact = next((c for c in contacts if _is_contact_of(c, person)), None)
        if contact is not None:
            matched.add(contact.address)
        users.append(
            UserOut(
                name=person.name,
                role=person.role,
                email=person.email,
                phone=person.phone,
                timezone=person.timezone,
                whatsapp=contact,
            )
        )
    others = [c for c in contacts if c.address not in matched]
    return respond(Users(users=users, other_contacts=others))


def _is_contact_of(contact: ContactOut, person: Person) -> bool:
    if contact.person == person.name:
        return True
    return bool(person.phone) and _digits(person.phone or "") == _digits(contact.address)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


async def extract(request: web.Request) -> web.Response:
    """``POST /extract``: the tasks and events in a text, without storing anything."""
    service = state(request)
    body = await read_body(request, ExtractRequest)
    zone = parse_zone(body.timezone or service.settings.timezone)
    sent_at = _aware(body.sent_at, zone) or datetime.now(UTC)
    message = Message(
        id="api",
        chat="api",
        author=body.author,
        sent_at=sent_at.astimezone(zone),
        text=body.text,
        source="api",
    )
    found = await blocking(lambda: extractor(service.queue.context).extract(message))
    return respond(ExtractResult(items=[ExtractedItem.of(item) for item in found]))


async def _visible_item(request: web.Request) -> StoredItem:
    """The item named in the path, if the caller may see it; 404 otherwise."""
    service, key = state(request), caller(request)
    item_id = path_id(request, "id", "task")
    found = await blocking(service.store.get_items, [item_id], tenant=key.tenant)
    if not found or not visible_to(key, found[0]):
        raise not_found(f"task {item_id}")
    return found[0]


def _assignee(key: ApiKey, wanted: str | None, *, required: bool = False) -> str | None:
    """Who a created or changed item goes to; an agent can only give work to itself."""
    person = agent_person(key)
    if person is None:
        return wanted
    if wanted is None and not required:
        return person
    if wanted != person:
        raise ApiError(403, "forbidden", "an agent key can only assign tasks to its own person")
    return wanted


async def _push_to_crm(service: ServiceState, tenant: str, item_ids: Sequence[int]) -> None:
    if item_ids:
        await blocking(item_changed, service.queue.context, service.queue, tenant, item_ids)


def _aware(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A client's naive time is local to ``zone`` (the service's or the one it named)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/tasks", list_tasks)
    app.router.add_post("/tasks", create_task)
    app.router.add_get("/tasks/{id}", get_task)
    app.router.add_patch("/tasks/{id}", update_task)
    app.router.add_post("/calendar/events", create_event)
    app.router.add_get("/calendar/{user}.ics", calendar_feed)
    app.router.add_put("/crm/activities", crm_activities)
    app.router.add_get("/users", list_users)
    app.router.add_post("/extract", extract)
