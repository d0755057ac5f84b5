"""``/keys``: admins manage the API keys of their own tenant."""

from __future__ import annotations

from aiohttp import web

from pipeline.service.auth import require
from pipeline.service.errors import not_found
from pipeline.service.parsing import path_id, read_body, respond
from pipeline.service.schemas import KeyCreate, KeyCreated, KeyList, KeyOut
from pipeline.service.state import blocking, state
from pipeline.storage.api_keys import Role, create_key, list_keys, revoke_key


async def list_(request: web.Request) -> web.Response:
    """``GET /keys``: the tenant's keys (revoked ones too), never their secrets."""
    key = require(request, Role.ADMIN)
    found = await blocking(list_keys, state(request).store, tenant=key.tenant)
    return respond(KeyList(keys=[KeyOut.of(k) for k in found]))


async def create(request: web.Request) -> web.Response:
    """``POST /keys``: a new key of the admin's tenant; the secret is in this response only."""
    key = require(request, Role.ADMIN)
    body = await read_body(request, KeyCreate)
    made, secret = await blocking(
        create_key,
        state(request).store,
        tenant=key.tenant,
        role=body.role,
        name=body.name,
        person=body.person,
    )
    return respond(KeyCreated(key=KeyOut.of(made), secret=secret), status=201)


async def revoke(request: web.Request) -> web.Response:
    """``DELETE /keys/{id}``: revoke a key of the admin's tenant."""
    key = require(request, Role.ADMIN)
    key_id = path_id(request, "id", "key")
    if not await blocking(revoke_key, state(request).store, key_id, tenant=key.tenant):
        raise not_found(f"key {key_id}")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/keys", list_)
    app.router.add_post("/keys", create)
    app.router.add_delete("/keys/{id}", revoke)
