"""A fake Pipedrive (plain HTTP) holding activities, persons, organisations, deals and users.

Paths (all answer the ``{"success", "data", "additional_data"}`` envelope):

=======================================  ===================================================
``POST /api/v2/activities``              create; 400 ``ERR_BAD_REQUEST`` on v1-style input
``PATCH /api/v2/activities/{id}``        update; 404 ``Activity not found``
``GET /api/v2/activities``               ``updated_since`` (inclusive), ``cursor``, ``limit``
``GET /api/v2/persons/search``           exact name match (``term``)
``GET /api/v2/organizations/search``     exact name match (``term``)
``GET /api/v2/deals``                    ``org_id``, ``status`` (default: not deleted), ``cursor``,
                                         ``limit``
``GET /api/v1/users/me``                 the token's user
``GET /api/v1/activityTypes``            ``key_string`` list
``GET /api/v1/activityFields``           v1 field keys (``user_id``, not ``owner_id``)
=======================================  ===================================================

Auth: ``api_token`` query parameter, else 401 ``{"success": false, "error": "unauthorized
access"}``. v2 rules enforced on writes: ``person_id`` is read-only (link people through
``participants``), ``done`` is a boolean, ``org_id`` and ``deal_id`` are integers, ``owner_id``
an integer of a known user, ``due_time``/``duration`` are ``HH:MM``, ``type`` a known
activity type.
:meth:`FakePipedrive.edit` changes an activity as a user in Pipedrive would.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.rest_server import FakeApi, Reply, Request

TOKEN = "0123456789abcdef0123456789abcdef01234567"
USERS = {12: "Sarah Cole", 13: "John Smith"}
ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")
V1_ACTIVITY_FIELDS = (
    "subject", "type", "due_date", "due_time", "duration", "user_id", "done", "note",
    "org_id", "deal_id", "participants", "location", "public_description", "busy_flag",
)  # fmt: skip
_HHMM = re.compile(r"^\d{2}:\d{2}$")
RATE_LIMITED = Reply(
    429,
    {"success": False, "error": "Request over limit", "errorCode": 429},
    {"x-ratelimit-limit": "80", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"},
)
UNAUTHORIZED = Reply(401, {"success": False, "error": "unauthorized access", "errorCode": 401})


def _ok(data: Any, status: int = 200, **additional: Any) -> Reply:
    return Reply(status, {"success": True, "data": data, "additional_data": additional or None})


def _bad_request(message: str) -> Reply:
    return Reply(400, {"success": False, "error": message, "code": "ERR_BAD_REQUEST"})


class FakePipedrive(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.activities: dict[int, dict[str, Any]] = {}
        self.persons: dict[int, str] = {}
        self.organizations: dict[int, str] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self._next_id = 1

    # -- what tests arrange ---------------------------------------------------------------

    def add_person(self, name: str) -> int:
        return self._add(self.persons, name)

    def add_organization(self, name: str) -> int:
        return self._add(self.organizations, name)

    def add_deal(self, org_id: int, status: str = "open", title: str = "Deal") -> int:
        """A deal of the organisation; ``status`` is ``open``, ``won``, ``lost`` or ``deleted``."""
        deal_id = self._record_id()
        self.deals[deal_id] = {"id": deal_id, "title": title, "org_id": org_id, "status": status}
        return deal_id

    def edit(self, activity_id: int, **changes: Any) -> None:
        """A user changes the activity in Pipedrive."""
        with self.lock:
            self.activities[activity_id].update(changes, update_time=self._stamp())

    def rate_limit_next(self, retry_after: str | None = None) -> None:
        """429 with the ``x-ratelimit-*`` headers, and ``Retry-After`` when given."""
        extra = {"Retry-After": retry_after} if retry_after else {}
        self.fail_next(RATE_LIMITED.status, RATE_LIMITED.body, {**RATE_LIMITED.headers, **extra})

    def expire_token_once(self) -> None:
        self.fail_next(UNAUTHORIZED.status, UNAUTHORIZED.body)

    # -- the API ----------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.query.get("api_token") != TOKEN:
            return UNAUTHORIZED
        method, path = request.method, request.path
        if path == "/api/v2/activities":
            if method == "POST":
                return self._create(request.body)
            return self._list(request.query)
        if match := re.fullmatch(r"/api/v2/activities/(\d+)", path):
            return self._update(int(match.group(1)), request.body)
        if match := re.fullmatch(r"/api/v2/(persons|organizations)/search", path):
            return self._search(getattr(self, match.group(1)), match.group(1), request.query)
        if path == "/api/v2/deals" and method == "GET":
            return self._deals(request.query)
        if path == "/api/v1/users/me":
            return _ok({"id": 12, "name": USERS[12], "email": "sarah@example.com"})
        if path == "/api/v1/activityTypes":
            return _ok([{"key_string": t, "active_flag": True} for t in ACTIVITY_TYPES])
        if path == "/api/v1/activityFields":
            return _ok([{"key": k} for k in V1_ACTIVITY_FIELDS])
        return Reply(404, {"success": False, "error": f"no route {method} {path}"})

    def _create(self, body: dict[str, Any]) -> Reply:
        if problem := _v2_problem(body):
            return _bad_request(problem)
        activity_id = self._next_id
        self._next_id += 1
        stamp = self._stamp()
        self.activities[activity_id] = {
            "id": activity_id,
            "done": False,
            "owner_id": 12,
            "add_time": stamp,
            **body,
            "update_time": stamp,
        }
        return _ok(self.activities[activity_id], 201)

    def _update(self, activity_id: int, body: dict[str, Any]) -> Reply:
        if activity_id not in self.activities:
            return Reply(404, {"success": False, "error": "Activity not found"})
        if problem := _v2_problem(body):
            return _bad_request(problem)
        self.activities[activity_id].update(body, update_time=self._stamp())
        return _ok(self.activities[activity_id])

    def _list(self, query: dict[str, str]) -> Reply:
        since = query.get("updated_since", "")
        found = sorted(
            (a for a in self.activities.values() if a["update_time"] >= since),
            key=lambda a: (a["update_time"], a["id"]),
        )
        return _page(found, query)

    def _deals(self, query: dict[str, str]) -> Reply:
        org, status = query.get("org_id"), query.get("status")
        found = [
            d
            for d in self.deals.values()
            if (org is None or d["org_id"] == int(org))
            and (d["status"] == status if status else d["status"] != "deleted")
        ]
        return _page(found, query)

    def _search(self, records: dict[int, str], kind: str, query: dict[str, str]) -> Reply:
        term = query.get("term", "")
        items = [
            {"result_score": 1.0, "item": {"id": i, "type": kind.removesuffix("s"), "name": n}}
            for i, n in records.items()
            if n.lower() == term.lower()
        ]
        return _ok({"items": items})

    def _add(self, records: dict[int, str], name: str) -> int:
        record_id = self._record_id()
        records[record_id] = name
        return record_id

    def _record_id(self) -> int:
        """Ids distinct across persons, organisations and deals, so a mix-up shows."""
        return 100 + len(self.persons) + len(self.organizations) + len(self.deals)

    def _stamp(self) -> str:
        return self.tick().strftime("%Y-%m-%dT%H:%M:%SZ")


def _page(found: list[dict[str, Any]], query: dict[str, str]) -> Reply:
    """One page of ``found`` after ``cursor`` (an offset here; opaque to clients)."""
    start, limit = int(query.get("cursor", 0)), int(query.get("limit", 100))
    more = start + limit < len(found)
    return _ok(found[start : start + limit], next_cursor=str(start + limit) if more else None)


def _v2_problem(body: dict[str, Any]) -> str | None:
    """The first v2 rule the body breaks, in Pipedrive's words where known."""
    if "person_id" in body:
        return "'person_id' is a read-only field. Use 'participants' instead."
    if "user_id" in body:
        return "'user_id' is not a valid field; use 'owner_id'"
    if "done" in body and not isinstance(body["done"], bool):
        return "'done' must be a boolean"
    for name in ("org_id", "deal_id"):
        if name in body and not isinstance(body[name], int):
            return f"'{name}' must be an integer"
    if "owner_id" in body and body["owner_id"] not in USERS:
        return f"Owner with id {body['owner_id']!r} does not exist"
    for name in ("due_time", "duration"):
        if name in body and not _HHMM.match(str(body[name])):
            return f"'{name}' must be in HH:MM format"
    if "type" in body and body["type"] not in ACTIVITY_TYPES:
        return f"Activity type '{body['type']}' does not exist"
    return None
