"""Pipedrive activities (API v2) over httpx: tasks and meetings, linked to people and orgs.

An activity about an organisation with exactly one open deal is linked to that deal too
(``deal_id``), unless ``link_deals`` is off; with several open deals none is picked.

Pipedrive has no upsert and no idempotency key, so exactly-once rests on two things:
the activity id from the last push (``SyncItem.link``), and a marker ``[c2t:<external id>]``
in the activity's note. Without a link, the activities updated since the item was created
are searched for the marker before anything is created: a create whose answer was lost
(a timeout) is found and updated, not duplicated.

v2 traps this module minds: ``owner_id`` (not ``user_id``) as an integer, real booleans,
people linked through ``participants`` (``person_id`` is read-only), ``due_time`` in UTC
and ``duration`` as ``HH:MM``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, SecretStr

from connectors.base import Connector, RemoteChange, RemoteRef, SyncItem
from connectors.crm import CRMOptions, linked_records, only
from connectors.errors import ConnectorConfigError, Permanent
from connectors.mapping import OWNER, FieldMapping
from connectors.rest import RestApi, first_crm_field, json_body, parse_utc, utc_stamp
from pipeline.domain import Grain, ItemType
from pipeline.storage.records import StoredItem
from pipeline.storage.tables import ItemStatus

ACTIVITY = "activity"
#: The note carries the marker: activities' custom fields are too limited to rely on.
MARKER_FIELD = "note"
_MARKER = re.compile(r"\[c2t:([0-9a-fA-F-]{36})\]")
#: How far before an item's creation to look for its activity: clocks differ.
MARKER_LOOKBACK = timedelta(hours=1)
PAGE_SIZE = 500
#: Grains with a time of day; coarser ones are sent as a bare date.
_CLOCK_GRAINS = frozenset({Grain.SECOND, Grain.MINUTE, Grain.HOUR})
#: ``/v1/activityFields`` still names v2 fields the v1 way.
_V1_FIELD_NAMES = {"owner_id": "user_id"}


class PipedriveOptions(CRMOptions):
    """``options`` of a Pipedrive connector; ``api_token`` from CHAT2TASK_<NAME>_API_TOKEN."""

    base_url: str = "https://api.pipedrive.com"
    api_token: SecretStr


class PipedriveApi(RestApi):
    """Pipedrive's ``{success, data}`` envelope and its rate-limit headers."""

    system = "Pipedrive"

    def envelope(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """The body of a successful answer (``success: false`` is a refusal too)."""
        body = json_body(self.request(method, url, **kwargs))
        if not isinstance(body, dict) or body.get("success") is not True:
            error = body.get("error") if isinstance(body, dict) else "no JSON envelope"
            raise Permanent(f"Pipedrive refused {method} {url}: {error}")
        return body

    def error(self, response: httpx.Response) -> str:
        body = json_body(response)
        if not isinstance(body, dict):
            return response.text[:200] or response.reason_phrase
        code = body.get("code") or body.get("errorCode")
        return f"{body.get('error')}" + (f" ({code})" if code else "")

    def error_headers(self, response: httpx.Response) -> Mapping[str, str]:
        """Pipedrive may send only ``x-ratelimit-reset`` (seconds left in the window)."""
        headers = response.headers
        if "retry-after" not in headers and "x-ratelimit-reset" in headers:
            return {**headers, "Retry-After": headers["x-ratelimit-reset"]}
        return headers


class PipedriveConnector(Connector):
    """Tasks and events as Pipedrive activities; see the module docstring for idempotency."""

    Options = PipedriveOptions
    secrets: ClassVar[tuple[str, ...]] = ("api_token",)

    def __init__(self, name: str, options: BaseModel, mapping: FieldMapping) -> None:
        super().__init__(name, options, mapping)
        assert isinstance(options, PipedriveOptions)
        self.zone = options.zone
        self.link_deals = options.link_deals
        self.api = PipedriveApi(
            httpx.Client(
                base_url=options.base_url,
                params={"api_token": options.api_token.get_secret_value()},
                timeout=options.timeout,
            )
        )

    # -- pushing ----------------------------------------------------------------------------

    def upsert(self, item: SyncItem) -> RemoteRef:
        return self.call(lambda: self._upsert(item))

    def _upsert(self, sync: SyncItem) -> RemoteRef:
        payload = self._payload(sync)
        known = sync.link.id if sync.link else self._marked_activity(sync.item)
        if known is None:
            envelope = self.api.envelope("POST", "/api/v2/activities", json=payload)
        else:
            envelope = self.api.envelope("PATCH", f"/api/v2/activities/{known}", json=payload)
        activity = envelope["data"]
        return RemoteRef(str(activity["id"]), ACTIVITY, activity.get("update_time"))

    def _payload(self, sync: SyncItem) -> dict[str, Any]:
        item = sync.item
        payload = self.mapping.render(item, sync.text, self._render_zone(item))
        self._to_pipedrive_formats(item, payload)
        payload["type"] = self.mapping.object_for(item)
        payload[MARKER_FIELD] = _with_marker(payload.get(MARKER_FIELD), item.external_id)
        links = linked_records(self, item, deals=self.link_deals)
        if links.accounts:
            payload["org_id"] = int(links.accounts[0].id)
        if links.deals:
            payload["deal_id"] = int(links.deals[0].id)
        if links.contacts:
            payload["participants"] = [
                {"person_id": int(p.id), "primary": i == 0} for i, p in enumerate(links.contacts)
            ]
        return payload

    def _render_zone(self, item: StoredItem) -> tzinfo:
        """Pipedrive reads ``due_date`` with a ``due_time`` as UTC, a bare date as the day."""
        return UTC if item.grain in _CLOCK_GRAINS else self.zone

    def _to_pipedrive_formats(self, item: StoredItem, payload: dict[str, Any]) -> None:
        kind = item.type
        if item.grain not in _CLOCK_GRAINS:
            for time_field in ("due_time_utc", "when_time_utc"):
                if crm_field := self.mapping.crm_field(kind, time_field):
                    payload.pop(crm_field, None)
        duration = self.mapping.crm_field(kind, "duration_minutes")
        if duration in payload:
            payload[duration] = "{:02d}:{:02d}".format(*divmod(payload[duration], 60))
        owner = self.mapping.crm_field(kind, OWNER)
        if owner in payload:
            payload[owner] = _user_id(payload[owner], self.mapping.source)

    def _marked_activity(self, item: StoredItem) -> str | None:
        """The activity carrying ``item``'s marker, if an earlier create got through."""
        since = utc_stamp(item.created_at - MARKER_LOOKBACK)
        return next(
            (
                str(activity["id"])
                for activity in self._activities(since)
                if _marker(activity) == item.external_id
            ),
            None,
        )

    def _activities(self, updated_since: str | None) -> Iterator[dict[str, Any]]:
        """Every activity updated since then (inclusive), following the cursor pages."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if updated_since:
            params["updated_since"] = updated_since
        while True:
            envelope = self.api.envelope("GET", "/api/v2/activities", params=params)
            yield from envelope.get("data") or ()
            cursor = (envelope.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return
            params["cursor"] = cursor

    # -- finding people, organisations and deals --------------------------------------------

    def find_contact(self, name: str) -> RemoteRef | None:
        return self.call(lambda: self._search("persons", "person", name))

    def find_account(self, name: str) -> RemoteRef | None:
        return self.call(lambda: self._search("organizations", "organization", name))

    def _search(self, collection: str, kind: str, name: str) -> RemoteRef | None:
        params = {"term": name, "fields": "name", "exact_match": "true", "limit": 1}
        found = self.api.envelope("GET", f"/api/v2/{collection}/search", params=params)["data"]
        items = (found or {}).get("items") or []
        return RemoteRef(str(items[0]["item"]["id"]), kind) if items else None

    def find_open_deal(self, account: RemoteRef) -> RemoteRef | None:
        return self.call(lambda: self._open_deal(account))

    def _open_deal(self, org: RemoteRef) -> RemoteRef | None:
        """Two deals are enough to know the organisation has more than one."""
        params = {"org_id": org.id, "status": "open", "limit": 2}
        deals = self.api.envelope("GET", "/api/v2/deals", params=params)["data"] or []
        return only([RemoteRef(str(deal["id"]), "deal") for deal in deals])

    # -- reading changes back ---------------------------------------------------------------

    def changes_since(self, cursor: str | None) -> tuple[list[RemoteChange], str]:
        """Activities updated since ``cursor`` (all of them without one).

        ``updated_since`` is inclusive, so the newest change comes again on the next poll:
        a second may hold more than one change, and applying one twice is harmless.
        """
        activities = self.call(lambda: list(self._activities(cursor)))
        changes = [self._change(activity) for activity in activities]
        newest = max((c.changed_at for c in changes), default=None)
        return changes, utc_stamp(newest) if newest else cursor or utc_stamp(datetime.now(UTC))

    def _change(self, activity: Mapping[str, Any]) -> RemoteChange:
        kind = next(
            (k for k, s in self.mapping.objects.items() if s.object == activity.get("type")),
            ItemType.TASK,
        )
        when = self._when(kind, activity)
        duration = activity.get(self.mapping.crm_field(kind, "duration_minutes") or "")
        done = activity.get(self.mapping.crm_field(kind, "done") or "")
        owner = activity.get(self.mapping.crm_field(kind, OWNER) or "")
        return RemoteChange(
            remote=RemoteRef(str(activity["id"]), ACTIVITY, activity["update_time"]),
            changed_at=parse_utc(activity["update_time"]),
            external_id=_marker(activity),
            status=None if done is None else ItemStatus.DONE if done else ItemStatus.OPEN,
            due=when if kind is ItemType.TASK else None,
            start=when if kind is ItemType.EVENT else None,
            end=when + _hhmm(duration) if when and duration else None,
            assignee=self.mapping.assignee_for(owner),
        )

    def _when(self, kind: ItemType, activity: Mapping[str, Any]) -> datetime | None:
        """The due date/time read back: a time is UTC, a bare date is midnight in the zone."""
        day = activity.get(first_crm_field(self.mapping, kind, "due_date", "when_date") or "")
        if not day:
            return None
        clock = activity.get(
            first_crm_field(self.mapping, kind, "due_time_utc", "when_time_utc") or ""
        )
        if clock:
            return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), UTC)
        return datetime.combine(date.fromisoformat(day), time(), self.zone).astimezone(UTC)

    # -- checking the account ---------------------------------------------------------------

    def check(self) -> list[str]:
        """The token works, and the mapped activity types and fields exist."""
        return self.call(self._check)

    def _check(self) -> list[str]:
        me = self.api.envelope("GET", "/api/v1/users/me")["data"]
        types = {
            t["key_string"]
            for t in self.api.envelope("GET", "/api/v1/activityTypes")["data"]
            if t.get("active_flag", True)
        }
        fields = {f["key"] for f in self.api.envelope("GET", "/api/v1/activityFields")["data"]}
        checked = [f"Pipedrive: signed in as {me.get('name')} ({me.get('email')})"]
        for kind, section in self.mapping.objects.items():
            if section.object not in types:
                raise ConnectorConfigError(
                    f"Pipedrive has no active activity type {section.object!r} "
                    f"(known: {', '.join(sorted(types))}): fix {kind.value}.object in "
                    f"{self.mapping.source}"
                )
            mapped = [*section.fields, *section.custom]
            missing = [f for f in mapped if _V1_FIELD_NAMES.get(f, f) not in fields]
            if missing:
                raise ConnectorConfigError(
                    f"Pipedrive activities have no field {', '.join(missing)}: fix "
                    f"{kind.value}.fields in {self.mapping.source}"
                )
            checked.append(f"{kind.value}: activity type {section.object!r}, fields {mapped}")
        return checked


def _with_marker(note: str | None, external_id: str) -> str:
    marker = f"[c2t:{external_id}]"
    return f"{note}\n\n{marker}" if note else marker


def _marker(activity: Mapping[str, Any]) -> str | None:
    found = _MARKER.search(activity.get(MARKER_FIELD) or "")
    return found.group(1) if found else None


def _user_id(value: Any, source: str) -> int:
    """v2 takes ``owner_id`` as a number only; the owners table may hold it as a string."""
    try:
        return int(value)
    except ValueError as exc:
        raise ConnectorConfigError(
            f"Pipedrive user ids are numbers, not {value!r}: fix owners in {source}"
        ) from exc


def _hhmm(duration: str) -> timedelta:
    hours, minutes = map(int, duration.split(":")[:2])
    return timedelta(hours=hours, minutes=minutes)
