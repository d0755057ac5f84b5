"""What the connectors that call a REST API themselves (Pipedrive, Dynamics 365) share.

The sync engine decides by error type alone, so every way an httpx call can fail becomes
a connector error here, once: transport failures and timeouts are :class:`Transient`
(a timed-out write may still have been applied, which is why every upsert first looks
for the record it may have created), statuses go through :func:`raise_for_status` with
the API's own error message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from connectors.base import raise_for_status
from connectors.errors import ConnectorConfigError, Transient
from connectors.mapping import FieldMapping
from pipeline.domain import ItemType
from pipeline.storage.records import StoredItem


class RestApi(ABC):
    """An httpx client for one API whose failures are connector errors."""

    system: ClassVar[str]

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise the connector error for a failure or an error status."""
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Transient(
                f"{self.system}: {method} {_path(url)} timed out (it may still have been applied)"
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ConnectorConfigError(
                f"{self.system}: base_url must start with https:// (or http://): {exc}"
            ) from exc
        except httpx.RequestError as exc:
            raise Transient(f"{self.system}: {method} {_path(url)} failed: {exc}") from exc
        raise_for_status(
            self.system, response.status_code, self.error_headers(response), self.error(response)
        )
        return response

    @abstractmethod
    def error(self, response: httpx.Response) -> str:
        """The API's own explanation of a failed request, for the error message."""

    def error_headers(self, response: httpx.Response) -> Mapping[str, str]:
        """Headers :func:`raise_for_status` reads ``Retry-After`` from."""
        return response.headers

    def close(self) -> None:
        self.client.close()


def json_body(response: httpx.Response) -> Any:
    """The parsed body, or ``None`` when it is not JSON (a proxy's HTML error page)."""
    try:
        return response.json()
    except ValueError:
        return None


def _path(url: str) -> str:
    """The URL without its query, which may carry a token or a long filter."""
    return url.split("?", 1)[0]


def linked_names(item: StoredItem, label: str) -> Iterator[str]:
    """Names of the ``ORG`` or ``PERSON`` records an item may be linked to, first seen first.

    A ``PERSON`` with a roster key is one of our own team, not a customer contact; an
    ``ORG`` key is the account's canonical name, which matches the CRM better than the text.
    """
    seen: set[str] = set()
    for entity in item.entities:
        if entity.label != label or (label == "PERSON" and entity.key):
            continue
        name = entity.key or entity.text
        if name not in seen:
            seen.add(name)
            yield name


def first_crm_field(mapping: FieldMapping, kind: ItemType, *item_fields: str) -> str | None:
    """The CRM field that receives the first of ``item_fields`` the mapping maps."""
    return next(
        (f for name in item_fields if (f := mapping.crm_field(kind, name)) is not None), None
    )


def utc_stamp(moment: datetime) -> str:
    """``2026-11-27T15:00:00Z``: the form both APIs filter and answer with."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
