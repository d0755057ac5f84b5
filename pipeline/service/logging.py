"""Structured JSON logs that never carry a phone number or a message body.

Phone numbers are personal data and message bodies are customers' business: a log line
keeps the last digits of a number (enough to tell two people apart while debugging) and
only the length of a body. Redaction runs in the formatter, so it covers every logger,
including third-party ones and the access log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

#: A run of 9+ digits, optionally with a leading ``+`` and common separators (E.164 numbers,
#: ``whatsapp:+1 555-123-4567``, Meta's bare ``15551234567``). Nine, so that dates
#: (``2026-11-27``) stay readable; a long id or Unix time is masked too, which is harmless.
_PHONE = re.compile(r"\+?\d(?:[\s\-.()]*\d){8,}")
#: Extra fields whose values are message text and are replaced by their length.
BODY_FIELDS = frozenset({"body", "Body", "text", "caption"})
#: Digits of a number kept in clear.
_KEEP = 3
#: ``LogRecord`` attributes that are not user-supplied ``extra`` fields.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact_numbers(text: str) -> str:
    """``+15551234567`` → ``+•••••••567``: the last digits stay, the rest are masked."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        plus = "+" if match.group().startswith("+") else ""
        return plus + "•" * (len(digits) - _KEEP) + digits[-_KEEP:]

    return _PHONE.sub(mask, text)


def _clean(name: str, value: Any) -> Any:
    if name in BODY_FIELDS and isinstance(value, str):
        return f"<{len(value)} chars>"
    if isinstance(value, str):
        return redact_numbers(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact_numbers(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_numbers(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = _clean(name, value)
        if record.exc_info:
            entry["exception"] = redact_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access log as structured fields (the path, never the query or body)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %d",
            request.method,
            request.path,
            response.status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": round(time * 1000, 2),
            },
        )


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as redacted JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
