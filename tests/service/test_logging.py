"""The JSON log formatter: phone numbers keep their last digits, bodies only their length."""

from __future__ import annotations

import json
import logging

from pipeline.service.logging import JsonFormatter, redact_numbers


def test_numbers_in_every_spelling_are_masked() -> None:
    for raw in ("+447700900102", "447700900102", "whatsapp:+44 7700 900102", "+1 (415) 523-8886"):
        masked = redact_numbers(raw)
        assert masked[-3:] == raw[-3:]
        assert sum(c.isdigit() for c in masked) == 3, masked
    assert redact_numbers("task 42 due 2026-11-27") == "task 42 due 2026-11-27"


def test_logs_are_json_without_numbers_or_bodies() -> None:
    record = logging.makeLogRecord(
        {
            "name": "pipeline.service",
            "levelname": "INFO",
            "msg": "message from whatsapp:%s to +1 (415) 523-8886",
            "args": ("+447700900102",),
            "body": "Send the contract to Acme by Friday",
            "path": "/calendar/+15555550104.ics",
        }
    )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "7700900102" not in line and "5238886" not in line and "5550104" not in line
    assert entry["message"] == "message from whatsapp:+•••••••••102 to +••••••••886"
    assert entry["body"] == "<35 chars>"
    assert entry["path"] == "/calendar/+••••••••104.ics"
    assert "Acme" not in line
