"""The OpenAPI 3.1 document of the service, served at ``/openapi.json``.

Bodies and responses come from the pydantic models the handlers use, and the ``GET /tasks``
parameters from :class:`~pipeline.service.schemas.TaskQuery`, so the document describes
what the code accepts. A test runs schemathesis against the live app with it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from pipeline import __version__
from pipeline.service import schemas as s
from pipeline.service.schemas import MAX_ID

_REF = "#/components/schemas/{model}"
_INPUT: tuple[type[BaseModel], ...] = (
    s.TaskCreate, s.EventCreate, s.TaskPatch, s.CrmRequest, s.ExtractRequest, s.KeyCreate,
)  # fmt: skip
_OUTPUT: tuple[type[BaseModel], ...] = (
    s.ErrorBody, s.TaskOut, s.TaskPage, s.CrmResult, s.ExtractResult, s.Users, s.KeyCreated,
    s.KeyList, s.Health,
)  # fmt: skip
_ERRORS = {
    400: "The request is malformed; the message names the problem",
    401: "Missing, unknown or revoked API key",
    403: "The key's role may not do this",
    404: "No such resource in the key's tenant (or not visible to this agent)",
}
RATE_LIMITED = {
    "description": "Over the key's request rate (service.api_rate): retry after Retry-After",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}},
}
PUBLIC: list[dict[str, list[str]]] = []
FORM = "application/x-www-form-urlencoded"
TWILIO_FIELDS = (
    "MessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0", "MediaContentType0",
    "ProfileName", "WaId", "ButtonText", "ButtonPayload", "Latitude", "Longitude",
    "Address", "Label", "OriginalRepliedMessageSid",
)  # fmt: skip
OBJECT = {"type": "object"}


def _request_body(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {media_type: {"schema": schema}}}


def _text(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _operation(
    summary: str,
    responses: dict[int, dict[str, Any]],
    *,
    errors: tuple[int, ...] = (400, 401),
    body: type[BaseModel] | dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    tag: str = "tasks",
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag]}
    if parameters:
        operation["parameters"] = parameters
    if isinstance(body, dict):
        operation["requestBody"] = body
    elif body is not None:
        operation["requestBody"] = _request_body("application/json", _ref(body))
    all_responses = {str(code): response for code, response in responses.items()}
    all_responses.update({str(code): _json(s.ErrorBody, _ERRORS[code]) for code in errors})
    if 401 in errors:  # every keyed operation is paced per key
        all_responses["429"] = RATE_LIMITED
    operation["responses"] = all_responses
    if security is not None:
        operation["security"] = security
    return operation


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Optional query parameters from a model's fields (``null`` alternatives dropped)."""
    schema = model.model_json_schema(ref_template=_REF)
    parameters = []
    for name, field in schema["properties"].items():
        options = [o for o in field.get("anyOf", [field]) if o.get("type") != "null"]
        param_schema = {k: v for k, v in options[0].items() if k != "title"}
        if "default" in field and field["default"] is not None:
            param_schema["default"] = field["default"]
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": field.get("description", f"Filter on {name}"),
                "schema": param_schema,
            }
        )
    return parameters


def _path_id(description: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _webhook_paths() -> dict[str, Any]:
    twilio_form = {
        "type": "object",
        "required": ["MessageSid", "From"],
        "properties": {name: {"type": "string"} for name in TWILIO_FIELDS},
        "additionalProperties": {"type": "string"},
    }
    status_form = {
        "type": "object",
        "required": ["MessageSid", "MessageStatus"],
        "properties": {
            n: {"type": "string"}
            for n in ("MessageSid", "MessageStatus", "ErrorCode", "ErrorMessage")
        },
        "additionalProperties": {"type": "string"},
    }
    twilio_signature = _header("X-Twilio-Signature", "Twilio's HMAC-SHA1 of URL and parameters")

    errors = (400, 403)
    return {
        "/webhooks/twilio": {
            "post": _operation(
                "Inbound WhatsApp message from Twilio",
                {200: _text("text/xml", "Stored; an empty TwiML <Response/>")},
                errors=errors,
                body=_request_body(FORM, twilio_form),
                parameters=[twilio_signature],
                security=PUBLIC,
                tag="webhooks",
            )
        },
        "/webhooks/twilio/status": {
            "post": _operation(
                "Delivery status callback from Twilio",
                {204: {"description": "Recorded"}},
                errors=errors,
                body=_request_body(FORM, status_form),
                parameters=[twilio_signature],
                security=PUBLIC,
                tag="webhooks",
            )
        },
        "/webhooks/meta": {
            "get": _operation(
                "Meta webhook subscription check: echoes hub.challenge",
                {200: _text("text/plain", "The challenge")},
                errors=(403,),
                parameters=[
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("hub.mode", "hub.verify_token", "hub.challenge")
                ],
                security=PUBLIC,
                tag="webhooks",
            ),
            "post": _operation(
                "Messages and statuses from Meta's WhatsApp Cloud API",
                {
                    200: {
                        "description": "Stored",
                        "content": {"application/json": {"schema": OBJECT}},
                    }
                },
                errors=errors,
                body=_request_body("application/json", OBJECT),
                parameters=[_header("X-Hub-Signature-256", "sha256=<hex HMAC-SHA256 of the body>")],
                security=PUBLIC,
                tag="webhooks",
            ),
        },
        "/webhooks/crm/{connector}": {
            "post": _operation(
                "A CRM's change notification (body signed, not read): queues a crm_pull",
                {
                    202: {
                        "description": 'Verified; {"queued": "crm_pull"}',
                        "content": {"application/json": {"schema": OBJECT}},
                    }
                },
                errors=(400, 403, 404),
                parameters=[
                    {
                        "name": "connector",
                        "in": "path",
                        "required": True,
                        "description": "Configured connector name (404 unless enabled and "
                        "CHAT2TASK_<NAME>_WEBHOOK_SECRET is set)",
                        "schema": {"type": "string", "minLength": 1},
                    },
                    {
                        "name": "tenant",
                        "in": "query",
                        "required": False,
                        "description": "A tenant of this service; default the configured one",
                        "schema": {"type": "string"},
                    },
                    *(
                        {**_header(name, description), "required": False}
                        for name, description in (
                            ("X-HubSpot-Signature-v3", "HubSpot: base64 HMAC-SHA256 (v3)"),
                            ("X-HubSpot-Request-Timestamp", "HubSpot: epoch milliseconds"),
                            ("Authorization", "Pipedrive: HTTP Basic user:password"),
                            ("X-Chat2Task-Token", "Other CRMs: the webhook secret"),
                        )
                    ),
                ],
                security=PUBLIC,
                tag="webhooks",
            ),
        },
    }


def _api_paths() -> dict[str, Any]:
    task_id = _path_id("Task or event id")
    return {
        "/tasks": {
            "get": _operation(
                "List tasks and events (agents: only their own)",
                {200: _json(s.TaskPage, "One page; follow next for more")},
                parameters=_query_parameters(s.TaskQuery),
            ),
            "post": _operation(
                "Create a task",
                {201: _json(s.TaskOut, "Created")},
                errors=(400, 401, 403),
                body=s.TaskCreate,
            ),
        },
        "/tasks/{id}": {
            "get": _operation(
                "One task or event",
                {200: _json(s.TaskOut, "The item")},
                errors=(401, 404),
                parameters=[task_id],
            ),
            "patch": _operation(
                "Complete, reassign, or change due date, priority or title",
                {200: _json(s.TaskOut, "The changed item")},
                errors=(400, 401, 403, 404),
                body=s.TaskPatch,
                parameters=[task_id],
            ),
        },
        "/calendar/events": {
            "post": _operation(
                "Create an event",
                {201: _json(s.TaskOut, "Created")},
                errors=(400, 401, 403),
                body=s.EventCreate,
                tag="calendar",
            ),
        },
        "/calendar/{user}.ics": {
            "get": _operation(
                "A person's tasks and events as iCalendar",
                {200: _text("text/calendar", "VCALENDAR with VTODOs and VEVENTs")},
                errors=(401, 404),
                parameters=[
                    {
                        "name": "user",
                        "in": "path",
                        "required": True,
                        "description": "Roster name or alias",
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                tag="calendar",
            ),
        },
        "/crm/activities": {
            "put": _operation(
                "Push items to the configured CRMs",
                {202: _json(s.CrmResult, "What was queued")},
                body=s.CrmRequest,
                tag="crm",
            ),
        },
        "/users": {
            "get": _operation(
                "The roster with WhatsApp contacts and consent",
                {200: _json(s.Users, "Team and contacts")},
                errors=(401, 403),
                tag="users",
            ),
        },
        "/extract": {
            "post": _operation(
                "Extract tasks and events from a text (nothing is stored)",
                {200: _json(s.ExtractResult, "The items found")},
                body=s.ExtractRequest,
                tag="extract",
            ),
        },
        "/keys": {
            "get": _operation(
                "The tenant's API keys (admin)",
                {200: _json(s.KeyList, "Keys")},
                errors=(401, 403),
                tag="keys",
            ),
            "post": _operation(
                "Create an API key (admin)",
                {201: _json(s.KeyCreated, "The key and its secret")},
                errors=(400, 401, 403),
                body=s.KeyCreate,
                tag="keys",
            ),
        },
        "/keys/{id}": {
            "delete": _operation(
                "Revoke an API key (admin)",
                {204: {"description": "Revoked"}},
                errors=(401, 403, 404),
                parameters=[_path_id("Key id")],
                tag="keys",
            ),
        },
    }


def _ops_paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": {
                "summary": "Database and queue reachability",
                "tags": ["operations"],
                "security": PUBLIC,
                "responses": {
                    "200": _json(s.Health, "Healthy"),
                    "503": _json(s.Health, "A dependency failed (named in checks)"),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "description": "Needs the bearer token service.metrics_token when one is set",
                "tags": ["operations"],
                "security": [{}, {"bearer": []}],  # open, or bearer with metrics_token
                "responses": {
                    "200": _text("text/plain", "Prometheus text format"),
                    "401": _json(s.ErrorBody, "metrics_token is set and was not sent"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["operations"],
                "security": PUBLIC,
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": OBJECT}},
                    }
                },
            }
        },
    }


def build_document() -> dict[str, Any]:
    """The whole document (built once per application)."""
    _, definitions = models_json_schema(
        [(m, "validation") for m in _INPUT] + [(m, "serialization") for m in _OUTPUT],
        ref_template=_REF,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chat2task",
            "version": __version__,
            "description": "WhatsApp webhooks in; tasks, events, calendars and CRM pushes out. "
            'Errors are always {"error": {"code", "message"}}.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {**_webhook_paths(), **_api_paths(), **_ops_paths()},
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


DOCUMENT = web.AppKey("openapi", dict)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[DOCUMENT])


def add_routes(app: web.Application) -> None:
    app[DOCUMENT] = build_document()
    app.router.add_get("/openapi.json", openapi_json)
