"""API-key authentication and the role rules of the REST API.

A key belongs to one tenant; every query a request makes is scoped to it, and each key has
its own request rate (429 with ``Retry-After`` beyond it). What a role may
reach is decided here, in one place, so handlers only ask :func:`require` and
:func:`visible_to`.
"""

from __future__ import annotations

import math

from aiohttp import web

from pipeline.notify.ratelimit import Pacer, shared_pacer
from pipeline.service.errors import ApiError, Handler
from pipeline.service.state import STATE, blocking, state
from pipeline.storage.api_keys import ApiKey, Role, authenticate
from pipeline.storage.records import StoredItem

API_KEY = web.RequestKey("api_key", ApiKey)
API_PACE = web.AppKey("api_pace", Pacer)
#: Paths anyone may call: provider webhooks carry their own signatures.
PUBLIC_PREFIXES = ("/webhooks/", "/healthz", "/metrics", "/openapi.json")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="chat2task"'}


def presented_key(request: web.Request) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-API-Key") or None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 for a missing, unknown or revoked key on every non-public path."""
    if request.path.startswith(PUBLIC_PREFIXES) or request.method == "OPTIONS":
        return await handler(request)
    secret = presented_key(request)
    if secret is None:
        raise ApiError(
            401,
            "unauthorized",
            "send an API key as 'Authorization: Bearer <key>'",
            headers=_CHALLENGE,
        )
    key = await blocking(authenticate, state(request).store, secret)
    if key is None:
        raise ApiError(401, "unauthorized", "the API key is unknown or revoked", headers=_CHALLENGE)
    wait = await blocking(request.app[API_PACE].reserve, f"key{key.id}", "")
    if wait > 0:
        rate = state(request).settings.service.api_rate
        raise ApiError(
            429,
            "rate_limited",
            f"this key is over {rate:g} requests per second; retry in {wait:.1f} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    request[API_KEY] = key
    return await handler(request)


def pace_keys(app: web.Application) -> None:
    """Each API key gets ``service.api_rate`` requests per second, shared by every ``serve``
    process when the queue runs on Redis."""
    settings = app[STATE].settings
    app[API_PACE] = shared_pacer(settings.queue.url, settings.service.api_rate, 0.0, name="api")


def caller(request: web.Request) -> ApiKey:
    return request[API_KEY]


def require(request: web.Request, *roles: Role) -> ApiKey:
    """The caller's key, if its role is one of ``roles``; else 403."""
    key = caller(request)
    if key.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise ApiError(403, "forbidden", f"this needs an {allowed} key (this one is {key.role})")
    return key


def agent_person(key: ApiKey) -> str | None:
    """The only assignee an agent key may see and act for; ``None`` for wider roles."""
    return key.person if key.role is Role.AGENT else None


def visible_to(key: ApiKey, item: StoredItem) -> bool:
    person = agent_person(key)
    return person is None or item.assignee == person
