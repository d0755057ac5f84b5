"""Parse a WhatsApp "Export chat" file (.txt or .zip) into :class:`~pipeline.domain.Message`.

The layout (Android ``31/12/24, 18:05 - `` or iOS ``[31/12/24, 18:05:09] ``), the clock and
the date order are all detected from the file, never configured per file. One pass over
the lines groups them under their header; a second pass over the headers, once the date
order is known, builds the messages.

Author rule: a header's body is ``Author: text`` when it contains ": " (or ends with ":"),
and the part before the first ": " looks like a name or phone number (at most 64
characters, no quote marks); otherwise the line is a system line with no author. So
``Alice changed the subject to "Q3: plan"`` stays a system line, and a sender whose name
itself contains ": " is split at the first one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.domain import Message, MessageKind, content_id
from pipeline.errors import ExportFormatError
from pipeline.sources.archive import read_export_bytes
from pipeline.sources.dates import DateOrder, Stamp, localize, resolve_date_order, ymd
from pipeline.sources.encoding import decode_export
from pipeline.sources.markers import Body, attachment, classify_body
from pipeline.zones import parse_zone

__all__ = ["DateOrder", "ParsedExport", "UnparsedLine", "parse_export", "parse_export_text"]

SOURCE = "whatsapp-export"

# Bidi and BOM marks are invisible formatting (iOS puts U+200E before system lines and
# media); U+202F/U+00A0 are layout spaces (before AM/PM, inside phone numbers). Cleaning the
# whole text once keeps the header patterns simple. ZWJ (U+200D) is kept: emoji need it.
_CLEAN = str.maketrans(
    {
        **dict.fromkeys("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"),
        "\u202f": " ",
        "\u00a0": " ",
    }
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028, \x1c… live in messages

_DATE = r"(?P<d1>\d{1,4})(?P<sep>[./-])(?P<d2>\d{1,2})(?P=sep)(?P<d3>\d{1,4})"
_TIME = (
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?"
    r"(?:\s?(?P<ampm>[AaPp])\.?\s?[Mm]\.?)?"
)
_LAYOUTS: dict[str, re.Pattern[str]] = {
    "ios": re.compile(rf"\[{_DATE},?\s{_TIME}\]\s?(?P<body>.*)"),
    "android": re.compile(rf"{_DATE},?\s{_TIME}\s[-–]\s(?P<body>.*)"),
}
_QUOTES = frozenset('"“”«»„')
_MAX_AUTHOR = 64
_CHAT_FILE = re.compile(
    r"WhatsApp[ _-]Chat(?:\s+(?:with|mit|con|com|avec|met)\s+|\s*-\s*)(?P<chat>.+)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class UnparsedLine:
    """A non-blank line that belongs to no message (text before the first header)."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedExport:
    """Messages in file order plus what was detected about the file."""

    messages: list[Message]
    unparsed: list[UnparsedLine]
    date_order: DateOrder
    date_order_ambiguous: bool
    layout: str
    clock: str
    chat: str


@dataclass(slots=True)
class _Entry:
    """One header line and the continuation lines that follow it."""

    line: int
    header: re.Match[str]
    extra: list[str] = field(default_factory=list)


def parse_export(
    path: str | Path,
    *,
    chat: str | None = None,
    tz: str = "UTC",
    date_order: DateOrder = DateOrder.AUTO,
) -> ParsedExport:
    """Parse an export file; ``chat`` defaults to the name in the file name."""
    path = Path(path)
    raw = read_export_bytes(path)
    return _parse(
        decode_export(raw.data, raw.name),
        chat=chat or chat_name_from_path(path),
        zone=parse_zone(tz),
        forced_order=date_order,
        path=raw.name,
        media=raw.media,
    )


def parse_export_text(
    text: str,
    *,
    chat: str,
    tz: str = "UTC",
    date_order: DateOrder = DateOrder.AUTO,
    path: str | None = None,
) -> ParsedExport:
    """Parse already decoded export text; ``path`` only labels errors."""
    return _parse(
        text, chat=chat, zone=parse_zone(tz), forced_order=date_order, path=path, media={}
    )


def chat_name_from_path(path: Path) -> str:
    """The chat's name as WhatsApp writes it into the file name, else the file's stem.

    "WhatsApp Chat with Sales Team.txt" → "Sales Team", "WhatsApp Chat - X.zip" → "X".
    """
    found = _CHAT_FILE.fullmatch(path.stem)
    return found["chat"].strip() if found else path.stem


def _parse(
    text: str,
    *,
    chat: str,
    zone: ZoneInfo,
    forced_order: DateOrder,
    path: str | None,
    media: dict[str, str],
) -> ParsedExport:
    lines = _LINE_BREAK.split(text.translate(_CLEAN))
    layout, entries, unparsed = _group_lines(lines, path)
    stamps = [_stamp(entry.header) for entry in entries]
    order, ambiguous = resolve_date_order(stamps, forced_order)
    messages = list(_messages(entries, stamps, order, chat, zone, media, path))
    twelve_hour = any(entry.header["ampm"] for entry in entries)
    return ParsedExport(
        messages=messages,
        unparsed=unparsed,
        date_order=order,
        date_order_ambiguous=ambiguous,
        layout=layout,
        clock="12h" if twelve_hour else "24h",
        chat=chat,
    )


def _group_lines(
    lines: list[str], path: str | None
) -> tuple[str, list[_Entry], list[UnparsedLine]]:
    """Attach every line to the header above it; the first header fixes the layout."""
    layout, start = _first_header(lines, path)
    unparsed = [
        UnparsedLine(number, line, "before the first message header")
        for number, line in enumerate(lines[:start], 1)
        if line.strip()
    ]
    pattern = _LAYOUTS[layout]
    entries: list[_Entry] = []
    for number, line in enumerate(lines[start:], start + 1):
        header = pattern.match(line)
        if header:
            entries.append(_Entry(number, header))
        else:
            entries[-1].extra.append(line)
    return layout, entries, unparsed


def _first_header(lines: list[str], path: str | None) -> tuple[str, int]:
    for index, line in enumerate(lines):
        for layout, pattern in _LAYOUTS.items():
            if pattern.match(line):
                return layout, index
    first_text = next((n for n, line in enumerate(lines, 1) if line.strip()), None)
    problem = "no WhatsApp message header found" if first_text else "the file is empty"
    raise ExportFormatError(
        f"{problem}; expected lines like '31/12/2024, 18:05 - Name: text' "
        "or '[31/12/2024, 18:05:09] Name: text'",
        path=path,
        line=first_text,
    )


def _stamp(header: re.Match[str]) -> Stamp:
    hour = int(header["hour"])
    ampm = header["ampm"]
    if ampm:
        hour = hour % 12 + (12 if ampm in "Pp" else 0)
    seconds = hour * 3600 + int(header["minute"]) * 60 + int(header["second"] or 0)
    fields = (int(header["d1"]), int(header["d2"]), int(header["d3"]))
    return Stamp(fields, seconds, header["body"])


def _messages(
    entries: list[_Entry],
    stamps: list[Stamp],
    order: DateOrder,
    chat: str,
    zone: ZoneInfo,
    media: dict[str, str],
    path: str | None,
) -> Iterator[Message]:
    seen: dict[tuple[str | None, datetime, str], int] = {}
    for entry, stamp in zip(entries, stamps, strict=True):
        sent_at = localize(_naive_time(entry, stamp, order, path), zone)
        author, body = _split_author(stamp.body, entry.extra)
        key = (author, sent_at, body.text)
        ordinal = seen.get(key, 0)
        seen[key] = ordinal + 1
        yield Message(
            id=content_id(chat, author, sent_at, body.text, ordinal),
            chat=chat,
            author=author,
            sent_at=sent_at,
            text=body.text,
            kind=body.kind,
            attachments=tuple(attachment(name, media) for name in body.attachment_names),
            edited=body.edited,
            source=SOURCE,
            line=entry.line,
        )


def _naive_time(entry: _Entry, stamp: Stamp, order: DateOrder, path: str | None) -> datetime:
    year, month, day = ymd(stamp.fields, order)
    hours, rest = divmod(stamp.seconds, 3600)
    try:
        return datetime(year, month, day, hours, *divmod(rest, 60))
    except ValueError as exc:
        raise ExportFormatError(
            f"header date/time {entry.header.group(0)[:24]!r} is not valid in {order} order "
            f"({exc}); pass the right date order explicitly",
            path=path,
            line=entry.line,
        ) from exc


def _split_author(body: str, extra: list[str]) -> tuple[str | None, Body]:
    """Apply the module's author rule, then classify the joined text."""
    name, sep, first = body.partition(": ")
    if not sep and body.endswith(":"):
        name, sep, first = body[:-1], ":", ""
    name = name.strip()
    if not sep or not name or len(name) > _MAX_AUTHOR or not _QUOTES.isdisjoint(name):
        return None, Body(MessageKind.SYSTEM, _join(body, extra), False, ())
    return name, classify_body(_join(first, extra))


def _join(first: str, extra: list[str]) -> str:
    """Continuation lines join with "\\n"; trailing spaces and blank lines are dropped."""
    return "\n".join([first, *extra]).rstrip() if extra else first.rstrip()
