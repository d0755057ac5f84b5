"""The one small interface every external system implements, and what it exchanges.

A connector turns a :class:`SyncItem` into a remote record and back; it never touches the
database, the queue or retries. The sync engine owns those and decides from the error type
(:mod:`connectors.errors`) alone. Connectors are found by name in
:data:`pipeline.registry.connectors` (entry-point group ``chat2task_connectors``), so a third
party can add a CRM without touching chat2task.
"""

from __future__ import annotations

import email.utils
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar, TypeVar

import catalogue
from pydantic import BaseModel, ValidationError

from connectors.errors import (
    AuthExpired,
    ConnectorConfigError,
    Permanent,
    RateLimited,
    RemoteNotFound,
    Transient,
)
from connectors.mapping import FieldMapping
from pipeline import registry
from pipeline.config import ConnectorSettings, validation_problems
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """A record in the external system; ``version`` is its ETag / modstamp when known."""

    id: str
    type: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class SyncItem:
    """An item as a connector sees it: the stored item plus what the mapping may need."""

    item: StoredItem
    #: The text of the message the item came from (for descriptions).
    text: str = ""
    #: The remote record this item was pushed to before, if any.
    link: RemoteRef | None = None


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """A change made in the external system that should flow back to the item.

    ``external_id`` identifies the item when the remote record carries it; otherwise the
    engine finds the item by ``remote.id``. Fields left ``None`` did not change.
    """

    remote: RemoteRef
    changed_at: datetime
    external_id: str | None = None
    status: ItemStatus | None = None
    due: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    #: A roster name (the mapping's ``owners`` table read backwards).
    assignee: str | None = None


class Connector(ABC):
    """Base class: subclasses map fields and endpoints; ``call`` handles token expiry.

    ``Options`` is the pydantic model of the connector's ``options`` in the config file;
    ``secrets`` names the options that may (and should) come from the environment as
    ``CHAT2TASK_<NAME>_<KEY>``.
    """

    Options: ClassVar[type[BaseModel]]
    secrets: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, options: BaseModel, mapping: FieldMapping) -> None:
        self.name = name
        self.options = options
        self.mapping = mapping

    @classmethod
    def parse_options(cls, name: str, raw: Mapping[str, Any]) -> BaseModel:
        """Validate the options, filling secrets from the environment first."""
        values = dict(raw)
        for key in cls.secrets:
            env = f"CHAT2TASK_{name.upper()}_{key.upper()}"
            if os.environ.get(env):
                values[key] = os.environ[env]
        try:
            return cls.Options(**values)
        except ValidationError as exc:
            problems = validation_problems(exc)
            raise ConnectorConfigError(
                f"connector {name!r}: invalid options ({problems}); secrets can come from "
                + ", ".join(f"CHAT2TASK_{name.upper()}_{k.upper()}" for k in cls.secrets)
            ) from exc

    # -- what every connector implements ----------------------------------------------------

    @abstractmethod
    def upsert(self, item: SyncItem) -> RemoteRef:
        """Create or update the remote task/event for ``item``; the same item, the same record.

        Idempotent: called again after a timeout or a crash it must update, not duplicate
        (upsert by the item's external id, or by ``item.link``).
        """

    @abstractmethod
    def find_contact(self, name: str) -> RemoteRef | None:
        """A person (contact or lead) by name, to link activities to."""

    @abstractmethod
    def find_account(self, name: str) -> RemoteRef | None:
        """An organisation (account / company) by name."""

    @abstractmethod
    def changes_since(self, cursor: str | None) -> tuple[list[RemoteChange], str]:
        """Remote changes to our records since ``cursor``, and the cursor to pass next time."""

    @abstractmethod
    def check(self) -> list[str]:
        """Verify credentials and the mapping against the live API; returns what was checked.

        Raises the connector error that explains the first problem.
        """

    def refresh_auth(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Get a new session or token; connectors with long-lived keys need not override."""

    def find_open_deal(self, account: RemoteRef) -> RemoteRef | None:
        """The account's one open deal (opportunity), if it has exactly one; CRMs without
        deals need not override."""
        return None

    # -- shared machinery -------------------------------------------------------------------

    def call(self, request: Callable[[], T]) -> T:
        """Run ``request``; on :class:`AuthExpired` refresh the credentials and try once more."""
        try:
            return request()
        except AuthExpired:
            self.refresh_auth()
            try:
                return request()
            except AuthExpired as again:
                message = f"{self.name}: still unauthorised after a refresh: {again}"
                raise Transient(message) from again


def raise_for_status(system: str, status: int, headers: Mapping[str, str], message: str) -> None:
    """Map an HTTP status to the connector error the sync engine acts on (2xx/3xx: nothing)."""
    if status < 400:
        return
    text = f"{system} answered {status}: {message}"
    if status == 401:
        raise AuthExpired(text)
    if status == 429:
        raise RateLimited(text, retry_after=retry_after(headers))
    if status == 404:
        raise RemoteNotFound(text)
    if status in (408, 409, 423) or status >= 500:
        raise Transient(text)
    raise Permanent(text)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def create_connector(name: str, config: ConnectorSettings) -> Connector:
    """Build the connector configured as ``name``: its class, options and checked mapping."""
    # Names only: loading every entry point would fail on any missing optional SDK.
    installed = {e.name for e in entry_points(group="chat2task_connectors")}
    if config.type not in installed and not catalogue.check_exists(
        *registry.connectors.namespace, config.type
    ):
        raise ConnectorConfigError(
            f"connector {name!r}: unknown type {config.type!r} "
            f"(installed: {', '.join(sorted(installed)) or 'none'})"
        )
    try:
        factory = registry.connectors.get(config.type)
    except ImportError as exc:
        raise ConnectorConfigError(
            f"connector {name!r} needs a package that is not installed ({exc.name}): "
            f'pip install "chat2task[{config.type}]"'
        ) from exc
    mapping = (
        FieldMapping.load(config.mapping) if config.mapping else FieldMapping.default(config.type)
    )
    options = factory.parse_options(name, config.options)
    connector: Connector = factory(name, options, mapping)
    return connector
