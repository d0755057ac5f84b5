"""Reading requests into the models of :mod:`pipeline.service.schemas` and writing them back."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from pipeline.service.errors import describe, invalid, not_found
from pipeline.service.schemas import MAX_ID

ModelT = TypeVar("ModelT", bound=BaseModel)


async def read_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """The JSON body as ``model``; 400 naming the problem when it is not."""
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"body is not JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(describe(exc)) from None


def read_query(request: web.Request, model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise invalid(describe(exc)) from None


def path_id(request: web.Request, name: str, what: str) -> int:
    """An integer id from the path; anything that cannot be a row id is simply not found."""
    value = request.match_info[name]
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
        raise not_found(f"{what} {value}")
    return int(value)


def respond(
    model: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=model.model_dump_json(),
        status=status,
        content_type="application/json",
        headers=headers,
    )
