"""Senders: hand a text (or, outside the 24-hour window, an approved template) to a WhatsApp
provider and return its message id.

Provider errors are sorted into two kinds so the send job can decide by type (httpx style):
:class:`SendLater` (throttled or the provider is down: try again after ``retry_after``) and
:class:`SendRejected` (the message itself cannot go: bad number, outside the 24-hour window,
auth): mark it failed with the provider's code and never retry.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from pipeline.config import ApprovedTemplate, MetaSettings, ServiceSettings, TwilioSettings
from pipeline.errors import ConfigError

TIMEOUT_SECONDS = 15.0
#: Throttling codes: Twilio's REST limit; Meta's throughput, pair-rate and API call limits.
TWILIO_THROTTLED = frozenset({20429})
META_THROTTLED = frozenset({4, 80007, 130429, 131056})
#: Meta's "temporary" codes: generic, unknown and service unavailable.
META_TRANSIENT = frozenset({1, 2, 131000})


class SendError(Exception):
    """The provider did not take the message; ``code`` is its error code when it gave one."""

    retriable = False

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class SendLater(SendError):
    """Throttled, or a network or server failure: the same message may go through later."""

    retriable = True


class SendRejected(SendError):
    """The provider refused this message for good (validation, window, auth)."""


class Sender(Protocol):
    def send(self, to: str, body: str) -> str:
        """Send ``body`` to the E.164 number ``to``; returns the provider's message id."""
        ...

    def send_template(self, to: str, template: ApprovedTemplate, values: list[str]) -> str:
        """Send an approved template, ``values`` filling its slots in order (for contacts
        whose 24-hour window is closed); returns the provider's message id."""
        ...


class LoopbackTwilioHttpClient(TwilioHttpClient):
    """Sends every Twilio request to ``base`` (scheme and host) instead of twilio.com: the
    client has no base-URL option, and this keeps tests on the real client code."""

    def __init__(self, base: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = urlsplit(base)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        target = urlunsplit(
            (self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment)
        )
        return super().request(method, target, *args, **kwargs)


class TwilioSender:
    def __init__(self, settings: TwilioSettings, *, status_callback: str | None = None) -> None:
        if not (settings.account_sid and settings.sender):
            raise ConfigError("service.twilio needs account_sid and sender to send messages")
        self._from = _whatsapp(settings.sender)
        self._status_callback = status_callback
        self._client = Client(
            settings.account_sid,
            settings.auth_token.get_secret_value(),
            http_client=LoopbackTwilioHttpClient(settings.api_base, timeout=TIMEOUT_SECONDS),
        )

    def send(self, to: str, body: str) -> str:
        return self._create(to, body=body)

    def send_template(self, to: str, template: ApprovedTemplate, values: list[str]) -> str:
        variables = {str(slot): value for slot, value in enumerate(values, start=1)}
        return self._create(
            to, content_sid=template.twilio_content_sid, content_variables=json.dumps(variables)
        )

    def _create(self, to: str, **content: str) -> str:
        try:
            message = self._client.messages.create(
                from_=self._from,
                to=_whatsapp(to),
                status_callback=self._status_callback,
                **content,
            )
        except TwilioRestException as exc:
            code = str(exc.code) if exc.code is not None else None
            if exc.status == 429 or exc.code in TWILIO_THROTTLED or exc.status >= 500:
                raise SendLater(exc.msg, code=code) from exc
            raise SendRejected(exc.msg, code=code) from exc
        except requests.RequestException as exc:
            raise SendLater(f"Twilio unreachable: {exc}") from exc
        return str(message.sid)


class MetaSender:
    def __init__(self, settings: MetaSettings) -> None:
        token = settings.access_token.get_secret_value()
        if not (token and settings.phone_number_id):
            raise ConfigError("service.meta needs access_token and phone_number_id to send")
        self._path = f"{settings.phone_number_id}/messages"
        self._client = httpx.Client(
            base_url=settings.graph_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )

    def send(self, to: str, body: str) -> str:
        return self._post(to, {"type": "text", "text": {"preview_url": False, "body": body}})

    def send_template(self, to: str, template: ApprovedTemplate, values: list[str]) -> str:
        parameters = [{"type": "text", "text": value} for value in values]
        content: dict[str, Any] = {"name": template.meta_name}
        content["language"] = {"code": template.meta_language}
        if parameters:
            content["components"] = [{"type": "body", "parameters": parameters}]
        return self._post(to, {"type": "template", "template": content})

    def _post(self, to: str, message: dict[str, Any]) -> str:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
            **message,
        }
        try:
            response = self._client.post(self._path, json=payload)
        except httpx.TransportError as exc:
            raise SendLater(f"Meta Graph API unreachable: {exc}") from exc
        if response.is_success:
            return str(response.json()["messages"][0]["id"])
        raise _meta_error(response)


def make_sender(channel: str, settings: ServiceSettings) -> Sender:
    """The sender for a contact's channel (the provider their messages came through)."""
    if channel == "twilio":
        callback = f"{settings.public_url.rstrip('/')}/webhooks/twilio/status"
        return TwilioSender(
            settings.twilio, status_callback=callback if settings.public_url else None
        )
    if channel == "meta":
        return MetaSender(settings.meta)
    raise ConfigError(f"no sender for channel {channel!r}: use twilio or meta")


def _meta_error(response: httpx.Response) -> SendError:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    message = str(error.get("message") or f"HTTP {response.status_code}")
    retry_after = _seconds(response.headers.get("Retry-After"))
    if (
        code in META_THROTTLED
        or code in META_TRANSIENT
        or response.status_code in (429, 500, 502, 503, 504)
    ):
        return SendLater(message, code=_code(code), retry_after=retry_after)
    return SendRejected(message, code=_code(code) or str(response.status_code))


def _whatsapp(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def _code(code: object) -> str | None:
    return None if code is None else str(code)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff will do
