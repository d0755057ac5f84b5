"""Push items to a CalDAV calendar (RFC 4791) with plain httpx requests.

One resource per item, ``<uid>.ics``, written with preconditions so that nothing is
duplicated or silently lost: ``If-None-Match: *`` creates, ``If-Match: <etag>`` updates.
chat2task owns the objects it writes: when the server answers 412 (the object exists, or
changed since our ETag) the client reads the current ETag and writes once more; a second
412 means someone is writing at the same moment, a :class:`Transient` error.

Failures are the connector errors (:mod:`connectors.errors`), classified by
:func:`connectors.base.raise_for_status` like every other connector's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import httpx

from connectors.base import raise_for_status
from connectors.calendar.ics import DEFAULT_REMINDERS, Reminders, on_calendar, to_ics, uid_of
from connectors.errors import ConnectorConfigError, Permanent, Transient
from pipeline.errors import InputError
from pipeline.storage import StoredItem

ICS_TYPE = "text/calendar; charset=utf-8"
_DAV = "{DAV:}"
_LIST_ETAGS = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"""
_MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:set><d:prop>
  <d:displayname>{name}</d:displayname>
  <c:supported-calendar-component-set>
   <c:comp name="VEVENT"/><c:comp name="VTODO"/>
  </c:supported-calendar-component-set>
 </d:prop></d:set>
</c:mkcalendar>"""


class CalDAVClient:
    """One calendar collection (``url``) that items are written to in ``zone``."""

    def __init__(
        self,
        url: str,
        *,
        zone: ZoneInfo,
        auth: tuple[str, str] | None = None,
        reminders: Reminders = DEFAULT_REMINDERS,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` replaces httpx's network layer (a proxy, a recorder in tests)."""
        self.url = url if url.endswith("/") else url + "/"
        self.zone = zone
        self.reminders = reminders
        self._http = httpx.Client(auth=auth, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def href(self, uid: str) -> str:
        """The URL of the item ``uid``: UIDs hold ``@``, which a path must escape."""
        return self.url + quote(f"{uid}.ics")

    def ensure_calendar(self, name: str = "chat2task") -> bool:
        """Create the collection (MKCALENDAR) unless it exists; ``True`` if it was created."""
        found = self._send("PROPFIND", self.url, headers={"Depth": "0"}, content=_LIST_ETAGS)
        if found.status_code != 404:
            self._expect(found, 207)
            return False
        body = _MKCALENDAR.format(name=escape(name)).encode("utf-8")
        created = self._send("MKCALENDAR", self.url, content=body)
        self._expect(created, 201)
        return True

    def put(self, item: StoredItem, etag: str | None = None) -> str:
        """Write the item (create without ``etag``, else update); return the new ETag."""
        if not on_calendar(item):
            raise InputError(
                f"item {item.id} is an event without a start: it has no calendar place"
            )
        uid = uid_of(item)
        body = to_ics([item], zone=self.zone, reminders=self.reminders)
        response = self._put(uid, body, etag)
        if response.status_code == 412:
            response = self._put(uid, body, self.etag(uid))
            if response.status_code == 412:
                raise Transient(
                    f"{self.href(uid)} changed on the server while we wrote it: push again"
                )
        self._expect(response, 200, 201, 204)
        return response.headers.get("ETag") or self._etag_after_write(uid)

    def delete(self, uid: str, etag: str | None = None) -> bool:
        """Delete the item; ``False`` if it was already gone.

        With ``etag`` only that version is deleted: an object changed since is kept, and
        trying again with the same ETag cannot help (:class:`Permanent`).
        """
        headers = {"If-Match": etag} if etag else {}
        response = self._send("DELETE", self.href(uid), headers=headers)
        if response.status_code == 404:
            return False
        if response.status_code == 412:
            raise Permanent(f"{self.href(uid)} changed on the server since {etag}: not deleted")
        self._expect(response, 200, 204)
        return True

    def etag(self, uid: str) -> str | None:
        """The item's current ETag, ``None`` if the server has no such object."""
        response = self._send("HEAD", self.href(uid))
        if response.status_code == 404:
            return None
        self._expect(response, 200)
        return response.headers.get("ETag")

    def list_etags(self) -> dict[str, str]:
        """UID → ETag of every ``.ics`` object in the collection (one PROPFIND)."""
        response = self._send("PROPFIND", self.url, headers={"Depth": "1"}, content=_LIST_ETAGS)
        self._expect(response, 207)
        return _etags_by_uid(response.content)

    def _put(self, uid: str, body: bytes, etag: str | None) -> httpx.Response:
        precondition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        headers = {"Content-Type": ICS_TYPE, **precondition}
        return self._send("PUT", self.href(uid), headers=headers, content=body)

    def _etag_after_write(self, uid: str) -> str:
        """Servers that rewrite a body may answer a PUT without ETag: ask for it."""
        etag = self.etag(uid)
        if etag is None:
            raise Transient(f"{self.href(uid)} is missing right after it was written")
        return etag

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        try:
            return self._http.request(method, url, headers=headers, content=content)
        except httpx.UnsupportedProtocol as exc:
            raise ConnectorConfigError(
                f"CalDAV URL {url} must be an https:// (or http://) URL"
            ) from exc
        except httpx.TransportError as exc:
            raise Transient(f"cannot reach the CalDAV server at {url}: {exc}") from exc

    def _expect(self, response: httpx.Response, *statuses: int) -> None:
        """Return on an expected status; else raise the connector error for it."""
        if response.status_code in statuses:
            return
        request = f"CalDAV {response.request.method} {response.request.url}"
        raise_for_status(request, response.status_code, response.headers, _hint(response))
        raise Permanent(f"{request} answered {response.status_code}, expected {statuses}")


def push(
    items: Iterable[StoredItem], client: CalDAVClient, etags: Mapping[str, str]
) -> dict[str, str]:
    """Write every item that fits a calendar; return UID → ETag for the caller to keep.

    ``etags`` are the ones from the last push (or :meth:`CalDAVClient.list_etags`); an item
    without one is created.
    """
    return {
        uid_of(item): client.put(item, etags.get(uid_of(item)))
        for item in items
        if on_calendar(item)
    }


def _hint(response: httpx.Response) -> str:
    """What to do about a refused request, where the status alone says it."""
    if response.status_code in (401, 403):
        return "check the username and password (or app password)"
    if response.status_code in (404, 409):  # 409: a collection above the object is missing
        return "the calendar or the collection above it does not exist: check the URL"
    return response.text.strip()[:200] or response.reason_phrase


def _etags_by_uid(multistatus: bytes) -> dict[str, str]:
    """Parse a PROPFIND answer: the collection itself and non-``.ics`` members are skipped."""
    found: dict[str, str] = {}
    for response in ET.fromstring(multistatus).iter(f"{_DAV}response"):
        href = unquote(response.findtext(f"{_DAV}href", ""))
        etag = response.findtext(f".//{_DAV}getetag")
        name = href.rsplit("/", 1)[-1]
        if etag and name.endswith(".ics"):
            found[name.removesuffix(".ics")] = etag
    return found
