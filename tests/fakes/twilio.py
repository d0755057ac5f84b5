"""Twilio's Messages REST endpoint, as the ``twilio`` client sees it (reference §4, §7)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from tests.fakes.rest_server import FakeApi, Reply, Request

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test_auth_token"
SENDER = "whatsapp:+14155238886"


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(FakeApi):
    """Accepts ``POST /2010-04-01/Accounts/{sid}/Messages.json``; ``sent`` holds the forms."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, str]] = []
        self._ids = itertools.count(1)

    def route(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != (
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        ):
            return Reply(404, twilio_error(404, 20404, "The requested resource was not found"))
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Reply(401, twilio_error(401, 20003, "Authenticate"))
        form = request.body or {}
        if not form.get("From", "").startswith("whatsapp:") or not (
            form.get("Body") or form.get("ContentSid")
        ):
            return Reply(400, twilio_error(400, 21602, "Message body is required."))
        if form.get("ContentSid") and not form["ContentSid"].startswith("HX"):
            return Reply(400, twilio_error(400, 21656, "The ContentVariables are invalid"))
        if not form.get("To", "").startswith("whatsapp:+"):
            return Reply(
                400, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {form.get('To')}")
            )
        sid = f"SM{next(self._ids):032x}"
        self.sent.append(form)
        return Reply(
            201,
            {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"],
             "body": form.get("Body", ""), "error_code": None, "account_sid": ACCOUNT_SID,
             "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"},
        )  # fmt: skip

    def bodies(self, to: str) -> list[str]:
        return [
            form["Body"] for form in self.sent if form["To"] == f"whatsapp:{to}" and "Body" in form
        ]

    def templates(self, to: str) -> list[tuple[str, dict[str, str]]]:
        """(ContentSid, ContentVariables) of each template sent to ``to``."""
        return [
            (form["ContentSid"], json.loads(form.get("ContentVariables", "{}")))
            for form in self.sent
            if form["To"] == f"whatsapp:{to}" and "ContentSid" in form
        ]
