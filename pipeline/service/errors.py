"""One JSON error shape for every endpoint: ``{"error": {"code": "...", "message": "..."}}``.

Handlers raise :class:`ApiError`; the middleware turns it (and aiohttp's own 404/405, and
anything unexpected) into that shape, so clients parse exactly one kind of error body.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from pipeline.errors import InputError, StorageError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request we refuse: HTTP ``status``, a stable machine ``code`` and a sentence."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    """404 for anything missing *or* outside the caller's reach: ids of other tenants
    and other agents' tasks must be indistinguishable from ids that do not exist."""
    return ApiError(404, "not_found", f"{what} does not exist")


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


def describe(exc: ValidationError) -> str:
    """Pydantic's errors as one line naming each offending field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except InputError as exc:
        return error_response(400, "invalid_request", exc.detail)
    except StorageError as exc:
        log.error("storage failed on %s %s: %s", request.method, request.path, exc.detail)
        return error_response(503, "storage_unavailable", "the database is unavailable; retry")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, code, exc.reason, allow)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; see the service log")
