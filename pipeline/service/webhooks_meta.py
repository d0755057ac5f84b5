"""Meta's WhatsApp Cloud API webhooks: subscription check, messages and delivery statuses.

The ``X-Hub-Signature-256`` HMAC covers the raw body bytes, so it is checked before the
JSON is parsed (re-serialising would change the bytes). One delivery can carry several
entries, changes, messages and statuses; all of them are handled, and a message type we
do not turn into a chat message (``contacts``, ``order``, ``system``, ``unsupported``…) is
skipped on purpose and logged, not silently lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.domain import Attachment, Message, MessageKind
from pipeline.notify.outbound import record_status
from pipeline.service.errors import ApiError, describe, invalid
from pipeline.service.state import blocking, state
from pipeline.service.webhooks import e164, location, tenant_for, timed
from pipeline.storage import Store

log = logging.getLogger(__name__)

CHANNEL = "meta"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


class _Part(BaseModel):
    """Meta adds fields over time: unknown ones are kept, never refused."""

    model_config = ConfigDict(extra="allow", frozen=True)


class MetaMessage(_Part):
    id: str = Field(min_length=1)
    sender: str = Field(alias="from", min_length=1)
    timestamp: int
    type: str
    context: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        """The object under the key named by ``type`` (``{"body": …}`` for text)."""
        found = (self.model_extra or {}).get(self.type)
        return found if isinstance(found, dict) else {}


class MetaError(_Part):
    code: int | None = None
    title: str | None = None
    message: str | None = None


class MetaStatus(_Part):
    id: str = Field(min_length=1)
    status: str = Field(min_length=1)
    timestamp: int
    errors: list[MetaError] = []


class Profile(_Part):
    name: str | None = None


class MetaContact(_Part):
    wa_id: str
    profile: Profile = Profile()


class Metadata(_Part):
    phone_number_id: str


class ChangeValue(_Part):
    metadata: Metadata | None = None
    contacts: list[MetaContact] = []
    messages: list[MetaMessage] = []
    statuses: list[MetaStatus] = []
    errors: list[MetaError] = []


class Change(_Part):
    field: str
    value: ChangeValue


class Entry(_Part):
    changes: list[Change] = []


class Envelope(_Part):
    object: str
    entry: list[Entry]


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``."""
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256="), expected)


def _text_and_attachments(message: MetaMessage, graph_url: str) -> tuple[str, list[Attachment]]:
    """What a message says and carries, by its ``type``; ``None`` kinds are skipped."""
    payload = message.payload()
    match message.type:
        case "text":
            return str(payload.get("body", "")), []
        case "interactive":
            reply = payload.get("button_reply") or payload.get("list_reply") or {}
            return str(reply.get("title", "")), []
        case "button":
            return str(payload.get("text", "")), []
        case "location":
            name = payload.get("name") or payload.get("address")
            attachment = location(str(payload["latitude"]), str(payload["longitude"]), name)
            return str(name or ""), [attachment]
        case media if media in MEDIA_TYPES:
            attachment = Attachment(
                filename=payload.get("filename"),
                media_type=payload.get("mime_type"),
                uri=f"{graph_url.rstrip('/')}/{payload['id']}",
            )
            return str(payload.get("caption", "")), [attachment]
    raise ValueError(message.type)


def to_message(
    message: MetaMessage, profiles: dict[str, str], *, graph_url: str, zone: ZoneInfo
) -> Message | None:
    """A Meta message as a :class:`Message`; ``None`` for types that carry no chat content.

    A reaction becomes a ``system`` message replying to the message it reacts to (the text
    is the emoji), so a thumbs-up on a confirmation prompt can be read as an answer.
    """
    chat = e164(message.sender)
    reply_to = (message.context or {}).get("id")
    kind = MessageKind.TEXT
    if message.type == "reaction":
        payload = message.payload()
        text, attachments = str(payload.get("emoji", "")), list[Attachment]()
        reply_to, kind = payload.get("message_id"), MessageKind.SYSTEM
    else:
        try:
            text, attachments = _text_and_attachments(message, graph_url)
        except ValueError:
            log.info("skipped a Meta message of type %s", message.type)
            return None
        except KeyError as missing:
            raise invalid(f"{message.type} message {message.id} lacks {missing}") from None
        if attachments and not text and message.type != "location":
            kind = MessageKind.MEDIA
    return Message(
        id=message.id,
        chat=chat,
        author=profiles.get(message.sender) or chat,
        sent_at=datetime.fromtimestamp(message.timestamp, zone),
        text=text,
        kind=kind,
        attachments=tuple(attachments),
        reply_to=reply_to,
        source=CHANNEL,
    )


async def verify(request: web.Request) -> web.Response:
    """``GET /webhooks/meta``: echo ``hub.challenge`` when the verify token matches."""
    token = state(request).settings.service.meta.verify_token.get_secret_value()
    query = request.query
    if (
        token
        and query.get("hub.mode") == "subscribe"
        and hmac.compare_digest(query.get("hub.verify_token", ""), token)
    ):
        return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
    raise ApiError(403, "verification_failed", "hub.mode or hub.verify_token does not match")


def _parse(body: bytes) -> Envelope:
    try:
        envelope = Envelope.model_validate(json.loads(body))
    except json.JSONDecodeError as exc:
        raise invalid(f"body is not JSON: {exc}") from None
    except ValidationError as exc:
        raise invalid(f"malformed Meta webhook: {describe(exc)}") from None
    if envelope.object != "whatsapp_business_account":
        raise invalid(f"object {envelope.object!r} is not whatsapp_business_account")
    return envelope


async def receive(request: web.Request) -> web.Response:
    """``POST /webhooks/meta``: verify, store every message (once), record statuses."""
    with timed(CHANNEL):
        service = state(request)
        meta = service.settings.service.meta
        secret = meta.app_secret.get_secret_value()
        if not secret:
            raise ApiError(403, "not_configured", "Meta webhooks need service.meta.app_secret")
        body = await request.read()
        header = request.headers.get("X-Hub-Signature-256", "")
        if not header or not signature_valid(secret, body, header):
            log.warning("meta webhook with a bad signature")
            raise ApiError(403, "bad_signature", "X-Hub-Signature-256 does not match the body")
        envelope = _parse(body)
        by_tenant: dict[str, list[Message]] = {}
        statuses: list[MetaStatus] = []
        for entry in envelope.entry:
            for change in entry.changes:
                value = change.value
                number = value.metadata.phone_number_id if value.metadata else ""
                profiles = {c.wa_id: c.profile.name or "" for c in value.contacts}
                for error in value.errors:
                    log.warning("meta reported error %s: %s", error.code, error.title)
                for item in value.messages:
                    message = to_message(
                        item, profiles, graph_url=meta.graph_url, zone=service.settings.zone
                    )
                    if message is not None:
                        tenant = tenant_for(number, service.settings)
                        by_tenant.setdefault(tenant, []).append(message)
                statuses.extend(value.statuses)
        new = 0
        for tenant, messages in by_tenant.items():
            new += await service.inbox.accept(messages, tenant=tenant, channel=CHANNEL)
        known = await blocking(_record_statuses, service.store, statuses, service.settings.zone)
        return web.json_response(
            {
                "messages": sum(len(m) for m in by_tenant.values()),
                "new": new,
                "statuses": len(statuses),
                "statuses_known": known,
            }
        )


def _record_statuses(store: Store, statuses: list[MetaStatus], zone: ZoneInfo) -> int:
    known = 0
    for status in statuses:
        error = status.errors[0] if status.errors else None
        known += record_status(
            store,
            channel=CHANNEL,
            provider_id=status.id,
            status=status.status,
            at=datetime.fromtimestamp(status.timestamp, zone),
            error_code=str(error.code) if error and error.code is not None else None,
            error_message=(error.message or error.title) if error else None,
        )
    return known


def add_routes(app: web.Application) -> None:
    app.router.add_get("/webhooks/meta", verify)
    app.router.add_post("/webhooks/meta", receive)
