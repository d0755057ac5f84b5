"""Dynamics 365 tasks and appointments through the Dataverse Web API v9.2.

Exactly-once needs no schema change: an item's external id is already a UUID, so it is
the record's primary key and ``PATCH /tasks(<external id>)`` creates or updates the same
row however often it is retried. Where records must keep Dataverse's own GUIDs, the
``alternate_key`` option names a custom column with an alternate key on it in every mapped
table: ``PATCH /tasks(c2t_externalid='<external id>')`` is then the upsert, the column
stays out of the body (Dataverse fills it from the URL on create), and the GUID read back
is the record's id. Once the item is linked, updates go to that id with ``If-Match: *``:
a record deleted in Dynamics answers 404 (:class:`RemoteNotFound`) instead of coming back.

Completing or cancelling an activity is a state change (``statecode`` with a matching
``statuscode``), sent on its own after the fields, because a closed activity refuses
edits; reopening goes first for the same reason.

Tokens come from Entra ID (OAuth2 client credentials) through MSAL, which caches them: a
401 removes the cached token so that :meth:`DynamicsConnector.refresh_auth` really gets
a new one.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import msal
import requests
from pydantic import BaseModel, Field, SecretStr

from connectors.base import Connector, RemoteChange, RemoteRef, SyncItem
from connectors.crm import CRMOptions, linked_records, only
from connectors.errors import (
    ConnectorConfigError,
    Permanent,
    RemoteNotFound,
    Transient,
)
from connectors.mapping import OWNER, FieldMapping
from connectors.rest import RestApi, first_crm_field, json_body, parse_utc, utc_stamp
from pipeline.domain import ItemType
from pipeline.storage.tables import ItemStatus

API_PATH = "/api/data/v9.2/"
ODATA_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}
#: The ``statuscode`` each ``statecode`` is sent with (Dataverse couples them).
STATUS_FOR_STATE = {
    "tasks": {0: 2, 1: 5, 2: 6},  # open: not started, completed, canceled
    "appointments": {0: 1, 1: 3, 2: 4, 3: 5},  # open: free, completed, canceled, scheduled: busy
}
#: ``statecode`` values of an activity that still accepts edits (3: scheduled appointment).
OPEN_STATES = frozenset({0, 3})
STATECODE = "statecode"
#: Tasks and appointments are activities: their primary key is ``activityid``.
PRIMARY_KEY = "activityid"
#: Dataverse's code for a URL key that is neither the primary key nor an alternate key.
KEY_NOT_VALID = "0x80060888"
#: Characters OData literals use that stay readable in a query string.
_ODATA_SAFE = "',()"
#: MSAL ``error`` values that retrying cannot fix.
_TOKEN_REFUSALS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request", "invalid_grant"}
)


class DynamicsOptions(CRMOptions):
    """``options`` of a Dynamics 365 connector; ``client_secret`` from the environment."""

    #: The environment, e.g. ``https://acme.crm4.dynamics.com``.
    base_url: str
    #: ``https://login.microsoftonline.com/<tenant id>``.
    authority: str
    client_id: str
    client_secret: SecretStr
    #: Default ``<base_url>/.default``.
    scope: str | None = None
    #: Trust exactly this CA file (a private CA), ignoring REQUESTS_CA_BUNDLE and the like.
    ca_bundle: Path | None = None
    #: ``False`` for authorities Microsoft's instance discovery does not know.
    instance_discovery: bool = True
    #: A column (``c2t_externalid``) with an alternate key on it in each mapped table, to
    #: upsert by instead of making the external id the primary key.
    alternate_key: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]*$")


class EntraToken:
    """Client-credentials access tokens, fetched and cached by MSAL."""

    def __init__(self, options: DynamicsOptions, session: requests.Session) -> None:
        self._options = options
        self._session = session
        self._cache = msal.TokenCache()
        self._app: msal.ConfidentialClientApplication | None = None
        self.scope = options.scope or f"{options.base_url.rstrip('/')}/.default"

    def get(self) -> str:
        try:
            result = self._client().acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as exc:
            raise Transient(f"Dynamics 365: cannot get a token: {exc}") from exc
        if "access_token" in result:
            return str(result["access_token"])
        error = f"{result.get('error')}: {result.get('error_description')}"
        if result.get("error") in _TOKEN_REFUSALS:
            raise Permanent(f"Dynamics 365: Entra ID refused the client credentials ({error})")
        raise Transient(f"Dynamics 365: no token from Entra ID ({error})")

    def forget(self) -> None:
        """Drop cached tokens: MSAL would otherwise hand back the one just refused."""
        kind = msal.TokenCache.CredentialType.ACCESS_TOKEN
        for token in list(self._cache.search(kind)):
            self._cache.remove_at(token)

    def _client(self) -> msal.ConfidentialClientApplication:
        """Built on first use: MSAL reads the authority's OIDC metadata in its constructor."""
        if self._app is None:
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._options.client_id,
                    client_credential=self._options.client_secret.get_secret_value(),
                    authority=self._options.authority,
                    http_client=self._session,
                    instance_discovery=self._options.instance_discovery,
                    token_cache=self._cache,
                )
            except requests.RequestException as exc:
                raise Transient(f"Dynamics 365: cannot reach the authority: {exc}") from exc
            except ValueError as exc:
                raise ConnectorConfigError(
                    f"Dynamics 365: authority {self._options.authority!r} is not usable: {exc}"
                ) from exc
        return self._app


class _BearerAuth(httpx.Auth):
    def __init__(self, token: EntraToken) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get()}"
        yield request


class DataverseApi(RestApi):
    """Dataverse's OData error bodies: ``{"error": {"code": "0x…", "message": "…"}}``."""

    system = "Dynamics 365"

    def error(self, response: httpx.Response) -> str:
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return response.text[:200] or response.reason_phrase
        return f"{error.get('message')} ({error.get('code')})"

    def rows(self, url: str) -> Iterator[dict[str, Any]]:
        """Every row of a query, following ``@odata.nextLink``."""
        next_url: str | None = url
        while next_url:
            page = self.request("GET", next_url).json()
            yield from page.get("value", ())
            next_url = page.get("@odata.nextLink")


class DynamicsConnector(Connector):
    """Tasks and events as Dataverse activities; see the module docstring."""

    Options = DynamicsOptions
    secrets: ClassVar[tuple[str, ...]] = ("client_secret",)

    def __init__(self, name: str, options: BaseModel, mapping: FieldMapping) -> None:
        super().__init__(name, options, mapping)
        assert isinstance(options, DynamicsOptions)
        self.zone = options.zone
        self.link_deals = options.link_deals
        self.alternate_key = options.alternate_key
        self.token = EntraToken(options, _requests_session(options.ca_bundle))
        self.api = DataverseApi(
            httpx.Client(
                base_url=options.base_url.rstrip("/") + API_PATH,
                headers=ODATA_HEADERS,
                auth=_BearerAuth(self.token),
                timeout=options.timeout,
                verify=ssl.create_default_context(cafile=options.ca_bundle)
                if options.ca_bundle
                else True,
                trust_env=options.ca_bundle is None,
            )
        )

    def refresh_auth(self) -> None:
        self.token.forget()

    # -- pushing ----------------------------------------------------------------------------

    def upsert(self, item: SyncItem) -> RemoteRef:
        return self.call(lambda: self._upsert(item))

    def _upsert(self, sync: SyncItem) -> RemoteRef:
        entity_set = self.mapping.object_for(sync.item)
        fields, state = self._payload(sync, entity_set)
        linked = sync.link is not None
        record = f"{entity_set}({sync.link.id})" if sync.link else self._key(sync, entity_set)
        if linked and state is not None and state[STATECODE] in OPEN_STATES:
            self._patch(record, state, must_exist=True)
        record_id, version = self._patch(record, fields, must_exist=linked)
        if state is not None and state[STATECODE] not in OPEN_STATES:
            _, version = self._patch(f"{entity_set}({record_id})", state, must_exist=True)
        return RemoteRef(record_id, entity_set, version)

    def _key(self, sync: SyncItem, entity_set: str) -> str:
        """Where an item not linked yet is upserted: at its external id as the primary key,
        or as the value of the alternate key (an OData literal: quotes doubled)."""
        if self.alternate_key is None:
            return f"{entity_set}({sync.item.external_id})"
        literal = quote(sync.item.external_id.replace("'", "''"), safe="'")
        return f"{entity_set}({self.alternate_key}='{literal}')"

    def _patch(
        self, record: str, body: Mapping[str, Any], *, must_exist: bool
    ) -> tuple[str, str | None]:
        """Upsert (or, ``must_exist``, update only) one row; returns its id and new ETag."""
        headers = {"Prefer": "return=representation"}
        if must_exist:
            headers["If-Match"] = "*"
        url = f"{record}?$select={PRIMARY_KEY}"
        try:
            response = self.api.request("PATCH", url, json=dict(body), headers=headers)
        except Permanent as exc:
            if f"({KEY_NOT_VALID})" not in str(exc):
                raise
            table = _logical_name(record.split("(", 1)[0])
            raise Permanent(_no_key(table, str(self.alternate_key))) from exc
        row = json_body(response)
        return str(row[PRIMARY_KEY]), row.get("@odata.etag")

    def _payload(
        self, sync: SyncItem, entity_set: str
    ) -> tuple[dict[str, Any], dict[str, int] | None]:
        """The row's columns, and the state change (``None`` if the mapping has none)."""
        item = sync.item
        fields = self.mapping.render(item, sync.text, self.zone)
        owner = self.mapping.crm_field(item.type, OWNER)
        if owner in fields:
            fields[owner] = f"/systemusers({fields[owner]})"
        fields.update(self._regarding(sync, entity_set))
        if STATECODE not in fields:
            return fields, None
        statecode = int(fields.pop(STATECODE))
        return fields, {STATECODE: statecode, "statuscode": STATUS_FOR_STATE[entity_set][statecode]}

    def _regarding(self, sync: SyncItem, entity_set: str) -> dict[str, str]:
        """An activity is *regarding* exactly one record, the most specific one known: the
        open opportunity of a mentioned account, else the account, else a contact."""
        links = linked_records(self, sync.item, deals=self.link_deals)
        found = next(iter(links.deals or links.accounts or links.contacts), None)
        if found is None:
            return {}
        bind = f"regardingobjectid_{found.type}_{_logical_name(entity_set)}@odata.bind"
        return {bind: f"/{_entity_set(found.type)}({found.id})"}

    # -- finding people, organisations and deals --------------------------------------------

    def find_contact(self, name: str) -> RemoteRef | None:
        return self.call(lambda: self._find("contacts", "contactid", "fullname", name))

    def find_account(self, name: str) -> RemoteRef | None:
        return self.call(lambda: self._find("accounts", "accountid", "name", name))

    def find_open_deal(self, account: RemoteRef) -> RemoteRef | None:
        return self.call(lambda: self._open_opportunity(account.id))

    def _open_opportunity(self, account_id: str) -> RemoteRef | None:
        """Two rows at most are enough to tell "exactly one" from "several"."""
        query = _odata(
            select="opportunityid",
            filter=f"_parentaccountid_value eq {account_id} and statecode eq 0",
            top="2",
        )
        rows = self.api.rows(f"opportunities?{query}")
        return only([RemoteRef(str(row["opportunityid"]), "opportunity") for row in rows])

    def _find(self, entity_set: str, key: str, column: str, name: str) -> RemoteRef | None:
        literal = name.replace("'", "''")
        query = _odata(select=key, filter=f"{column} eq '{literal}'", top="1")
        row = next(self.api.rows(f"{entity_set}?{query}"), None)
        return RemoteRef(str(row[key]), _logical_name(entity_set)) if row else None

    # -- reading changes back ---------------------------------------------------------------

    def changes_since(self, cursor: str | None) -> tuple[list[RemoteChange], str]:
        """Tasks and appointments modified after ``cursor`` (all of them without one).

        ``external_id`` is, for the rows chat2task wrote, the item's external id: the row id,
        or the alternate key's value.
        """
        changes = self.call(
            lambda: [c for kind in self.mapping.objects for c in self._changes(kind, cursor)]
        )
        newest = max((c.changed_at for c in changes), default=None)
        return changes, utc_stamp(newest) if newest else cursor or utc_stamp(datetime.now(UTC))

    def _changes(self, kind: ItemType, cursor: str | None) -> Iterator[RemoteChange]:
        entity_set = self.mapping.objects[kind].object
        status = self.mapping.crm_field(kind, "status")
        due = first_crm_field(self.mapping, kind, "due", "when")
        start = first_crm_field(self.mapping, kind, "start", "when")
        end = self.mapping.crm_field(kind, "end")
        columns = [PRIMARY_KEY, self.alternate_key, "modifiedon", "_ownerid_value"]
        columns += [status, due, start, end]
        query = _odata(
            select=",".join(dict.fromkeys(c for c in columns if c)),
            filter=f"modifiedon gt {cursor}" if cursor else None,
            orderby="modifiedon asc",
        )
        for row in self.api.rows(f"{entity_set}?{query}"):
            read_status = self.mapping.item_value(kind, "status", row.get(status or ""))
            yield RemoteChange(
                remote=RemoteRef(row[PRIMARY_KEY], entity_set, row.get("@odata.etag")),
                changed_at=parse_utc(row["modifiedon"]),
                external_id=row.get(self.alternate_key) if self.alternate_key else row[PRIMARY_KEY],
                status=ItemStatus(read_status) if status and read_status else None,
                due=_parse_optional(row.get(due or "")) if kind is ItemType.TASK else None,
                start=_parse_optional(row.get(start or "")) if kind is ItemType.EVENT else None,
                end=_parse_optional(row.get(end or "")) if kind is ItemType.EVENT else None,
                assignee=self.mapping.assignee_for(row.get("_ownerid_value")),
            )

    # -- checking the environment -----------------------------------------------------------

    def check(self) -> list[str]:
        """The credentials work (WhoAmI), the mapped tables and columns exist, and so does the
        alternate key, if one is configured, with its index built."""
        return self.call(self._check)

    def _check(self) -> list[str]:
        me = self.api.request("GET", "WhoAmI").json()
        checked = [f"Dynamics 365: signed in as application user {me['UserId']}"]
        for kind, section in self.mapping.objects.items():
            logical = _logical_name(section.object)
            url = f"EntityDefinitions(LogicalName='{logical}')/Attributes?$select=LogicalName"
            try:
                columns = {row["LogicalName"] for row in self.api.rows(url)}
            except RemoteNotFound as exc:
                raise ConnectorConfigError(
                    f"Dynamics 365 has no table {section.object!r}: fix {kind.value}.object "
                    f"in {self.mapping.source}"
                ) from exc
            mapped = [f.split("@", 1)[0] for f in [*section.fields, *section.custom]]
            missing = [c for c in mapped if c not in columns]
            if missing:
                raise ConnectorConfigError(
                    f"Dynamics 365 table {logical!r} has no column {', '.join(missing)}: fix "
                    f"{kind.value}.fields in {self.mapping.source}"
                )
            checked.append(f"{kind.value}: table {logical!r}, columns {mapped}")
            if self.alternate_key:
                checked.append(self._check_key(logical, self.alternate_key))
        return checked

    def _check_key(self, logical: str, column: str) -> str:
        """Upserts by key fail on every row until the key exists and its index is active."""
        url = (
            f"EntityDefinitions(LogicalName='{logical}')/Keys"
            "?$select=KeyAttributes,EntityKeyIndexStatus"
        )
        keys = {tuple(k["KeyAttributes"]): k["EntityKeyIndexStatus"] for k in self.api.rows(url)}
        status = keys.get((column,))
        if status is None:
            raise ConnectorConfigError(_no_key(logical, column))
        if status != "Active":
            raise ConnectorConfigError(
                f"Dynamics 365 table {logical!r}: the alternate key on column {column!r} is "
                f"{status}, not Active yet; try again once its index is built"
            )
        return f"{logical}: alternate key {column!r}"


def _requests_session(ca_bundle: Path | None) -> requests.Session:
    """MSAL's HTTP client; with a CA file, the environment must not override ``verify``."""
    session = requests.Session()
    if ca_bundle:
        session.verify = str(ca_bundle)
        session.trust_env = False
    return session


def _no_key(table: str, column: str) -> str:
    return (
        f"Dynamics 365 table {table!r} has no alternate key on column {column!r}: add one "
        f"(Power Apps: Tables > {table} > Keys) or unset options.alternate_key"
    )


def _logical_name(entity_set: str) -> str:
    """The entity sets used here are the table's logical name plus ``s`` (``tasks``)."""
    return entity_set.removesuffix("s")


def _entity_set(logical_name: str) -> str:
    """A table's entity set, its English plural: ``account`` → ``accounts``, ``opportunity``
    → ``opportunities``."""
    if logical_name.endswith("y"):
        return logical_name.removesuffix("y") + "ies"
    return logical_name + "s"


def _odata(**options: str | None) -> str:
    """A query string of ``$`` options, left readable (``$filter=… eq '…'``)."""
    return "&".join(
        f"${name}={quote(value, safe=_ODATA_SAFE)}" for name, value in options.items() if value
    )


def _parse_optional(value: str | None) -> datetime | None:
    return parse_utc(value) if value else None
