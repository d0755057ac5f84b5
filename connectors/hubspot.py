"""Push items to HubSpot as tasks and meetings, with hubspot-api-client (CRM v3, associations v4).

Exactly once: records are written with a batch upsert keyed on a unique custom property
(``chat2task_id``) holding the item's external id, so a retry after a timeout updates the
record the first attempt created. The SDK's own retries are off: the sync engine owns them.
Private-app tokens do not expire, so there is nothing to refresh; a 401 is retried once by
:meth:`Connector.call` and then reported as :class:`Transient`.

Each record is linked, by the default association (an idempotent PUT), to the contacts and
companies the item names and, unless ``link_deals`` is off, to each company's one open deal:
a deal search on the ``associations.company`` pseudo-property and ``hs_is_closed``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm import objects, owners, properties
from hubspot.crm.associations import v4 as associations_v4
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
)
from pydantic import BaseModel, SecretStr
from urllib3.util.retry import Retry

from connectors.base import Connector, RemoteChange, RemoteRef, SyncItem, raise_for_status
from connectors.crm import (
    CRMOptions,
    changes_after,
    check_object,
    check_owners,
    linked_records,
    only,
    parse_moment,
    read_back_fields,
    remote_change,
)
from connectors.errors import ConnectorConfigError, Permanent, Transient
from connectors.mapping import FieldMapping
from pipeline.domain import ItemType

SYSTEM = "HubSpot"
T = TypeVar("T")
#: Each SDK sub-package raises its own ApiException class.
_API_ERRORS = (
    objects.ApiException,
    associations_v4.ApiException,
    properties.ApiException,
    owners.ApiException,
)
_MODIFIED = "hs_lastmodifieddate"
_ID = "hs_object_id"
_PAGE = 100


class HubSpotOptions(CRMOptions):
    """A private app's access token (scopes: the CRM objects written and read) and the host."""

    access_token: SecretStr
    host: str = "https://api.hubapi.com"
    #: The custom property with unique values that holds the item's external id.
    id_property: str = "chat2task_id"


class HubSpotConnector(Connector):
    """Tasks and meetings upserted on ``id_property``; associated to contacts, companies and
    their open deals."""

    Options = HubSpotOptions
    secrets = ("access_token",)
    options: HubSpotOptions

    def __init__(self, name: str, options: BaseModel, mapping: FieldMapping) -> None:
        super().__init__(name, options, mapping)
        assert isinstance(options, HubSpotOptions)
        client = HubSpot(
            access_token=options.access_token.get_secret_value(),
            host=options.host,
            retry=Retry(total=0, redirect=0),
        )
        # Each property access builds a new API client: keep the ones we use.
        self._batch = client.crm.objects.batch_api
        self._search = client.crm.objects.search_api
        self._associations = client.crm.associations.v4.basic_api
        self._properties = client.crm.properties.core_api
        self._owners = client.crm.owners.owners_api
        self._timeout = {"_request_timeout": options.timeout}

    def _request(self, send: Callable[[], T]) -> T:
        return self.call(lambda: _translated(send))

    # -- Connector ----------------------------------------------------------------------------

    def upsert(self, item: SyncItem) -> RemoteRef:
        stored = item.item
        object_type = self.mapping.object_for(stored)
        rendered = self.mapping.render(stored, item.text, self.options.zone)
        record = SimplePublicObjectBatchInputUpsert(
            id=stored.external_id,
            id_property=self.options.id_property,
            properties={k: _text(v) for k, v in rendered.items()},
        )
        batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[record])
        answer = self._request(lambda: self._batch.upsert(object_type, batch, **self._timeout))
        if getattr(answer, "errors", None):  # 207 Multi-Status
            problems = "; ".join(e.message for e in answer.errors)
            raise Permanent(f"{SYSTEM} refused the {object_type} record: {problems}")
        ref = RemoteRef(answer.results[0].id, object_type)
        links = linked_records(self, stored, deals=self.options.link_deals)
        for target in (*links.contacts, *links.accounts, *links.deals):
            self._associate(ref, target)
        return ref

    def _associate(self, record: RemoteRef, target: RemoteRef) -> None:
        """The default (unlabelled) association: no type ids to know, and PUT is idempotent."""
        self._request(
            lambda: self._associations.create_default(
                record.type, record.id, target.type, target.id, **self._timeout
            )
        )

    def find_contact(self, name: str) -> RemoteRef | None:
        first, _, last = name.strip().partition(" ")
        return self._find("contacts", {"firstname": first, "lastname": last.strip()})

    def find_account(self, name: str) -> RemoteRef | None:
        return self._find("companies", {"name": name})

    def find_open_deal(self, account: RemoteRef) -> RemoteRef | None:
        """One search, however many deals the company has: search filters on associations."""
        return self._find("deals", {"associations.company": account.id, "hs_is_closed": "false"})

    def _find(self, object_type: str, equals: dict[str, str]) -> RemoteRef | None:
        filters = [Filter(property_name=p, operator="EQ", value=v) for p, v in equals.items() if v]
        # Only ids are read; the filters' names would include associations.company, no property.
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)], properties=[_ID], limit=2
        )
        found = self._request(lambda: self._search.do_search(object_type, request, **self._timeout))
        return only([RemoteRef(r.id, object_type) for r in found.results])

    def changes_since(self, cursor: str | None) -> tuple[list[RemoteChange], str]:
        return changes_after(cursor, self._changes)

    def _changes(self, kind: ItemType, since: datetime | None) -> Iterator[RemoteChange]:
        object_type = self.mapping.objects[kind].object
        key = self.options.id_property
        filters = [Filter(property_name=key, operator="HAS_PROPERTY")]
        if since:
            millis = str(int(since.timestamp() * 1000))
            filters.append(Filter(property_name=_MODIFIED, operator="GT", value=millis))
        wanted = list(dict.fromkeys([key, _MODIFIED, *read_back_fields(self.mapping, kind)]))
        after: str | None = None
        while True:
            page = self._search_page(object_type, filters, wanted, after)
            for record in page.results:
                props = record.properties
                yield remote_change(
                    self.mapping,
                    kind,
                    props,
                    remote=RemoteRef(record.id, object_type, props.get(_MODIFIED)),
                    changed_at=parse_moment(props.get(_MODIFIED), UTC) or record.updated_at,
                    external_id=props.get(key),
                    zone=self.options.zone,
                )
            if not (page.paging and page.paging.next):
                return
            after = page.paging.next.after

    def _search_page(
        self, object_type: str, filters: list[Filter], wanted: list[str], after: str | None
    ) -> Any:
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            properties=wanted,
            limit=_PAGE,
            after=after,
        )
        return self._request(lambda: self._search.do_search(object_type, request, **self._timeout))

    def check(self) -> list[str]:
        checked = [self._check_object(kind) for kind in ItemType]
        if self.mapping.owners:
            checked.append(check_owners(self.mapping, self._owner_ids(), system=SYSTEM))
        return checked

    def _check_object(self, kind: ItemType) -> str:
        object_type = self.mapping.objects[kind].object
        key = self.options.id_property
        found = self._request(lambda: self._properties.get_all(object_type, **self._timeout))
        available = {
            p.name: frozenset(o.value for o in p.options) if p.type == "enumeration" else None
            for p in found.results
        }
        line = check_object(self.mapping, kind, available, system=SYSTEM, required=[key])
        if not any(p.name == key and p.has_unique_value for p in found.results):
            raise ConnectorConfigError(
                f"{SYSTEM} {object_type} property {key!r} must have unique values "
                f"(hasUniqueValue) to upsert on it: create it so, or set id_property"
            )
        return f"{line}, upsert on {key}"

    def _owner_ids(self) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        while True:
            page = self._owner_page(after)
            ids.extend(str(o.id) for o in page.results)
            if not (page.paging and page.paging.next):
                return ids
            after = page.paging.next.after

    def _owner_page(self, after: str | None) -> Any:
        return self._request(
            lambda: self._owners.get_page(limit=_PAGE, after=after, **self._timeout)
        )


def _text(value: Any) -> str:
    """HubSpot property values are strings on the wire; booleans are ``true``/``false``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _translated(send: Callable[[], T]) -> T:
    """Run ``send``, turning SDK and urllib3 errors into connector errors."""
    try:
        return send()
    except _API_ERRORS as exc:
        _raise_api_error(exc)
    except urllib3.exceptions.HTTPError as exc:
        raise Transient(f"{SYSTEM} did not answer: {exc}") from exc


def _raise_api_error(exc: Any) -> NoReturn:
    """HubSpot's error body (``{"message", "category", "policyName"?}``) as a connector error."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") or exc.reason or "no message"
    if category := body.get("policyName") or body.get("category"):
        message = f"{message} ({category})"
    window = headers.get("x-hubspot-ratelimit-interval-milliseconds")
    if exc.status == 429 and "retry-after" not in headers and window:
        # Retry-After is not guaranteed on a 429; the rolling window's length is a safe wait.
        headers["retry-after"] = str(int(window) / 1000)
    raise_for_status(SYSTEM, exc.status or 0, headers, message)
    # Status 0: the SDK got no HTTP answer at all (a TLS failure).
    raise Transient(f"{SYSTEM}: {message}") from exc
