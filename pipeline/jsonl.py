"""JSON Lines in and out for the batch commands, with errors that name the line.

Output goes to a temporary file renamed into place at the end, so a run that fails
half-way never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from pipeline.errors import InputError, JsonlError
from pipeline.zones import parse_zone


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One batch input line: only ``text`` is required."""

    line: int
    id: str
    text: str
    at: datetime
    author: str | None


def read_records(path: Path, *, default_tz: str, now: datetime) -> Iterator[InputRecord]:
    """Read ``{"id","text","at","tz","author"}`` lines; ``id`` defaults to the line number."""
    try:
        handle = path.open(encoding="utf-8-sig") if str(path) != "-" else sys.stdin
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            yield _record(raw, number, str(path), default_tz, now)


def _record(raw: str, number: int, path: str, default_tz: str, now: datetime) -> InputRecord:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JsonlError(f"not valid JSON ({exc.msg})", path=path, line=number) from exc
    if not isinstance(data, dict):
        raise JsonlError("each line must be a JSON object", path=path, line=number)
    text = data.get("text")
    if not isinstance(text, str):
        raise JsonlError('missing "text" (a string)', path=path, line=number)
    try:
        zone = parse_zone(data.get("tz") or default_tz)
        at = parse_at(data.get("at"), zone, now)
    except InputError as exc:
        raise JsonlError(exc.detail, path=path, line=number) from exc
    author = data.get("author")
    return InputRecord(
        line=number,
        id=str(data.get("id", number)),
        text=text,
        at=at,
        author=str(author) if author is not None else None,
    )


def parse_at(value: Any, zone: ZoneInfo, now: datetime) -> datetime:
    """An ISO 8601 time read in ``zone``: naive values are local to it, aware ones converted."""
    if value is None:
        return now.astimezone(zone)
    if not isinstance(value, str):
        raise InputError(f'"at" must be an ISO 8601 string, not {value!r}')
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f'"at" is not ISO 8601: {value!r}') from exc
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)


@contextlib.contextmanager
def atomic_output(path: Path | None) -> Iterator[IO[str]]:
    """Write to ``path`` all at once (or to stdout when ``path`` is None)."""
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def dump_line(handle: IO[str], data: dict[str, Any]) -> None:
    handle.write(json.dumps(data, ensure_ascii=False) + "\n")
