"""What both providers' webhooks share: the public URL, tenants, timing, numbers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from pipeline.config import Settings
from pipeline.domain import Attachment
from pipeline.metrics import WEBHOOK_SECONDS


def public_url(request: web.Request, settings: Settings) -> str:
    """The URL the provider called, as it saw it: what its signature covers.

    ``service.public_url`` (scheme, host and any path prefix of the proxy) wins; without it
    the URL is rebuilt from ``X-Forwarded-Proto``/``X-Forwarded-Host`` or the request itself.
    """
    configured = settings.service.public_url
    if configured:
        return configured.rstrip("/") + request.path_qs
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{scheme}://{host}{request.path_qs}"


def tenant_for(number: str, settings: Settings) -> str:
    """The tenant owning our provider number (or Meta phone-number id)."""
    return settings.service.tenants_by_number.get(number, settings.tenant)


def e164(address: str) -> str:
    """``whatsapp:+15551234567`` or Meta's ``15551234567`` → ``+15551234567``."""
    number = address.removeprefix("whatsapp:").strip()
    return number if number.startswith("+") else "+" + number


@contextmanager
def timed(channel: str) -> Iterator[None]:
    """Observe the time to acknowledge a webhook, whatever its outcome."""
    started = time.perf_counter()
    try:
        yield
    finally:
        WEBHOOK_SECONDS.labels(channel=channel).observe(time.perf_counter() - started)


def location(latitude: str, longitude: str, name: str | None) -> Attachment:
    """A shared location as a ``geo:`` URI (RFC 5870), the same for both providers."""
    return Attachment(
        filename=name or None, media_type="application/geo", uri=f"geo:{latitude},{longitude}"
    )
