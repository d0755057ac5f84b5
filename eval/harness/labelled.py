"""The hand-labelled chat set in full (data/LABELING.md §1): every gold field the harness
scores, including assignees and normalised times, which the training loader leaves out.

Messages are built exactly as a source would hand them to the pipeline: aware ``sent_at``
in the conversation's IANA zone (so local-time rules see the right wall clock) and the
labelled author.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.domain import Item, Message
from pipeline.errors import InputError
from pipeline.learn.data import message_from_row

REPO_ROOT = Path(__file__).resolve().parents[2]
LABELLED_DIR = REPO_ROOT / "data" / "labelled"


@dataclass(frozen=True, slots=True)
class GoldItem:
    type: str
    title: str
    assignee: str | None
    time_text: str | None
    when: datetime | None  # a task's due, an event's start
    grain: str | None


@dataclass(frozen=True, slots=True)
class GoldMessage:
    message: Message
    domain: str
    participants: tuple[str, ...]
    intent: str
    priority: str
    items: tuple[GoldItem, ...]
    note: str | None

    @property
    def conversation(self) -> str:
        return self.message.chat


@dataclass(frozen=True, slots=True)
class Outcome:
    """One message through the pipeline: its gold labels, what came out, and how fast.

    ``confidence`` is the classifier's confidence in the message-level answer (the first
    item's, or the least sure "none" among the clauses it saw); ``None`` when no clause
    reached a classifier (the cheap prefilter ruled the message out).
    """

    gold: GoldMessage
    items: tuple[Item, ...]
    confidence: float | None
    latency_ms: float


def shown(path: Path) -> str:
    """A path as written in reports: relative to the repository, so that committed reports
    do not carry one machine's directory layout."""
    return os.path.relpath(path, REPO_ROOT)


def load_split(split: str, data_dir: Path = LABELLED_DIR) -> list[GoldMessage]:
    """Every labelled message of one split (conversations listed in ``splits.json``)."""
    try:
        chosen = set(json.loads((data_dir / "splits.json").read_text(encoding="utf-8"))[split])
    except FileNotFoundError as exc:
        raise InputError(f"{data_dir / 'splits.json'} does not exist") from exc
    except KeyError as exc:
        raise InputError(f"splits.json has no split {split!r}") from exc
    return [
        gold
        for path in sorted(data_dir.glob("*.jsonl"))
        for gold in load_file(path)
        if gold.conversation in chosen
    ]


def load_file(path: Path) -> list[GoldMessage]:
    """Every line of one JSONL file in the labelled schema, in file order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    messages = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            messages.append(_gold(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}:{number}: not a labelled message ({exc!r})") from exc
    return messages


def _gold(row: dict[str, Any]) -> GoldMessage:
    return GoldMessage(
        message=message_from_row(row),
        domain=row.get("domain", ""),
        participants=tuple(row["participants"]),
        intent=row["intent"],
        priority=row["priority"],
        items=tuple(_gold_item(item) for item in row["items"]),
        note=row.get("note"),
    )


def _gold_item(item: dict[str, Any]) -> GoldItem:
    when = item.get("due") if item["type"] == "task" else item.get("start")
    return GoldItem(
        type=item["type"],
        title=item["title"],
        assignee=item.get("assignee"),
        time_text=item.get("time_text"),
        when=datetime.fromisoformat(when) if when else None,
        grain=item.get("grain"),
    )
