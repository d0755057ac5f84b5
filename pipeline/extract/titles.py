"""Titles as a person writes them in a task list.

"Don't forget to send the Q3 report to John by Friday" → "Send Q3 report to John";
"Schedule team meeting for Tuesday at 2 PM" → "Team meeting". The rules peel off what a
list never shows: the addressee, request and commitment frames, politeness, the time
expression (it has its own field), articles and trailing chatter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.domain import ItemType, TimeMention

MAX_LENGTH = 80

_GREETING = r"(?:hey|hi|hello|yo|ok|okay|so|also|and|btw|oh|right|guys|team|all|folks)\b[,!:]?\s*"
_LABEL = (
    r"(?:quick\s+)?(?:reminder|fyi|note|todo|to-do|urgent|asap|important|update|action)\s*[:\-–]\s*"
)
_REQUEST = (
    r"(?:(?:can|could|would|will)\s+(?:you|u|someone|somebody|anyone|one of you)"
    r"(?:\s+(?:please|pls|plz|kindly))?"
    r"|(?:please|pls|plz|plse|kindly|just)"
    r"|(?:don'?t|do not|dont)\s+forget\s+(?:to\s+)?"
    r"|remember\s+to|make\s+sure\s+(?:to|you|that\s+you)?"
    r"|remind\s+me\s+to|i\s+want\s+you\s+to"
    r"|(?:i|we)?\s*need\s+(?:you\s+|u\s+|someone\s+)?to"
    r"|(?:you|we|i|someone)\s+(?:have|has|need|needs|must|should|gotta)\s*(?:to)?"
    r"|(?:i'?ll|ill|i\s+will|i'?m\s+going\s+to|i\s+am\s+going\s+to|i'?m\s+gonna|let\s+me"
    r"|i\s+can|i\s+shall|we'?ll|we\s+will|i'?ll\s+try\s+to)"
    r"|(?:mind|pls\s+mind)\s+)\b\s*"
)
_EVENT_FRAME = (
    r"(?:(?:let'?s|lets|we\s+should|shall\s+we|can\s+we|could\s+we|we\s+need\s+to)"
    r"(?:\s+(?:do|have|set\s+up|schedule|book|arrange|organi[sz]e|get|grab|hop\s+on|jump\s+on))?"
    r"|(?:schedule|book|set\s+up|arrange|organi[sz]e|plan|put\s+in|add)"
    r"(?:\s+(?:a|an|the|our|my|your))?)\b\s*"
)
# A short lead-in before the instruction: "Not yet, I'll chase them", "Sarah I'll send…".
_LEAD_IN = r"(?:[^,.!?]{1,25}?[,]?\s+(?=(?:i'?ll|i\s+will|can\s+you|could\s+you|pls|please)\b))"
_LEADING = re.compile(rf"^(?:{_GREETING}|{_LABEL}|{_REQUEST}|{_LEAD_IN})", re.IGNORECASE)
_LEADING_EVENT = re.compile(rf"^{_EVENT_FRAME}", re.IGNORECASE)
_ADDRESSEE = re.compile(r"^@?[\w.\-]+(?:\s+[A-Z][\w\-]*)?\s*[,:]\s*|^@[\w.\-]+\s+", re.UNICODE)
_ARTICLE = re.compile(r"\b(?:the|a|an)\s+(?=\S)", re.IGNORECASE)
_DANGLING = re.compile(
    r"(?:\s+(?:by|on|at|before|for|until|till|til|from|due|in|this|next|around|@|starting|"
    r"latest|no later than|please|pls|plz|thanks|thx|asap|urgently|today|now|"
    r"if possible|when you can|when u can|for me|ok|okay))+\s*$",
    re.IGNORECASE,
)
_TRAILING_PUNCT = re.compile(
    r"[\s,;:.!?…\-–—]+$|[\s]*[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]+\s*$"
)
_SPACES = re.compile(r"\s+")


def make_title(
    text: str,
    offset: int,
    mentions: Iterable[TimeMention],
    item_type: ItemType,
    addressee_handles: Iterable[str] = (),
) -> str:
    """Title for the clause ``text`` that starts at ``offset`` in its message."""
    cleaned = _remove_mentions(text, offset, mentions)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    cleaned = _strip_addressee(cleaned, addressee_handles)
    cleaned = _strip_repeatedly(cleaned, _LEADING)
    if item_type is ItemType.EVENT:
        cleaned = _strip_repeatedly(cleaned, _LEADING_EVENT)
    cleaned = _ARTICLE.sub("", cleaned)
    cleaned = _strip_tail(cleaned)
    return _capitalise(_clip(cleaned))


def _remove_mentions(text: str, offset: int, mentions: Iterable[TimeMention]) -> str:
    chars = list(text)
    for mention in mentions:
        start = max(mention.start_char - offset, 0)
        end = min(mention.end_char - offset, len(text))
        for i in range(start, end):
            chars[i] = " "
    # Each mention leaves a hole; a preposition before it ("by", "on") goes with it.
    pieces = re.split(r" {2,}", "".join(chars))
    return " ".join(_DANGLING.sub("", piece) for piece in pieces)


def _strip_addressee(text: str, handles: Iterable[str]) -> str:
    for handle in sorted(handles, key=len, reverse=True):
        pattern = rf"^(?:(?:hey|hi|hello|ok|okay)\s+)?@?{re.escape(handle)}\b\s*[,:]?\s*"
        stripped = re.sub(pattern, "", text, flags=re.IGNORECASE)
        if stripped != text:
            return stripped
    return text if not _ADDRESSEE.match(text) or " " not in text else _maybe_vocative(text)


def _maybe_vocative(text: str) -> str:
    """Drop "Name," at the start only when what follows still reads as the instruction."""
    match = _ADDRESSEE.match(text)
    assert match is not None
    head = match.group(0).strip(" ,:@")
    return text[match.end() :] if head[:1].isupper() and len(head.split()) <= 2 else text


def _strip_repeatedly(text: str, pattern: re.Pattern[str]) -> str:
    while True:
        stripped = pattern.sub("", text, count=1).lstrip(" ,:")
        if stripped == text or not stripped:
            return text
        text = stripped


def _strip_tail(text: str) -> str:
    while True:
        stripped = _DANGLING.sub("", _TRAILING_PUNCT.sub("", text))
        if stripped == text:
            return text
        text = stripped


def _clip(text: str) -> str:
    if len(text) <= MAX_LENGTH:
        return text
    cut = text[:MAX_LENGTH].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
