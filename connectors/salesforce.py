"""Push items to Salesforce as Tasks and Events, with simple-salesforce.

Exactly once: every record carries the item's external id in a custom External ID field
(``Chat2Task_Id__c``) and is written with an upsert on that field, so a retry after a
timeout updates the record the first attempt created instead of adding a second one.

The connector logs in itself and then talks to the instance with the session id, so an
expired session reaches :meth:`Connector.call` as :class:`AuthExpired` and is renewed once
there (simple-salesforce's own silent re-login, up to three times per call, is not used).

Linking: WhoId is the Contact the item mentions or, with none of that name, an unconverted
Lead; WhatId is the mentioned Account's one open Opportunity (``link_deals``), else the
Account. Salesforce relates an activity on a Lead to nothing (a WhatId beside a Lead's WhoId
is refused), so an activity on a Lead has its WhatId cleared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.format import format_external_id, format_soql
from simple_salesforce.login import SalesforceLogin

from connectors.base import (
    Connector,
    RemoteChange,
    RemoteRef,
    SyncItem,
    raise_for_status,
)
from connectors.crm import (
    CRMOptions,
    Links,
    changes_after,
    check_object,
    check_owners,
    linked_records,
    only,
    parse_moment,
    read_back_fields,
    remote_change,
)
from connectors.errors import ConnectorConfigError, Permanent, RateLimited, Transient
from connectors.mapping import FieldMapping
from pipeline.domain import ItemType

SYSTEM = "Salesforce"
T = TypeVar("T")


class SalesforceOptions(CRMOptions):
    """How to reach the org; which login flow runs follows from the credentials given.

    * client credentials: ``consumer_key`` + ``consumer_secret``, ``domain`` = your My Domain
    * username-password (OAuth): those two plus ``username`` + ``password``
    * username-password (SOAP): ``username`` + ``password`` + ``security_token``
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    #: Login host: ``login`` (production), ``test`` (sandbox) or your My Domain (``acme.my``).
    domain: str = "login"
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    version: str = "59.0"
    #: The External ID field (Text, unique) an admin added to Task and Event.
    external_id_field: str = "Chat2Task_Id__c"
    #: A prepared session (proxies, CA bundle); the connector mounts its timeout on it.
    session: requests.Session | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _one_login_flow(self) -> SalesforceOptions:
        self.login_arguments()
        return self

    def login_arguments(self) -> dict[str, Any]:
        """simple-salesforce's login keywords for the flow these options describe."""
        user = {"username": self.username, "password": _reveal(self.password)}
        app = {"consumer_key": self.consumer_key, "consumer_secret": _reveal(self.consumer_secret)}
        chosen: dict[str, str | None] | None = None
        if self.security_token and all(user.values()):
            chosen = {**user, "security_token": _reveal(self.security_token)}
        elif all(user.values()) and all(app.values()):
            chosen = {**user, **app}
        elif all(app.values()) and not self.username:
            if self.domain in ("login", "test"):
                raise ValueError(
                    "the client-credentials flow needs domain set to your My Domain "
                    "(e.g. acme.my), not 'login' or 'test'"
                )
            chosen = app
        if chosen is None:
            raise ValueError(
                "no complete login: give consumer_key + consumer_secret (client credentials), "
                "with username + password (username-password flow), or username + password + "
                "security_token"
            )
        return {k: v for k, v in chosen.items() if v}


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout: simple-salesforce's sObject methods accept none."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request, stream, self.timeout if timeout is None else timeout, verify, cert, proxies
        )


class SalesforceConnector(Connector):
    """Tasks and Events upserted on the external-id field; WhoId/WhatId from the entities."""

    Options = SalesforceOptions
    secrets = ("consumer_key", "consumer_secret", "username", "password", "security_token")
    options: SalesforceOptions

    def __init__(self, name: str, options: BaseModel, mapping: FieldMapping) -> None:
        super().__init__(name, options, mapping)
        assert isinstance(options, SalesforceOptions)
        self._session = options.session or requests.Session()
        self._session.mount("https://", _TimeoutAdapter(options.timeout))
        self._sf: Salesforce | None = None

    # -- session ------------------------------------------------------------------------------

    def refresh_auth(self) -> None:
        """Log in again: Salesforce expires sessions after inactivity or on revocation."""
        self._sf = self._login()

    def _login(self) -> Salesforce:
        opts = self.options
        session_id, instance = _translated(
            lambda: SalesforceLogin(
                session=self._session,
                domain=opts.domain,
                sf_version=opts.version,
                **opts.login_arguments(),
            )
        )
        return Salesforce(
            session_id=session_id, instance=instance, session=self._session, version=opts.version
        )

    def _request(self, send: Callable[[Salesforce], T]) -> T:
        """One API call, logged in first if need be, renewing an expired session once."""

        def attempt() -> T:
            if self._sf is None:
                self._sf = self._login()
            client = self._sf
            return _translated(lambda: send(client))

        return self.call(attempt)

    def _ids(self, soql: str, *values: Any) -> list[str]:
        result = self._request(lambda sf: sf.query_all(format_soql(soql, *values)))
        return [record["Id"] for record in result["records"]]

    # -- Connector ----------------------------------------------------------------------------

    def upsert(self, item: SyncItem) -> RemoteRef:
        stored = item.item
        sobject = self.mapping.object_for(stored)
        data = self.mapping.render(stored, item.text, self.options.zone)
        data.update(_who_and_what(linked_records(self, stored, deals=self.options.link_deals)))
        key = format_external_id(self.options.external_id_field, stored.external_id)
        response = self._request(
            lambda sf: getattr(sf, sobject).upsert(key, data, raw_response=True)
        )
        # An update answers 200 with the id on recent API versions and 204 on older ones.
        record_id = (response.json() if response.content else {}).get("id") or self._id_of(
            sobject, stored.external_id
        )
        return RemoteRef(record_id, sobject)

    def _id_of(self, sobject: str, external_id: str) -> str:
        field = self.options.external_id_field
        ids = self._ids(f"SELECT Id FROM {sobject} WHERE {field} = {{}}", external_id)
        if not ids:
            raise Transient(f"{SYSTEM}: the {sobject} upserted as {external_id} is not visible yet")
        return ids[0]

    def find_contact(self, name: str) -> RemoteRef | None:
        """A Contact, else an unconverted Lead: someone not yet qualified exists only as a Lead.

        Several Contacts of that name are ambiguous, not a reason to try the Leads.
        """
        ids = self._ids("SELECT Id FROM Contact WHERE Name = {} LIMIT 2", name)
        if ids:
            return only([RemoteRef(i, "Contact") for i in ids])
        ids = self._ids("SELECT Id FROM Lead WHERE Name = {} AND IsConverted = false LIMIT 2", name)
        return only([RemoteRef(i, "Lead") for i in ids])

    def find_account(self, name: str) -> RemoteRef | None:
        ids = self._ids("SELECT Id FROM Account WHERE Name = {} LIMIT 2", name)
        return only([RemoteRef(i, "Account") for i in ids])

    def find_open_deal(self, account: RemoteRef) -> RemoteRef | None:
        ids = self._ids(
            "SELECT Id FROM Opportunity WHERE AccountId = {} AND IsClosed = false LIMIT 2",
            account.id,
        )
        return only([RemoteRef(i, "Opportunity") for i in ids])

    def changes_since(self, cursor: str | None) -> tuple[list[RemoteChange], str]:
        return changes_after(cursor, self._changes)

    def _changes(self, kind: ItemType, since: datetime | None) -> Iterator[RemoteChange]:
        sobject = self.mapping.objects[kind].object
        key = self.options.external_id_field
        fields = dict.fromkeys(["Id", "SystemModstamp", key, *read_back_fields(self.mapping, kind)])
        soql = f"SELECT {', '.join(fields)} FROM {sobject} WHERE {key} != null"
        if since:
            # SOQL datetime literals have whole seconds: ask from the second, drop the rest later.
            soql += format_soql(" AND SystemModstamp >= {}", since)
        records = self._request(lambda sf: sf.query_all(soql + " ORDER BY SystemModstamp"))
        for record in records["records"]:
            modstamp = record["SystemModstamp"]
            yield remote_change(
                self.mapping,
                kind,
                record,
                remote=RemoteRef(record["Id"], sobject, modstamp),
                changed_at=parse_moment(modstamp, UTC) or datetime.now(UTC),
                external_id=record[key],
                zone=self.options.zone,
            )

    def check(self) -> list[str]:
        checked = [f"logged in to {self._request(lambda sf: sf.sf_instance)}"]
        for kind in ItemType:
            checked.append(self._check_object(kind))
        if self.mapping.owners:
            ids = self._ids(
                "SELECT Id FROM User WHERE Id IN {}", [str(i) for i in self.mapping.owners.values()]
            )
            checked.append(check_owners(self.mapping, ids, system=SYSTEM))
        return checked

    def _check_object(self, kind: ItemType) -> str:
        sobject = self.mapping.objects[kind].object
        key = self.options.external_id_field
        fields = self._request(lambda sf: getattr(sf, sobject).describe())["fields"]
        available = {f["name"]: _picklist(f) for f in fields}
        line = check_object(self.mapping, kind, available, system=SYSTEM, required=[key])
        if not any(f["name"] == key and f.get("externalId") for f in fields):
            raise ConnectorConfigError(
                f"{SYSTEM} {sobject}.{key} is not an External ID field: tick 'External ID' "
                f"(and 'Unique') on it, or set external_id_field"
            )
        return f"{line}, upsert on {key}"


def _who_and_what(links: Links) -> dict[str, str | None]:
    """WhoId: the first person; WhatId: the first open Opportunity, else the first Account.

    With a Lead as the Who, WhatId is sent empty rather than left out: an earlier upsert may
    have related the record to an Account, and Salesforce refuses a Lead beside it.
    """
    who = links.contacts[0] if links.contacts else None
    what = next(iter(links.deals or links.accounts), None)
    fields: dict[str, str | None] = {"WhoId": who.id} if who else {}
    if who and who.type == "Lead":
        fields["WhatId"] = None
    elif what:
        fields["WhatId"] = what.id
    return fields


def _picklist(field: dict[str, Any]) -> frozenset[str] | None:
    """The active values of a restricted picklist; ``None`` for free fields (and comboboxes)."""
    if field.get("type") != "picklist":
        return None
    return frozenset(v["value"] for v in field.get("picklistValues", []) if v.get("active"))


def _translated(send: Callable[[], T]) -> T:
    """Run ``send``, turning simple-salesforce and requests errors into connector errors."""
    try:
        return send()
    except SalesforceAuthenticationFailed as exc:
        text = f"{SYSTEM} login failed ({exc.code}): {exc.auth_message}"
        if isinstance(exc.code, int) and exc.code >= 500:
            raise Transient(text) from exc
        raise Permanent(f"{text}; check the credentials and domain") from exc
    except SalesforceError as exc:
        _raise_api_error(exc)
    except requests.RequestException as exc:
        raise Transient(f"{SYSTEM} did not answer: {exc}") from exc


def _raise_api_error(exc: SalesforceError) -> NoReturn:
    """Salesforce's error list (``[{"message", "errorCode", "fields"}]``) as a connector error."""
    content: Any = exc.content
    problems = content if isinstance(content, list) else [{"message": str(content)}]
    message = "; ".join(f"{p.get('errorCode', 'ERROR')}: {p.get('message', '')}" for p in problems)
    if any(p.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" for p in problems):
        # Salesforce signals its API allocation with 403, without Retry-After.
        raise RateLimited(f"{SYSTEM} answered {exc.status}: {message}") from exc
    raise_for_status(SYSTEM, exc.status, {}, message)
    # 300: several records carry the same external id; a person has to merge them.
    raise Permanent(f"{SYSTEM} answered {exc.status}: {message}") from exc
