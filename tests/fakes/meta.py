"""Meta's WhatsApp Cloud API send endpoint, Graph `/{phone_number_id}/messages` (reference §3-4)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.rest_server import FakeApi, Reply, Request

PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "test_access_token"
VERSION = "v21.0"


def graph_error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"message": f"(#{code}) {message}", "type": "OAuthException", "code": code,
                      "error_subcode": 0, "fbtrace_id": "AbCdEf"}}  # fmt: skip


class FakeMeta(FakeApi):
    """Accepts text and template messages; ``sent`` holds the JSON bodies. Numbers in
    ``closed_windows`` have not written for 24 hours: only templates reach them (§5)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []
        self.closed_windows: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/{VERSION}"

    def route(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            return Reply(404, graph_error(100, "Unknown path components"))
        if request.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return Reply(401, graph_error(190, "Invalid OAuth access token"))
        body = request.body or {}
        to = str(body.get("to", ""))
        if body.get("messaging_product") != "whatsapp" or not to.isdigit():
            return Reply(400, graph_error(100, "Invalid parameter"))
        if body.get("type") == "template":
            template = body.get("template") or {}
            if not template.get("name") or not template.get("language", {}).get("code"):
                return Reply(400, graph_error(132001, "Template name does not exist"))
        elif body.get("type") != "text" or not body.get("text", {}).get("body"):
            return Reply(400, graph_error(131009, "Parameter value is not valid"))
        elif f"+{to}" in self.closed_windows:
            return Reply(400, graph_error(131047, "Re-engagement message"))
        wamid = f"wamid.HBg{next(self._ids):020d}"
        self.sent.append(body)
        return Reply(
            200,
            {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
             "messages": [{"id": wamid}]},
        )  # fmt: skip

    def bodies(self, to: str) -> list[str]:
        return [b["text"]["body"] for b in self.sent if b["to"] == to.lstrip("+") and "text" in b]

    def templates(self, to: str) -> list[tuple[str, str, list[str]]]:
        """(name, language, body parameters) of each template sent to ``to``."""
        return [
            (t["name"], t["language"]["code"], _parameters(t))
            for b in self.sent
            if b["to"] == to.lstrip("+") and (t := b.get("template"))
        ]


def _parameters(template: dict[str, Any]) -> list[str]:
    return [
        parameter["text"]
        for component in template.get("components", [])
        if component["type"] == "body"
        for parameter in component["parameters"]
    ]
