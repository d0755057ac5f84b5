"""Default deadlines for tasks whose message gives no date (see ``config.DueRule``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from pipeline.config import DueRule
from pipeline.domain import Priority


def default_due(
    text: str, priority: Priority, sent_at: datetime, rules: Sequence[DueRule]
) -> datetime | None:
    """The deadline the first matching rule gives, in the message's timezone."""
    lowered = text.casefold()
    for rule in rules:
        if rule.priority is not None and rule.priority != priority:
            continue
        if rule.keywords and not any(
            re.search(rf"\b{re.escape(k.casefold())}\b", lowered) for k in rule.keywords
        ):
            continue
        day = add_business_days(sent_at, rule.business_days) + timedelta(days=rule.days)
        due = day.replace(hour=rule.at.hour, minute=rule.at.minute, second=0, microsecond=0)
        return due if due > sent_at else due + timedelta(days=1)
    return None


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` moved ``days`` working days (Monday–Friday) forward."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
