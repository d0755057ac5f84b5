"""Date and time normalisation for chat: find "fri eod" or "2-3pm tmrw" and resolve it.

    >>> from datetime import datetime, timezone
    >>> from pipeline.dates import DateResolver
    >>> [m.value.isoformat() for m in DateResolver().find(
    ...     "call me tmrw at 3pm", datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc))]
    ['2024-05-07T15:00:00+00:00']

The grammar is a registry of small regex rules (:mod:`.rules`) composed by
:mod:`.compose` and resolved by :mod:`.resolve`; :class:`DateSettings` holds the product
semantics in one validated table.
"""

from pipeline.dates.finder import DateResolver
from pipeline.dates.rules import RULES, Context, Rule, rule
from pipeline.dates.settings import DateSettings

__all__ = ["RULES", "Context", "DateResolver", "DateSettings", "Rule", "rule"]
