"""A fake Salesforce org (HTTPS): Tasks, Events, Contacts, Leads, Accounts, Opportunities, Users.

=================================================  ==========================================
``POST /services/oauth2/token``                    client-credentials (Basic) and password
                                                   flows; 400 ``invalid_grant`` otherwise
``PATCH /services/data/v59.0/sobjects/{o}/{f}/{v}``  upsert on an External ID field: 201
                                                   ``created: true``, then 200 (or 204)
``GET /services/data/v59.0/sobjects/{o}/describe``  fields, types, picklists, ``externalId``
``GET /services/data/v59.0/query?q=``              a SOQL subset: ``SELECT … FROM … WHERE``
                                                   (``=``, ``!=``, ``>``, ``>=``, ``<``,
                                                   ``IN``, ``AND``; ``true``/``false``)
                                                   ``ORDER BY … LIMIT n``
=================================================  ==========================================

Every data call needs ``Authorization: Bearer <issued token>``, else 401
``INVALID_SESSION_ID``; errors are Salesforce's list ``[{"message", "errorCode", "fields"}]``;
every answer carries ``Sforce-Limit-Info``. Writes are checked like a real org: unknown
fields, restricted picklist values, references to missing records (or of the wrong type),
a WhatId beside a Lead's WhoId, an Event without its time span, the key field repeated in an
upsert body.
"""

from __future__ import annotations

import base64
import itertools
import re
import ssl
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import requests
import trustme
from requests.adapters import HTTPAdapter

from tests.fakes.rest_server import FakeApi, Reply, Request

VERSION = "59.0"
DATA = f"/services/data/v{VERSION}/"
CONSUMER_KEY, CONSUMER_SECRET = "3MVG9fake.key", "fake-secret"
MY_DOMAIN = "acme.my"
EXTERNAL_ID = "Chat2Task_Id__c"
SARAH, JOHN = "005000000000001AAA", "005000000000002AAA"

_TEXT, _DATE, _DATETIME, _REF, _BOOL, _INT = (
    "string",
    "date",
    "datetime",
    "reference",
    "boolean",
    "int",
)
_ACTIVITY = {
    "Id": ("id", None),
    "Subject": ("combobox", None),
    "Description": ("textarea", None),
    "OwnerId": (_REF, ("User",)),
    "WhoId": (_REF, ("Contact", "Lead")),
    "WhatId": (_REF, ("Account", "Opportunity")),
    "SystemModstamp": (_DATETIME, None),
    EXTERNAL_ID: (_TEXT, None),
}
#: Field name -> (type, referenced objects or picklist values).
SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "Task": {
        **_ACTIVITY,
        "ActivityDate": (_DATE, None),
        "Priority": ("picklist", ("High", "Normal", "Low")),
        "Status": (
            "picklist",
            ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
        ),
    },
    "Event": {
        **_ACTIVITY,
        "StartDateTime": (_DATETIME, None),
        "EndDateTime": (_DATETIME, None),
        "ActivityDateTime": (_DATETIME, None),
        "DurationInMinutes": (_INT, None),
        "IsAllDayEvent": (_BOOL, None),
    },
    "Contact": {"Id": ("id", None), "Name": (_TEXT, None)},
    "Lead": {"Id": ("id", None), "Name": (_TEXT, None), "IsConverted": (_BOOL, None)},
    "Account": {"Id": ("id", None), "Name": (_TEXT, None)},
    "Opportunity": {
        "Id": ("id", None),
        "Name": (_TEXT, None),
        "AccountId": (_REF, ("Account",)),
        "IsClosed": (_BOOL, None),  # derived from StageName in a real org
    },
    "User": {"Id": ("id", None), "Name": (_TEXT, None)},
}
_PREFIX = {
    "Task": "00T",
    "Event": "00U",
    "Contact": "003",
    "Lead": "00Q",
    "Account": "001",
    "Opportunity": "006",
    "User": "005",
}
#: What the org fills in when a record is created without it.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "Lead": {"IsConverted": False},
    "Opportunity": {"IsClosed": False},
}
_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code, "fields": fields or []}])


def _stamp(moment: datetime) -> str:
    """Salesforce's datetime format: milliseconds and a ``+0000`` offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class FakeSalesforce(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMA}
        self.tokens: set[str] = set()
        self.logins: list[dict[str, str]] = []
        #: What an upsert that updates answers: 200 with a body (API >= 46) or 204 (older).
        self.update_status = 200
        self._ids = itertools.count(1)
        self.add("User", Id=SARAH, Name="Sarah Cole")
        self.add("User", Id=JOHN, Name="John Smith")

    # -- what tests arrange ---------------------------------------------------------------

    def add(self, sobject: str, **fields: Any) -> str:
        record_id = fields.pop("Id", None) or f"{_PREFIX[sobject]}{next(self._ids):012d}AAA"
        stamp = _stamp(self.tick())
        record = {"Id": record_id, **_DEFAULTS.get(sobject, {}), **fields, "SystemModstamp": stamp}
        self.records[sobject][record_id] = record
        return record_id

    def edit(self, sobject: str, record_id: str, **fields: Any) -> None:
        """A user changes the record in Salesforce."""
        with self.lock:
            self.records[sobject][record_id].update(fields, SystemModstamp=_stamp(self.tick()))

    def expire_sessions(self) -> None:
        """Every issued session becomes invalid (a timeout or an admin's revocation)."""
        self.tokens.clear()

    def limit_exceeded_next(self, method: str | None = None) -> None:
        """The org's daily API allocation is used up: 403 ``REQUEST_LIMIT_EXCEEDED``."""
        reply = _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.fail_next(reply.status, reply.body, method=method)

    def by_external_id(self, sobject: str, value: str) -> list[dict[str, Any]]:
        return [r for r in self.records[sobject].values() if r.get(EXTERNAL_ID) == value]

    # -- the API ----------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        reply = self._route(request)
        usage = len(self.requests)
        return Reply(
            reply.status,
            reply.body,
            {**reply.headers, "Sforce-Limit-Info": f"api-usage={usage}/15000"},
        )

    def _route(self, request: Request) -> Reply:
        if request.path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request)
        if not request.path.startswith(DATA):
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return Reply(401, _EXPIRED)
        parts = [urllib.parse.unquote(p) for p in request.path[len(DATA) :].split("/") if p]
        match request.method, parts:
            case "GET", ["query"]:
                return self._query(request.query.get("q", ""))
            case "GET", ["sobjects", sobject, "describe"] if sobject in SCHEMA:
                return Reply(200, _describe(sobject))
            case "PATCH", ["sobjects", sobject, field, value] if sobject in SCHEMA:
                return self._upsert(sobject, field, value, request.body or {})
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _token(self, request: Request) -> Reply:
        form = request.body or {}
        self.logins.append(form)
        basic = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
        client_credentials = (
            form.get("grant_type") == "client_credentials"
            and request.headers.get("authorization") == f"Basic {basic}"
        )
        password = form.get("grant_type") == "password" and (
            form.get("client_id"),
            form.get("client_secret"),
            form.get("username"),
            form.get("password"),
        ) == (CONSUMER_KEY, CONSUMER_SECRET, "sarah@example.com", "s3cret")
        if not (client_credentials or password):
            return Reply(
                400, {"error": "invalid_grant", "error_description": "authentication failure"}
            )
        token = f"00Dfake!{len(self.logins)}"
        self.tokens.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/00Dfake/{SARAH}",
                "token_type": "Bearer",
                "issued_at": "1795000000000",
                "signature": "fake",
            },
        )

    def _upsert(self, sobject: str, field: str, value: str, body: dict[str, Any]) -> Reply:
        if field != EXTERNAL_ID:
            return _error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field}",
            )
        if field in body:
            return _error(
                400,
                "INVALID_FIELD",
                f"The external ID field {field} must not be in the body",
                [field],
            )
        matches = self.by_external_id(sobject, value)
        merged = {**(matches[0] if matches else {}), **body}
        if problem := self._invalid(sobject, body, merged):
            return problem
        stored = {**merged, **_normalised(sobject, body), field: value}
        if matches:
            record_id = matches[0]["Id"]
            self.records[sobject][record_id] = {**stored, "SystemModstamp": _stamp(self.tick())}
            if self.update_status == 204:
                return Reply(204)
            return Reply(200, {"id": record_id, "success": True, "errors": [], "created": False})
        record_id = self.add(sobject, **stored)
        return Reply(201, {"id": record_id, "success": True, "errors": [], "created": True})

    def _invalid(self, sobject: str, body: dict[str, Any], merged: dict[str, Any]) -> Reply | None:
        schema = SCHEMA[sobject]
        for name, value in body.items():
            if name not in schema or name in ("Id", "SystemModstamp"):
                return _error(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {sobject}",
                    [name],
                )
            kind, detail = schema[name]
            if kind == "picklist" and value not in detail:
                return _error(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{name}: bad value for restricted picklist field: {value}",
                    [name],
                )
            if kind == _REF and value is not None and not self._is_one_of(value, detail):
                return _error(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"{name}: id value of incorrect type: {value}",
                    [name],
                )
        if merged.get("WhoId") in self.records["Lead"] and merged.get("WhatId"):
            return _error(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "Related To ID: an activity whose Name is a lead cannot be related to a record",
                ["WhoId", "WhatId"],
            )
        if sobject == "Event" and not merged.get("IsAllDayEvent"):
            missing = [f for f in ("StartDateTime",) if not merged.get(f)]
            if not merged.get("EndDateTime") and not merged.get("DurationInMinutes"):
                missing.append("DurationInMinutes")
            if missing:
                return _error(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
        return None

    def _is_one_of(self, record_id: str, sobjects: tuple[str, ...]) -> bool:
        return any(record_id in self.records[o] for o in sobjects)

    def _query(self, soql: str) -> Reply:
        try:
            query = _parse_soql(soql)
        except ValueError as exc:
            return _error(400, "MALFORMED_QUERY", str(exc))
        schema = SCHEMA.get(query["from"])
        if schema is None:
            return _error(400, "INVALID_TYPE", f"sObject type '{query['from']}' is not supported.")
        named = [*query["select"], *(c[0] for c in query["where"]), *filter(None, [query["order"]])]
        if unknown := [f for f in named if f not in schema]:
            return _error(
                400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{query['from']}'"
            )
        rows = [
            r
            for r in self.records[query["from"]].values()
            if all(_holds(r, *c) for c in query["where"])
        ]
        if order := query["order"]:
            rows.sort(key=lambda r: str(r.get(order) or ""))
        rows = rows[: query["limit"]]
        records = [
            {
                "attributes": {
                    "type": query["from"],
                    "url": f"{DATA}sobjects/{query['from']}/{r['Id']}",
                }
            }
            | {f: r.get(f) for f in query["select"]}
            for r in rows
        ]
        return Reply(200, {"totalSize": len(records), "done": True, "records": records})


def _normalised(sobject: str, body: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as Salesforce stores and returns them."""
    return {
        k: _stamp(datetime.fromisoformat(v))
        for k, v in body.items()
        if SCHEMA[sobject][k][0] == _DATETIME and v
    }


def _describe(sobject: str) -> dict[str, Any]:
    def field(name: str, kind: str, detail: Any) -> dict[str, Any]:
        values = detail if kind == "picklist" else ()
        return {
            "name": name,
            "type": kind,
            "externalId": name == EXTERNAL_ID,
            "unique": name == EXTERNAL_ID,
            "referenceTo": list(detail) if kind == _REF else [],
            "picklistValues": [{"value": v, "label": v, "active": True} for v in values],
        }

    return {"name": sobject, "fields": [field(n, *spec) for n, spec in SCHEMA[sobject].items()]}


# -- a SOQL subset ------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:('(?:[^'\\]|\\.)*')|(!=|>=|<=|=|>|<|\(|\)|,)|([^\s,()=!<>']+))")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_DATETIME_LITERAL = re.compile(r"\d{4}-\d\d-\d\dT")


def _tokens(soql: str) -> list[str]:
    tokens, position = [], 0
    while position < len(soql.rstrip()):
        match = _TOKEN.match(soql, position)
        if not match:
            raise ValueError(f"unexpected token at {position}: {soql[position : position + 20]!r}")
        tokens.append(next(g for g in match.groups() if g is not None))
        position = match.end()
    return tokens


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), token[1:-1])
    if token.lower() == "null":
        return None
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    if _DATETIME_LITERAL.match(token):
        return datetime.fromisoformat(token)
    return float(token)


def _parse_soql(soql: str) -> dict[str, Any]:
    tokens = _tokens(soql)
    upper = [t.upper() for t in tokens]
    if not upper or upper[0] != "SELECT" or "FROM" not in upper:
        raise ValueError("unexpected token: expected SELECT ... FROM")
    source = upper.index("FROM")
    query: dict[str, Any] = {
        "select": [t for t in tokens[1:source] if t != ","],
        "from": tokens[source + 1],
        "where": [],
        "order": None,
        "limit": None,
    }
    rest = tokens[source + 2 :]
    while rest:
        keyword = rest[0].upper()
        if keyword in ("WHERE", "AND"):
            field, operator = rest[1], rest[2]
            if operator.upper() == "IN":
                end = rest.index(")")
                query["where"].append((field, "IN", [_literal(t) for t in rest[4:end] if t != ","]))
                rest = rest[end + 1 :]
            else:
                query["where"].append((field, operator, _literal(rest[3])))
                rest = rest[4:]
        elif keyword == "ORDER":
            query["order"] = rest[2]
            rest = rest[3:]
        elif keyword == "LIMIT":
            query["limit"] = int(rest[1])
            rest = rest[2:]
        else:
            raise ValueError(f"unexpected token: {rest[0]}")
    return query


def _holds(record: dict[str, Any], field: str, operator: str, wanted: Any) -> bool:
    value = record.get(field)
    if operator == "IN":
        return value in wanted
    if wanted is None:
        return (value is None) == (operator == "=")
    if isinstance(wanted, datetime):
        value = datetime.fromisoformat(value) if value else None
        if value is None:
            return False
    elif isinstance(wanted, str) and isinstance(value, str):
        value, wanted = value.casefold(), wanted.casefold()  # SOQL compares text case-blind
    comparisons = {
        "=": value == wanted,
        "!=": value != wanted,
        ">": value is not None and value > wanted,
        ">=": value is not None and value >= wanted,
        "<": value is not None and value < wanted,
    }
    return comparisons[operator]


# -- the client side ----------------------------------------------------------------------------


class LoginRedirect(HTTPAdapter):
    """Sends the login, hard-coded to ``https://<domain>.salesforce.com``, to the fake."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.host = urllib.parse.urlsplit(base_url).netloc

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = urllib.parse.urlsplit(request.url or "")
        request.url = urllib.parse.urlunsplit(url._replace(netloc=self.host))
        return super().send(request, *args, **kwargs)


def client_session(fake: FakeSalesforce, ca_file: str) -> requests.Session:
    """A session that trusts the fake's CA (ignoring REQUESTS_CA_BUNDLE) and reaches its login."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    session.mount(f"https://{MY_DOMAIN}.salesforce.com", LoginRedirect(fake.base_url))
    session.mount("https://login.salesforce.com", LoginRedirect(fake.base_url))
    return session


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context
