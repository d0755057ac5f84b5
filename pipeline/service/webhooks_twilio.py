"""Twilio's WhatsApp webhooks: inbound messages and delivery-status callbacks.

Every request is checked with Twilio's own ``RequestValidator`` over the public URL and
*all* posted parameters (Twilio adds parameters without notice) before anything is read.
Inbound messages are answered with an empty TwiML ``<Response/>``: replies go out later
through the REST API, from the ``inbound`` job.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web
from multidict import MultiDict
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from twilio.request_validator import RequestValidator

from pipeline.domain import Attachment, Message, MessageKind
from pipeline.notify.outbound import record_status
from pipeline.service.errors import ApiError, describe, invalid
from pipeline.service.state import blocking, state
from pipeline.service.webhooks import e164, location, public_url, tenant_for, timed

log = logging.getLogger(__name__)

CHANNEL = "twilio"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class _Form(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


FormT = TypeVar("FormT", bound=_Form)


class InboundForm(_Form):
    """The parameters of an inbound message we use; the rest are accepted and ignored."""

    message_sid: str = Field(alias="MessageSid", min_length=1)
    sender: str = Field(alias="From", min_length=1)
    to: str = Field(default="", alias="To")
    body: str = Field(default="", alias="Body")
    num_media: int = Field(default=0, alias="NumMedia", ge=0, le=10)
    profile_name: str = Field(default="", alias="ProfileName")
    button_text: str = Field(default="", alias="ButtonText")
    latitude: str = Field(default="", alias="Latitude")
    longitude: str = Field(default="", alias="Longitude")
    address: str = Field(default="", alias="Address")
    label: str = Field(default="", alias="Label")
    replied_to: str | None = Field(default=None, alias="OriginalRepliedMessageSid")


class StatusForm(_Form):
    message_sid: str = Field(alias="MessageSid", min_length=1)
    status: str = Field(alias="MessageStatus", min_length=1)
    error_code: str | None = Field(default=None, alias="ErrorCode")
    error_message: str | None = Field(default=None, alias="ErrorMessage")


async def _verified_form(request: web.Request) -> MultiDict[str]:
    """The posted form, once its ``X-Twilio-Signature`` matches; else 403."""
    settings = state(request).settings
    token = settings.service.twilio.auth_token.get_secret_value()
    if not token:
        raise ApiError(403, "not_configured", "Twilio webhooks need service.twilio.auth_token")
    posted = await request.post()
    params = MultiDict((k, v) for k, v in posted.items() if isinstance(v, str))
    signature = request.headers.get("X-Twilio-Signature", "")
    url = public_url(request, settings)
    if not signature or not RequestValidator(token).validate(url, params, signature):
        log.warning("twilio webhook with a bad signature", extra={"url": url})
        raise ApiError(403, "bad_signature", "X-Twilio-Signature does not match the request")
    return params


def _parse(model: type[FormT], form: MultiDict[str]) -> FormT:
    try:
        return model.model_validate(dict(form))
    except ValidationError as exc:
        raise invalid(f"malformed Twilio webhook: {describe(exc)}") from None


def to_message(form: InboundForm, params: MultiDict[str], received: datetime) -> Message:
    """A Twilio inbound webhook as a :class:`Message` (``received`` stands for the send time:
    Twilio's webhook carries none)."""
    attachments = [
        Attachment(media_type=params.get(f"MediaContentType{n}"), uri=params.get(f"MediaUrl{n}"))
        for n in range(form.num_media)
    ]
    if form.latitude and form.longitude:
        attachments.append(location(form.latitude, form.longitude, form.label or form.address))
    text = form.body or form.button_text
    chat = e164(form.sender)
    return Message(
        id=form.message_sid,
        chat=chat,
        author=form.profile_name or chat,
        sent_at=received,
        text=text,
        kind=MessageKind.TEXT if text or not attachments else MessageKind.MEDIA,
        attachments=tuple(attachments),
        reply_to=form.replied_to or None,
        source=CHANNEL,
    )


async def inbound(request: web.Request) -> web.Response:
    """``POST /webhooks/twilio``: store the message (once), queue it, ack with empty TwiML."""
    with timed(CHANNEL):
        service = state(request)
        params = await _verified_form(request)
        form = _parse(InboundForm, params)
        message = to_message(form, params, datetime.now(service.settings.zone))
        tenant = tenant_for(form.to.removeprefix("whatsapp:"), service.settings)
        await service.inbox.accept([message], tenant=tenant, channel=CHANNEL)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    """``POST /webhooks/twilio/status``: a delivery receipt for a message we sent."""
    with timed(CHANNEL):
        service = state(request)
        form = _parse(StatusForm, await _verified_form(request))
        known = await blocking(
            record_status,
            service.store,
            channel=CHANNEL,
            provider_id=form.message_sid,
            status=form.status,
            at=datetime.now(UTC),
            error_code=form.error_code,
            error_message=form.error_message,
        )
        if not known:
            log.warning("status %s for an unknown Twilio message", form.status)
        return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/twilio", inbound)
    app.router.add_post("/webhooks/twilio/status", status)
