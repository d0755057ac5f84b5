"""A fake Entra ID + Dataverse Web API v9.2 over TLS (a trustme CA), for MSAL and httpx.

MSAL insists on https and reads OIDC metadata before its first token, so the fake serves:

===========================================================  =================================
``GET /{tenant}/v2.0/.well-known/openid-configuration``      ``token_endpoint`` on this server
``POST /{tenant}/oauth2/v2.0/token``                         client credentials; 401
                                                             ``invalid_client`` on a bad secret
``GET /api/data/v9.2/WhoAmI``                                ``UserId`` of the app user
``GET /api/data/v9.2/EntityDefinitions(LogicalName='t')/``   columns of ``task``/``appointment``;
``Attributes``                                               404 for other tables
``GET …/EntityDefinitions(LogicalName='t')/Keys``            the alternate keys tests added
                                                             (:meth:`FakeDynamics.add_key`)
``PATCH /api/data/v9.2/{set}(<guid>)``                       upsert; ``If-Match: *`` → 404 when
                                                             missing, ``If-None-Match: *`` →
                                                             412 when present; 204 +
                                                             ``OData-EntityId``, or 201/200 +
                                                             the row with ``Prefer:
                                                             return=representation``
``PATCH /api/data/v9.2/{set}(<column>='<value>')``           the same upsert by an active
                                                             alternate key (a new row gets a
                                                             new ``activityid``); 400
                                                             ``0x80060888`` for any other key
``GET /api/data/v9.2/{set}?$select&$filter&$orderby&$top``   ``<column> eq|gt <literal>``
                                                             terms joined by ``and``; pages of
                                                             :attr:`FakeDynamics.page_size`
                                                             with ``@odata.nextLink``; sets
                                                             ``tasks``, ``appointments``,
                                                             ``accounts``, ``contacts``,
                                                             ``opportunities``
===========================================================  =================================

Web API requests need ``Authorization: Bearer <a token this fake issued>`` (401 with
``WWW-Authenticate`` otherwise) and the OData headers. Writes are validated the way
Dataverse does (unknown column, ``prioritycode``, coupled ``statecode``/``statuscode``,
``@odata.bind`` targets, which must exist when the fake holds their table, required
appointment times, no edits to closed activities) and answer 400 with
``{"error": {"code": "0x…", "message": "…"}}``. A ``regardingobjectid_*`` bind is stored as
``_regardingobjectid_value`` (the id) and ``_regardingobjectid_target`` (the entity set).

An upsert by alternate key follows Microsoft's "Use Upsert to Create or Update a record":
the key's value in the body is dropped on update, and wins over the URL's on create.
"""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import trustme

from tests.fakes.rest_server import FakeApi, Reply, Request, serve

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "c2t-client"
CLIENT_SECRET = "s3cret"
APP_USER = "00000000-0000-0000-0000-0000000000a1"
API = "/api/data/v9.2/"
#: The custom column an admin adds for chat2task's alternate key.
KEY_COLUMN = "c2t_externalid"
COLUMNS = {
    "task": {"subject", "description", "scheduledstart", "scheduledend", "prioritycode",
             "statecode", "statuscode", "percentcomplete", "ownerid", "regardingobjectid",
             KEY_COLUMN},
    "appointment": {"subject", "description", "location", "scheduledstart", "scheduledend",
                    "isalldayevent", "prioritycode", "statecode", "statuscode", "ownerid",
                    "regardingobjectid", KEY_COLUMN},
}  # fmt: skip
#: statecode: the statuscodes that go with it.
STATES = {
    "task": {0: {2, 3, 4, 7}, 1: {5}, 2: {6}},
    "appointment": {0: {1, 2}, 1: {3}, 2: {4}, 3: {5, 6}},
}
#: Where ``@odata.bind`` properties may point, by table.
BINDS = {
    "ownerid": "systemusers",
    "regardingobjectid_account_{table}": "accounts",
    "regardingobjectid_contact_{table}": "contacts",
    "regardingobjectid_opportunity_{table}": "opportunities",
}
#: The records tests seed: entity set → (logical name, primary name column).
RECORDS = {
    "accounts": ("account", "name"),
    "contacts": ("contact", "fullname"),
    "opportunities": ("opportunity", "name"),
}
THROTTLED = {
    "code": "0x80072322",
    "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
}
_GUID = r"[0-9a-fA-F-]{36}"


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class FakeDynamics(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, Any]]] = {
            "tasks": {},
            "appointments": {},
            "accounts": {},
            "contacts": {},
            "opportunities": {},
        }
        #: table → single-column alternate keys: column → ``EntityKeyIndexStatus``.
        self.keys: dict[str, dict[str, str]] = {table: {} for table in COLUMNS}
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0
        self.page_size = 50
        self.ca_path = Path()

    # -- what tests arrange ---------------------------------------------------------------

    def add_account(self, name: str) -> str:
        return self._add("accounts", name)

    def add_contact(self, name: str) -> str:
        return self._add("contacts", name)

    def add_opportunity(self, account: str, *, statecode: int = 0) -> str:
        """An opportunity of ``account``: statecode 0 open, 1 won, 2 lost."""
        name = f"Deal {len(self.tables['opportunities']) + 1}"
        return self._add("opportunities", name, _parentaccountid_value=account, statecode=statecode)

    def add_key(self, table: str, column: str = KEY_COLUMN, *, status: str = "Active") -> None:
        """An alternate key on ``column``; only an ``Active`` one (index built) can be used."""
        self.keys[table][column] = status

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        with self.lock:
            self.valid_tokens.clear()

    def throttle_next(self, seconds: int, *, method: str | None = None) -> None:
        """429 with ``Retry-After``, as a service protection limit answers."""
        self.fail_next(429, {"error": THROTTLED}, {"Retry-After": str(seconds)}, method=method)

    def edit(self, entity_set: str, record_id: str, **columns: Any) -> None:
        """A user changes the row in Dynamics."""
        with self.lock:
            self._touch(self.tables[entity_set][record_id], columns)

    # -- Entra ID ---------------------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        path = request.path
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            return Reply(200, self._oidc_metadata())
        if path == f"/{TENANT}/oauth2/v2.0/token":
            return self._token(request.body or {})
        if not path.startswith(API):
            return _error(404, "0x8006088a", f"Resource not found for the segment '{path}'")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return Reply(401, None, {"WWW-Authenticate": f"Bearer authorization_uri={self._login}"})
        if request.headers.get("odata-version") != "4.0":
            return _error(400, "0x0", "OData-Version 4.0 header is required")
        return self._web_api(request, path.removeprefix(API))

    @property
    def _login(self) -> str:
        return f"{self.base_url}/{TENANT}"

    def _oidc_metadata(self) -> dict[str, str]:
        return {
            "issuer": f"{self._login}/v2.0",
            "authorization_endpoint": f"{self._login}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self._login}/oauth2/v2.0/token",
        }

    def _token(self, form: dict[str, str]) -> Reply:
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
            )
        if form.get("grant_type") != "client_credentials" or not form.get("scope"):
            return Reply(400, {"error": "invalid_request", "error_description": "AADSTS900144"})
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return Reply(
            200,
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
             "access_token": token},
        )  # fmt: skip

    # -- Dataverse --------------------------------------------------------------------------

    def _web_api(self, request: Request, path: str) -> Reply:
        if path == "WhoAmI":
            return Reply(200, {"UserId": APP_USER, "BusinessUnitId": str(uuid.uuid4())})
        if match := re.fullmatch(r"EntityDefinitions\(LogicalName='(\w+)'\)/Attributes", path):
            table = match.group(1)
            if table not in COLUMNS:
                return _error(404, "0x80060888", f"Could not find entity '{table}'")
            names = sorted({*COLUMNS[table], "activityid", "modifiedon"})
            return Reply(200, {"value": [{"LogicalName": n} for n in names]})
        if match := re.fullmatch(r"EntityDefinitions\(LogicalName='(\w+)'\)/Keys", path):
            keys = self.keys.get(match.group(1), {})
            return Reply(
                200,
                {"value": [{"KeyAttributes": [c], "EntityKeyIndexStatus": s}
                           for c, s in keys.items()]},
            )  # fmt: skip
        if (match := re.fullmatch(rf"(\w+)\(({_GUID})\)", path)) and request.method == "PATCH":
            return self._upsert(match.group(1), match.group(2).lower(), request, request.body)
        key = re.fullmatch(r"(\w+)\((\w+)='((?:[^']|'')*)'\)", unquote(path))
        if key and request.method == "PATCH":
            value = key.group(3).replace("''", "'")
            return self._upsert_by_key(key.group(1), key.group(2), value, request)
        if path in self.tables and request.method == "GET":
            return self._query(path, request.query)
        return _error(404, "0x8006088a", f"Resource not found for the segment '{path}'")

    def _upsert_by_key(self, entity_set: str, column: str, value: str, request: Request) -> Reply:
        """The row whose ``column`` holds ``value``, else a new one; see the module docstring."""
        table = entity_set.removesuffix("s")
        if self.keys.get(table, {}).get(column) != "Active":
            resource = f"'Microsoft.Dynamics.CRM.{table}'"
            return _error(
                400,
                "0x80060888",
                f"The key in the request URI is not valid for resource {resource}. Ensure that "
                "the names and number of key properties match the declared or alternate key "
                f"properties for the resource {resource}.",
            )
        rows = self.tables[entity_set]
        found = next((i for i, row in rows.items() if row.get(column) == value), None)
        body = dict(request.body or {})
        if found is None:
            body.setdefault(column, value)
        else:
            body.pop(column, None)
        return self._upsert(entity_set, found or str(uuid.uuid4()), request, body)

    def _upsert(
        self, entity_set: str, record_id: str, request: Request, body: dict[str, Any] | None
    ) -> Reply:
        table = entity_set.removesuffix("s")
        if table not in COLUMNS:
            return _error(404, "0x8006088a", f"Resource not found for the segment '{entity_set}'")
        rows = self.tables[entity_set]
        row = rows.get(record_id)
        if request.headers.get("if-match") == "*" and row is None:
            return _error(404, "0x80040217", f"{table} With Id = {record_id} Does Not Exist")
        if request.headers.get("if-none-match") == "*" and row is not None:
            return _error(412, "0x80060882", "A record with matching key values already exists.")
        body = body or {}
        if problem := self._problem(table, body, row):
            return _error(400, "0x80040203", problem)
        created = row is None
        if row is None:
            row = rows[record_id] = {"activityid": record_id, "version": 0}
            row.update(
                {"statecode": 0 if table == "task" else 3}, statuscode=2 if table == "task" else 5
            )
        self._touch(row, self._columns(body))
        if "return=representation" not in request.headers.get("prefer", ""):
            return Reply(204, None, {"OData-EntityId": f"{self.base_url}{request.path}"})
        selected = request.query.get("$select", "").split(",")
        return Reply(201 if created else 200, self._present(row, selected))

    def _problem(self, table: str, body: dict[str, Any], row: dict[str, Any] | None) -> str | None:
        """What Dataverse would refuse in this write, in its words where known."""
        for key, value in body.items():
            name, _, annotation = key.partition("@")
            if annotation:
                target = next((t for p, t in BINDS.items() if p.format(table=table) == name), None)
                if annotation != "odata.bind" or target is None:
                    return f"An undeclared property '{name}' which only has property annotations"
                if not (bound := re.fullmatch(rf"/{target}\(({_GUID})\)", str(value))):
                    return f"Invalid @odata.bind value for {name}: {value!r}"
                record_id = bound.group(1).lower()
                if target in RECORDS and record_id not in self.tables[target]:
                    return f"{RECORDS[target][0]} With Id = {record_id} Does Not Exist"
            elif name not in COLUMNS[table]:
                return (
                    f"Could not find a property named '{name}' on type "
                    f"'Microsoft.Dynamics.CRM.{table}'."
                )
        if "prioritycode" in body and body["prioritycode"] not in (0, 1, 2):
            return f"{body['prioritycode']!r} is not a valid value for prioritycode"
        if ("statecode" in body) != ("statuscode" in body):
            return "statecode and statuscode must be set together"
        if "statecode" in body and body["statuscode"] not in STATES[table].get(
            body["statecode"], ()
        ):
            return f"{body['statuscode']} is not a valid status code for state code {table}"
        if row is None and table == "appointment":
            missing = {"scheduledstart", "scheduledend"} - body.keys()
            if missing:
                return f"Required field(s) {', '.join(sorted(missing))} missing for appointment"
        closed = row is not None and row["statecode"] not in (0, 3)
        if closed and body.keys() - {"statecode", "statuscode"}:
            return f"This {table} is closed or canceled and cannot be edited."
        return None

    @staticmethod
    def _columns(body: dict[str, Any]) -> dict[str, Any]:
        """Binds stored as lookup values (``_ownerid_value``), like Dataverse reads them."""
        columns: dict[str, Any] = {}
        for key, value in body.items():
            name, _, annotation = key.partition("@")
            if annotation:
                lookup = "regardingobjectid" if name.startswith("regarding") else name
                columns[f"_{lookup}_value"] = value.split("(")[1].rstrip(")")
                columns[f"_{lookup}_target"] = value.split("(")[0].strip("/")
            else:
                columns[name] = value
        return columns

    def _query(self, entity_set: str, query: dict[str, str]) -> Reply:
        rows = list(self.tables[entity_set].values())
        if expression := query.get("$filter"):
            rows = [r for r in rows if _matches(r, expression)]
        if query.get("$orderby", "").startswith("modifiedon"):
            rows.sort(key=lambda r: r["modifiedon"])
        skip = int(query.get("$skiptoken", 0))
        size = min(int(query.get("$top", self.page_size)), self.page_size)
        selected = query.get("$select", "").split(",")
        page: dict[str, Any] = {
            "value": [self._present(r, selected) for r in rows[skip : skip + size]]
        }
        if skip + size < len(rows) and "$top" not in query:
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "$skiptoken")
            page["@odata.nextLink"] = (
                f"{self.base_url}{API}{entity_set}?{rest}&$skiptoken={skip + size}"
            )
        return Reply(200, page)

    def _touch(self, row: dict[str, Any], columns: dict[str, Any]) -> None:
        row.update(columns)
        row["version"] += 1
        row["modifiedon"] = self.tick().strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _present(row: dict[str, Any], selected: list[str]) -> dict[str, Any]:
        shown = {k: v for k, v in row.items() if k in selected or not selected[0]}
        return {"@odata.etag": f'W/"{row["version"]}"', **shown}

    def _add(self, entity_set: str, name: str, **columns: Any) -> str:
        record_id = str(uuid.uuid4())
        table, name_column = RECORDS[entity_set]
        self.tables[entity_set][record_id] = {
            f"{table}id": record_id,
            name_column: name,
            "version": 1,
            **columns,
        }
        return record_id


def _matches(row: dict[str, Any], expression: str) -> bool:
    """The filters chat2task sends: ``<column> eq|gt <literal>`` terms joined by ``and``, the
    literal a quoted text, a number, a GUID or a time (``modifiedon gt 2026-…Z``)."""
    terms = re.findall(r"(\w+) (eq|gt) ('(?:[^']|'')*'|\S+)(?: and |$)", expression)
    if " and ".join(" ".join(term) for term in terms) != expression:
        raise ValueError(f"the fake does not understand $filter={expression}")
    return all(
        _holds(row.get(column), operator, _literal(text)) for column, operator, text in terms
    )


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return int(text) if text.isdigit() else text


def _holds(value: Any, operator: str, literal: Any) -> bool:
    if operator == "eq":
        return bool(value == literal)
    return value is not None and bool(value > literal)


def tls_context(ca_dir: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 signed by a fresh CA, and that CA's PEM file."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_path = ca_dir / "fake-dynamics-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return context, ca_path


@contextmanager
def running_dynamics(ca_dir: Path) -> Iterator[FakeDynamics]:
    """Serve a fresh fake; its ``base_url`` is the environment and the authority host."""
    api = FakeDynamics()
    context, api.ca_path = tls_context(ca_dir)
    with serve(api, tls=context):
        yield api
