"""The hand-labelled chat set (``data/labelled``) as typed records, and its clauses.

Labels are per message, but the classifiers see clauses. :func:`collect_clauses` gets
those clauses from the :class:`~pipeline.extract.Extractor` itself (with a recording
classifier in place of a real one), so training sees exactly the clauses, time mentions
and parse that inference will see.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pipeline.domain import Intent, ItemType, Message, Priority
from pipeline.errors import InputError
from pipeline.extract import Clause, Extractor, Prediction
from pipeline.extract.cues import normalise
from pipeline.roster import Person, Roster

if TYPE_CHECKING:
    from spacy.language import Language

    from pipeline.config import Settings

SPLITS_FILE = "splits.json"
SPLIT_NAMES = ("train", "dev", "test")


@dataclass(frozen=True, slots=True)
class LabelledItem:
    type: ItemType
    title: str
    time_text: str | None


@dataclass(frozen=True, slots=True)
class LabelledMessage:
    """One labelled line: the message as the pipeline sees it plus its gold labels."""

    message: Message
    conversation: str
    participants: tuple[str, ...]
    intent: Intent
    priority: Priority
    items: tuple[LabelledItem, ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    """Every labelled message in file order, and which conversations form each split."""

    messages: tuple[LabelledMessage, ...]
    splits: dict[str, frozenset[str]]

    def split(self, name: str) -> list[LabelledMessage]:
        conversations = self.splits[name]
        return [m for m in self.messages if m.conversation in conversations]


def load_dataset(data_dir: Path) -> Dataset:
    """Read every ``*.jsonl`` file and ``splits.json`` in ``data_dir``."""
    paths = sorted(data_dir.glob("*.jsonl"))
    if not paths:
        raise InputError(f"no labelled *.jsonl files in {data_dir}")
    messages = tuple(_record(row) for path in paths for row in _read_jsonl(path))
    try:
        raw = json.loads((data_dir / SPLITS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{data_dir / SPLITS_FILE} does not exist") from exc
    splits = {name: frozenset(raw[name]) for name in SPLIT_NAMES}
    return Dataset(messages=messages, splits=splits)


def data_sha256(data_dir: Path) -> str:
    """One digest over the labelled files and the split file: names the training data in
    a model card, so a card can be matched to the exact data it was trained on."""
    digest = hashlib.sha256()
    for path in [*sorted(data_dir.glob("*.jsonl")), data_dir / SPLITS_FILE]:
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc


def message_from_row(row: dict[str, Any]) -> Message:
    """The chat message of one labelled line, sent at ``at`` in its own ``tz``."""
    return Message(
        id=row["id"],
        chat=row["conversation"],
        author=row["author"],
        sent_at=datetime.fromisoformat(row["at"]).astimezone(ZoneInfo(row["tz"])),
        text=row["text"],
        source="labelled",
    )


def _record(row: dict[str, Any]) -> LabelledMessage:
    return LabelledMessage(
        message=message_from_row(row),
        conversation=row["conversation"],
        participants=tuple(row["participants"]),
        intent=Intent(row["intent"]),
        priority=Priority(row["priority"]),
        items=tuple(
            LabelledItem(ItemType(i["type"]), i["title"], i.get("time_text")) for i in row["items"]
        ),
    )


class _Recorder:
    """A classifier that labels nothing and keeps every clause it is shown."""

    labels = tuple(i.value for i in Intent)

    def __init__(self) -> None:
        self.clauses: list[Clause] = []

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]:
        self.clauses.extend(clauses)
        return [Prediction(Intent.NONE, 1.0) for _ in clauses]


@dataclass(frozen=True, slots=True)
class Parsed:
    """Message id → the clauses the extractor hands its classifiers, and the ids of the
    messages its cheap prefilter lets through (the others can never produce an item)."""

    clauses: dict[str, list[Clause]]
    admitted: frozenset[str]


class _EveryMessage(Extractor):
    """The extractor with its prefilter noting, not skipping: every message is parsed."""

    admitted: set[str]

    def could_hold_work(self, message: Message) -> bool:
        if super().could_hold_work(message):
            self.admitted.add(message.id)
        return bool(message.text.strip())


def collect_clauses(
    settings: Settings, nlp: Language, messages: Sequence[LabelledMessage]
) -> Parsed:
    """Parse every message as the extractor does, the ones its prefilter would skip
    included, so that a model also learns from them and keeps working if the prefilter
    is relaxed. Each conversation is read with its participants as the roster, as a
    deployment with a team file would."""
    recorder = _Recorder()
    extractor = _EveryMessage(settings, nlp=nlp, intent=recorder, priority=_Recorder())
    extractor.admitted = set()
    for _, group in groupby(messages, key=lambda m: m.conversation):
        batch = list(group)
        extractor.use_roster(conversation_roster(batch[0].participants))
        for _ in extractor.extract_many(m.message for m in batch):
            pass
    found: dict[str, list[Clause]] = {m.message.id: [] for m in messages}
    for clause in recorder.clauses:
        found[clause.message.id].append(clause)
    return Parsed(found, frozenset(extractor.admitted))


def whole_message(clauses: Sequence[Clause]) -> Clause:
    """One clause spanning all of a message's clauses, for training on whole messages."""
    first, last = clauses[0], clauses[-1]
    span = first.span.doc[first.span.start : last.span.end]
    return Clause(
        text=span.text,
        start_char=span.start_char,
        end_char=span.end_char,
        normalised=normalise(span.text),
        span=span,
        mentions=tuple(m for c in clauses for m in c.mentions),
        message=first.message,
    )


def conversation_roster(participants: Iterable[str]) -> Roster:
    return Roster(team=tuple(Person(name=name) for name in participants))


_STEM = 4  # compare words by their first letters: "send"/"sending", "invoice"/"invoices"


def clause_labels(labelled: LabelledMessage, clauses: Sequence[Clause]) -> list[Intent]:
    """The intent of each clause, derived from the message's items.

    A none message has none clauses and a one-clause message takes the message's label.
    Otherwise each item (they are in text order) goes to the clause that holds its time
    expression and most of its title's words, never before the previous item's clause;
    a clause that gets an item takes the first one's type, every other clause is none
    (greetings, context, thanks around the request).
    """
    if labelled.intent is Intent.NONE or not clauses:
        return [Intent.NONE] * len(clauses)
    if len(clauses) == 1:
        return [labelled.intent]
    words = [_stems(c.text) for c in clauses]
    labels = [Intent.NONE] * len(clauses)
    first = 0
    for item in labelled.items:
        where = labelled.message.text.find(item.time_text) if item.time_text else -1
        title = _stems(item.title)

        def score(index: int, title: set[str] = title, where: int = where) -> float:
            clause = clauses[index]
            overlap = len(title & words[index]) / max(len(title), 1)
            return overlap + (0.5 if clause.start_char <= where < clause.end_char else 0.0)

        best = max(range(first, len(clauses)), key=score)
        if labels[best] is Intent.NONE:
            labels[best] = Intent(item.type.value)
        first = best
    return labels


def _stems(text: str) -> set[str]:
    return {w[:_STEM] for w in _WORD.findall(text.lower()) if w not in _STOP}


_WORD = re.compile(r"[a-z]{3,}")
_STOP = frozenset(
    {"the", "and", "for", "with", "from", "this", "that", "you", "your", "are", "can"}
    | {"will", "please", "pls", "our", "their", "them", "its", "has", "have", "need"}
)
