"""A fake HubSpot portal (plain HTTP) holding tasks, meetings, contacts, companies and deals.

==========================================================  ===================================
``POST /crm/v3/objects/{type}/batch/upsert``                on a unique ``idProperty``; results
                                                            carry ``new``
``POST /crm/v3/objects/{type}/search``                      ``EQ``, ``NEQ``, ``GT``, ``GTE``,
                                                            ``LT``, ``LTE``, ``HAS_PROPERTY``;
                                                            ``associations.{type}`` ``EQ`` an id;
                                                            ``limit``/``after`` paging
``PUT /crm/v4/objects/{from}/{id}/associations/default/…``  the default association, answered
                                                            with its HubSpot-defined type id
``GET /crm/v3/properties/{type}``                           names, types, enumeration options,
                                                            ``hasUniqueValue``
``GET /crm/v3/owners``                                      ``limit``/``after`` paging
==========================================================  ===================================

Auth: ``Authorization: Bearer <TOKEN>``, else 401 ``INVALID_AUTHENTICATION``. Writes are
checked like a portal: unknown properties, enumeration options, datetimes (ISO 8601 or
epoch milliseconds, stored as ISO), ``hs_timestamp`` required on create; errors are
HubSpot's ``{"status": "error", "message", "category", "correlationId"}``.
:meth:`FakeHubSpot.edit` changes a record as a user in HubSpot would; :meth:`FakeHubSpot.add_deal`
makes a deal of a company. ``associations`` holds every link as ``(from type, id, to type, id)``.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from tests.fakes.rest_server import FakeApi, Reply, Request

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
ID_PROPERTY = "chat2task_id"
SARAH, JOHN = "75000001", "75000002"
OWNERS = {SARAH: ("Sarah", "Cole"), JOHN: ("John", "Smith")}

_TEXT, _DATETIME, _ENUM, _BOOL = "string", "datetime", "enumeration", "bool"
_OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "contractsent")
_COMMON: dict[str, tuple[str, tuple[str, ...]]] = {
    "hs_object_id": (_TEXT, ()),
    "hs_createdate": (_DATETIME, ()),
    "hs_lastmodifieddate": (_DATETIME, ()),
    "hubspot_owner_id": (_TEXT, ()),
}
_ENGAGEMENT = {**_COMMON, "hs_timestamp": (_DATETIME, ()), ID_PROPERTY: (_TEXT, ())}
#: Property name -> (type, enumeration options), per object type.
SCHEMA: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "tasks": {
        **_ENGAGEMENT,
        "hs_task_subject": (_TEXT, ()),
        "hs_task_body": (_TEXT, ()),
        "hs_task_status": (
            _ENUM,
            ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        ),
        "hs_task_priority": (_ENUM, ("NONE", "LOW", "MEDIUM", "HIGH")),
        "hs_task_type": (_ENUM, ("EMAIL", "CALL", "TODO")),
    },
    "meetings": {
        **_ENGAGEMENT,
        "hs_meeting_title": (_TEXT, ()),
        "hs_meeting_body": (_TEXT, ()),
        "hs_meeting_start_time": (_DATETIME, ()),
        "hs_meeting_end_time": (_DATETIME, ()),
        "hs_meeting_outcome": (
            _ENUM,
            ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
        ),
    },
    "contacts": {**_COMMON, "firstname": (_TEXT, ()), "lastname": (_TEXT, ())},
    "companies": {**_COMMON, "name": (_TEXT, ())},
    "deals": {
        **_COMMON,
        "dealname": (_TEXT, ()),
        "pipeline": (_ENUM, ("default",)),
        "dealstage": (_ENUM, (*_OPEN_STAGES, "closedwon", "closedlost")),
        "hs_is_closed": (_BOOL, ("true", "false")),
    },
}
#: The default association's type id, per (from, to), as HubSpot defines it.
DEFAULT_ASSOCIATIONS = {
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("tasks", "deals"): 216,
    ("meetings", "contacts"): 200,
    ("meetings", "companies"): 188,
    ("meetings", "deals"): 212,
}
#: The object types the search's ``associations.{type}`` pseudo-properties name.
_PSEUDO = {"contact": "contacts", "company": "companies", "deal": "deals"}
UNAUTHORIZED = Reply(
    401,
    {
        "status": "error",
        "message": "Authentication credentials not found. This API supports OAuth 2.0 "
        "authentication and you can find more details at https://developers.hubspot.com/docs",
        "correlationId": "0c4f3d1e-0000-4000-8000-000000000401",
        "category": "INVALID_AUTHENTICATION",
    },
)
RATE_LIMITED = Reply(
    429,
    {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "0c4f3d1e-0000-4000-8000-000000000429",
        "policyName": "TEN_SECONDLY_ROLLING",
        "category": "RATE_LIMITS",
    },
    {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "0",
    },
)


def _error(status: int, category: str, message: str) -> Reply:
    body = {
        "status": "error",
        "message": message,
        "correlationId": f"0c4f3d1e-0000-4000-8000-000000000{status}",
        "category": category,
    }
    return Reply(status, body)


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _instant(value: str) -> datetime:
    """A HubSpot datetime value: epoch milliseconds or ISO 8601."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return datetime.fromisoformat(value)


class FakeHubSpot(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, dict[str, str]]] = {name: {} for name in SCHEMA}
        self.associations: set[tuple[str, str, str, str]] = set()
        self._ids = itertools.count(1001)

    # -- what tests arrange ---------------------------------------------------------------

    def add(self, object_type: str, **properties: str) -> str:
        record_id = str(next(self._ids))
        stamp = _iso(self.tick())
        self.objects[object_type][record_id] = {
            **properties,
            "hs_object_id": record_id,
            "hs_createdate": stamp,
            "hs_lastmodifieddate": stamp,
        }
        return record_id

    def edit(self, object_type: str, record_id: str, **properties: str) -> None:
        """A user changes the record in HubSpot."""
        with self.lock:
            self._change(object_type, record_id, properties)

    def _change(self, object_type: str, record_id: str, properties: dict[str, str]) -> None:
        record = self.objects[object_type][record_id]
        record.update(properties, hs_lastmodifieddate=_iso(self.tick()))

    def add_deal(self, company: str, dealname: str, *, stage: str = _OPEN_STAGES[0]) -> str:
        """A deal of ``company`` in the default pipeline, ``hs_is_closed`` derived from the stage
        as HubSpot does."""
        closed = str(stage not in _OPEN_STAGES).lower()
        deal = self.add(
            "deals", dealname=dealname, pipeline="default", dealstage=stage, hs_is_closed=closed
        )
        self.associations.add(("deals", deal, "companies", company))
        return deal

    def rate_limit_next(self, retry_after: str | None = None) -> None:
        extra = {"Retry-After": retry_after} if retry_after else {}
        self.fail_next(RATE_LIMITED.status, RATE_LIMITED.body, {**RATE_LIMITED.headers, **extra})

    def by_id_property(self, object_type: str, value: str) -> list[dict[str, str]]:
        return [r for r in self.objects[object_type].values() if r.get(ID_PROPERTY) == value]

    # -- the API ----------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return UNAUTHORIZED
        method, path, body = request.method, request.path, request.body or {}
        if match := re.fullmatch(r"/crm/v3/objects/(\w+)/batch/upsert", path):
            return self._upsert(match.group(1), body.get("inputs", []))
        if match := re.fullmatch(r"/crm/v3/objects/(\w+)/search", path):
            return self._search(match.group(1), body)
        pattern = r"/crm/v4/objects/(\w+)/(\w+)/associations/default/(\w+)/(\w+)"
        if method == "PUT" and (match := re.fullmatch(pattern, path)):
            return self._associate(*match.groups())
        if match := re.fullmatch(r"/crm/v3/properties/(\w+)", path):
            return self._properties(match.group(1))
        if path.rstrip("/") == "/crm/v3/owners":
            return self._owners(request.query)
        return _error(404, "OBJECT_NOT_FOUND", f"no route {method} {path}")

    def _upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> Reply:
        if object_type not in SCHEMA:
            return _error(
                400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}"
            )
        started = _iso(self.tick())
        results = []
        for one in inputs:
            key, value, properties = one.get("idProperty"), one["id"], one.get("properties", {})
            if key != ID_PROPERTY:
                return _error(
                    400, "VALIDATION_ERROR", f"{key} is not a unique property of {object_type}"
                )
            matches = [i for i, r in self.objects[object_type].items() if r.get(key) == value]
            if problem := self._invalid(object_type, properties, creating=not matches):
                return _error(400, "VALIDATION_ERROR", problem)
            stored = {**properties, **_normalised(object_type, properties), key: value}
            if matches:
                record_id = matches[0]
                self._change(object_type, record_id, stored)
            else:
                record_id = self.add(object_type, **stored)
            results.append({**self._record(object_type, record_id), "new": not matches})
        return Reply(
            200,
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": _iso(self.tick()),
            },
        )

    def _invalid(
        self, object_type: str, properties: dict[str, Any], *, creating: bool
    ) -> str | None:
        schema = SCHEMA[object_type]
        problems = []
        for name, value in properties.items():
            kind, options = schema.get(name, (None, ()))
            if kind is None:
                problems.append(f'Property "{name}" does not exist')
            elif kind == _ENUM and value not in options:
                problems.append(
                    f"{value} was not one of the allowed options: [{', '.join(options)}]"
                )
            elif kind == _DATETIME:
                try:
                    _instant(str(value))
                except ValueError:
                    problems.append(f"{value} is not a valid datetime for {name}")
        if creating and "hs_timestamp" in schema and "hs_timestamp" not in properties:
            problems.append("hs_timestamp is required")
        return f"Property values were not valid: {'; '.join(problems)}" if problems else None

    def _record(
        self, object_type: str, record_id: str, wanted: list[str] | None = None
    ) -> dict[str, Any]:
        record = self.objects[object_type][record_id]
        defaults = ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"]
        shown = record if wanted is None else {k: record.get(k) for k in [*defaults, *wanted]}
        return {
            "id": record_id,
            "properties": shown,
            "createdAt": record["hs_createdate"],
            "updatedAt": record["hs_lastmodifieddate"],
            "archived": False,
        }

    def _search(self, object_type: str, body: dict[str, Any]) -> Reply:
        groups = body.get("filterGroups") or [{"filters": []}]
        for search in (f for g in groups for f in g["filters"]):
            name = search["propertyName"]
            if name.startswith("associations.") and (
                name.removeprefix("associations.") not in _PSEUDO or search["operator"] != "EQ"
            ):
                return _error(
                    400, "VALIDATION_ERROR", f"cannot filter on {name} {search['operator']}"
                )
        found = [
            record_id
            for record_id in self.objects[object_type]
            if any(
                all(self._matches(object_type, record_id, f) for f in g["filters"]) for g in groups
            )
        ]
        start, limit = int(body.get("after") or 0), int(body.get("limit") or 10)
        page = found[start : start + limit]
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [self._record(object_type, i, body.get("properties", [])) for i in page],
        }
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return Reply(200, answer)

    def _matches(self, object_type: str, record_id: str, search: dict[str, Any]) -> bool:
        name = search["propertyName"]
        if not name.startswith("associations."):
            return _holds(object_type, self.objects[object_type][record_id], search)
        # Associated, either way, with the record given.
        other, other_id = _PSEUDO[name.removeprefix("associations.")], str(search["value"])
        pairs = {
            (object_type, record_id, other, other_id),
            (other, other_id, object_type, record_id),
        }
        return bool(pairs & self.associations)

    def _associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> Reply:
        for object_type, record_id in ((from_type, from_id), (to_type, to_id)):
            if record_id not in self.objects.get(object_type, {}):
                return _error(404, "OBJECT_NOT_FOUND", f"{object_type} {record_id} does not exist")
        if (type_id := DEFAULT_ASSOCIATIONS.get((from_type, to_type))) is None:
            return _error(400, "VALIDATION_ERROR", f"no association from {from_type} to {to_type}")
        self.associations.add((from_type, from_id, to_type, to_id))
        result = {
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": type_id,
            },
            "from": {"id": from_id},
            "to": {"id": to_id},
        }
        stamp = _iso(self.tick())
        return Reply(
            200,
            {"status": "COMPLETE", "results": [result], "startedAt": stamp, "completedAt": stamp},
        )

    def _properties(self, object_type: str) -> Reply:
        def describe(name: str, kind: str, options: tuple[str, ...]) -> dict[str, Any]:
            return {
                "name": name,
                "label": name,
                "type": kind,
                "fieldType": {_ENUM: "select", _BOOL: "booleancheckbox"}.get(kind, "text"),
                "groupName": "engagement",
                "description": "",
                "hasUniqueValue": name == ID_PROPERTY,
                "options": [
                    {"label": o, "value": o, "hidden": False, "displayOrder": n}
                    for n, o in enumerate(options)
                ],
            }

        return Reply(
            200, {"results": [describe(n, *spec) for n, spec in SCHEMA[object_type].items()]}
        )

    def _owners(self, query: dict[str, str]) -> Reply:
        start, limit = int(query.get("after") or 0), int(query.get("limit") or 100)
        owners = [
            {
                "id": owner_id,
                "email": f"{first.lower()}@example.com",
                "firstName": first,
                "lastName": last,
                "type": "PERSON",
                "archived": False,
                "createdAt": "2026-01-05T09:00:00.000Z",
                "updatedAt": "2026-01-05T09:00:00.000Z",
            }
            for owner_id, (first, last) in OWNERS.items()
        ]
        answer: dict[str, Any] = {"results": owners[start : start + limit]}
        if start + limit < len(owners):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return Reply(200, answer)


def _normalised(object_type: str, properties: dict[str, Any]) -> dict[str, str]:
    """Datetimes as HubSpot returns them (ISO 8601, milliseconds, ``Z``)."""
    schema = SCHEMA[object_type]
    return {k: _iso(_instant(str(v))) for k, v in properties.items() if schema[k][0] == _DATETIME}


def _holds(object_type: str, record: dict[str, str], search: dict[str, Any]) -> bool:
    name, operator = search["propertyName"], search["operator"]
    value = record.get(name)
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return (value not in (None, "")) == (operator == "HAS_PROPERTY")
    if value is None:
        return operator == "NEQ"
    have: Any
    wanted: Any = search["value"]
    if SCHEMA[object_type].get(name, ("",))[0] == _DATETIME:
        have, wanted = _instant(value), _instant(str(wanted))
    else:
        have, wanted = value.casefold(), str(wanted).casefold()  # EQ ignores case
    return {
        "EQ": have == wanted,
        "NEQ": have != wanted,
        "GT": have > wanted,
        "GTE": have >= wanted,
        "LT": have < wanted,
        "LTE": have <= wanted,
    }[operator]
