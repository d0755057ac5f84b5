"""CRM webhooks as "pull now" nudges: ``POST /webhooks/crm/{connector}``.

A CRM's notification is not trusted to carry the change itself (HubSpot's events hold no
values, the others differ by API version and by how they were set up), so it is a signal
only: once verified it queues a ``crm_pull`` for that connector, and the pull reads the
changes through the connector's ``changes_since``, as the minute-by-minute polling does.
Polling stays on: it is all a connector without webhooks has, and it repairs a lost nudge.

A connector's webhooks are on while ``CHAT2TASK_<NAME>_WEBHOOK_SECRET`` is set (``NAME`` is
its configured name); without it the endpoint answers 404. The proof depends on its type:

=========  ================================================================================
hubspot    ``X-HubSpot-Signature-v3``: base64 HMAC-SHA256, keyed by the app's client secret,
           of method + URI + raw body + ``X-HubSpot-Request-Timestamp`` (≤ 5 minutes old)
pipedrive  the HTTP Basic auth set on the webhook; the secret is ``user:password``
any other  ``X-Chat2Task-Token: <secret>``, e.g. from a Salesforce Flow HTTP callout or a
           Power Automate flow on Dataverse changes (Outbound Messages are SOAP and platform
           events need CometD: neither is supported)
=========  ================================================================================
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import time
from collections.abc import Callable
from urllib.parse import unquote

from aiohttp import encode_basic_auth, web

from pipeline.config import ENV_PREFIX, Settings
from pipeline.service.errors import ApiError, invalid, not_found
from pipeline.service.state import blocking, state
from pipeline.service.webhooks import public_url, timed
from pipeline.sync.jobs import PULL

log = logging.getLogger(__name__)

CHANNEL = "crm"
TOKEN_HEADER = "X-Chat2Task-Token"
HUBSPOT_MAX_AGE_MS = 5 * 60 * 1000
#: The escapes HubSpot decodes in the URI it signs (its v3 validation guide); no others.
_HUBSPOT_DECODED = re.compile(r"%(?:21|24|27|28|29|2A|2C|2F|3A|3B|3F|40)", re.IGNORECASE)

#: Checks a request against the connector's secret; raises 403 when it does not match.
Verifier = Callable[[web.Request, bytes, str, Settings], None]


def webhook_secret(connector: str) -> str:
    """``CHAT2TASK_<NAME>_WEBHOOK_SECRET``; empty when the connector's webhooks are off."""
    return os.environ.get(f"{ENV_PREFIX}{connector.upper()}_WEBHOOK_SECRET", "")


def _matches(presented: str, expected: str) -> bool:
    """Constant-time equality; header text is compared as bytes (non-ASCII is no error)."""
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8")
    )


def _refused(connector: str, message: str) -> ApiError:
    log.warning("CRM webhook refused: %s", message, extra={"connector": connector})
    return ApiError(403, "bad_signature", message)


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 request signature."""
    uri = _HUBSPOT_DECODED.sub(lambda escape: unquote(escape.group()), uri)
    signed = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def _verify_hubspot(request: web.Request, body: bytes, secret: str, settings: Settings) -> None:
    name = request.match_info["connector"]
    timestamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
    try:
        fresh = abs(time.time() * 1000 - int(timestamp)) <= HUBSPOT_MAX_AGE_MS
    except ValueError:
        fresh = False
    if not fresh:
        raise _refused(name, "X-HubSpot-Request-Timestamp is missing or over 5 minutes off")
    url = public_url(request, settings)
    expected = hubspot_signature(secret, request.method, url, body, timestamp)
    if not _matches(request.headers.get("X-HubSpot-Signature-v3", ""), expected):
        raise _refused(name, f"X-HubSpot-Signature-v3 does not match the request to {url}")


def _verify_basic_auth(request: web.Request, body: bytes, secret: str, settings: Settings) -> None:
    login, _, password = secret.partition(":")
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    presented = f"Basic {credentials.strip()}" if scheme.lower() == "basic" else ""
    if not _matches(presented, encode_basic_auth(login, password)):
        raise _refused(request.match_info["connector"], "HTTP Basic credentials do not match")


def _verify_token(request: web.Request, body: bytes, secret: str, settings: Settings) -> None:
    if not _matches(request.headers.get(TOKEN_HEADER, ""), secret):
        raise _refused(request.match_info["connector"], f"{TOKEN_HEADER} does not match")


#: Connector type -> how its webhooks prove themselves; any other type sends the token.
VERIFIERS: dict[str, Verifier] = {"hubspot": _verify_hubspot, "pipedrive": _verify_basic_auth}


def _tenant(request: web.Request, settings: Settings) -> str:
    """The tenant to pull for: ``settings.tenant``, or a known one named by ``?tenant=``."""
    tenant = request.query.get("tenant", settings.tenant)
    if tenant not in {settings.tenant, *settings.service.tenants_by_number.values()}:
        raise invalid(f"tenant {tenant!r} is not one this service serves")
    return tenant


async def nudge(request: web.Request) -> web.Response:
    """``POST /webhooks/crm/{connector}``: verify the CRM's call, then queue a pull (202)."""
    with timed(CHANNEL):
        service = state(request)
        name = request.match_info["connector"]
        connector = service.settings.connectors.get(name)
        secret = webhook_secret(name)
        if connector is None or not connector.enabled or not secret:
            raise not_found(f"webhooks of connector {name!r}")
        body = await request.read()
        VERIFIERS.get(connector.type, _verify_token)(request, body, secret, service.settings)
        tenant = _tenant(request, service.settings)
        await blocking(service.queue.submit, PULL, {"connector": name}, tenant=tenant)
        return web.json_response({"queued": PULL}, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/crm/{connector}", nudge)
