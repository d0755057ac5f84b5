"""Message → items: the pipeline's core, for one message or a stream of them.

Most chat lines are chit-chat ("ok", "👍", "thanks!"), so a cheap first pass (request,
commitment, meeting, scheduling and deadline cue words, or an action verb up front)
decides which messages can hold work at all; only those go
through spaCy, in batches with ``nlp.pipe``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from spacy.pipeline import TrainablePipe

from pipeline import __version__
from pipeline.config import Settings
from pipeline.dates import DateResolver
from pipeline.domain import (
    Entity,
    Grain,
    Intent,
    Item,
    ItemType,
    MentionKind,
    Message,
    MessageKind,
    Priority,
    TimeMention,
)
from pipeline.extract import cues
from pipeline.extract.assign import addressee, assign
from pipeline.extract.classify import (
    Classifier,
    Clause,
    Prediction,
    get_intent_classifier,
    get_priority_classifier,
)
from pipeline.extract.clauses import split_clauses
from pipeline.extract.policy import default_due
from pipeline.extract.titles import make_title
from pipeline.nlp import KNOWN_ENTITIES, NOUN_TAGS, KnownEntities, load_nlp
from pipeline.roster import Roster, load_roster

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


DEFERRED_PIPES = ("ner",)
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "DATE", "TIME"})
_PRIORITY_RANK = {Priority.NORMAL: 0, Priority.HIGH: 1, Priority.URGENT: 2}
_ANAPHORIC = re.compile(
    r"^(?:\w+\s+)?(?:it|this|that|them|these|those|one)(?:\s+(?:too|as well|also))?$", re.I
)
_GRAIN_STEP: dict[Grain, timedelta | relativedelta] = {
    Grain.SECOND: timedelta(seconds=1),
    Grain.MINUTE: timedelta(minutes=1),
    Grain.HOUR: timedelta(hours=1),
    Grain.DAY: timedelta(days=1),
    Grain.WEEK: timedelta(weeks=1),
    Grain.MONTH: relativedelta(months=1),
    Grain.QUARTER: relativedelta(months=3),
    Grain.YEAR: relativedelta(years=1),
}


@dataclass
class _Draft:
    """An item being assembled from one clause and, maybe, the fragments after it."""

    type: ItemType
    title: str
    priority: Priority
    confidence: float
    clause: Clause
    mention: TimeMention | None
    assignee: str | None
    reason: str | None
    entities: list[Entity] = field(default_factory=list)


@dataclass
class _Classified:
    """A parsed message and the clauses the classifiers say hold work."""

    message: Message
    doc: Doc
    mentions: list[TimeMention]
    work: list[tuple[Clause, Prediction, Prediction]]


class Extractor:
    """Turns messages into :class:`~pipeline.domain.Item` records.

    Build it once (loading spaCy takes about a second) and reuse it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        roster: Roster | None = None,
        nlp: Language | None = None,
        resolver: DateResolver | None = None,
        intent: Classifier | None = None,
        priority: Classifier | None = None,
    ) -> None:
        self.settings = settings
        self.roster = roster if roster is not None else load_roster(settings.team_file)
        self.nlp = nlp if nlp is not None else load_nlp(settings.spacy_model, self.roster)
        self.resolver = resolver if resolver is not None else DateResolver()
        self.intent = intent if intent is not None else get_intent_classifier(settings)
        self.priority = priority if priority is not None else get_priority_classifier(settings)
        # NER is the costliest component and only matters for messages that hold work.
        self._deferred = tuple(name for name in DEFERRED_PIPES if name in self.nlp.pipe_names)
        self.version = (
            f"{__version__}+intent.{settings.intent_classifier}"
            f".priority.{settings.priority_classifier}"
        )

    def use_roster(self, roster: Roster) -> None:
        """Switch to another team (e.g. per conversation in an evaluation) without
        reloading spaCy."""
        self.roster = roster
        if KNOWN_ENTITIES in self.nlp.pipe_names:
            component = self.nlp.get_pipe(KNOWN_ENTITIES)
            assert isinstance(component, KnownEntities)
            component.set_roster(roster)

    def could_hold_work(self, message: Message) -> bool:
        """The cheap first pass: False means no item can come out of this message."""
        if message.kind is not MessageKind.TEXT or len(message.text.strip()) < 3:
            return False
        return cues.WORK_CUE.search(cues.normalise(message.text)) is not None

    def extract(self, message: Message) -> list[Item]:
        return next(self.extract_many([message]))[1]

    def extract_many(
        self, messages: Iterable[Message], *, batch_size: int = 256
    ) -> Iterator[tuple[Message, list[Item]]]:
        """Yield ``(message, items)`` in input order; only first-pass candidates are parsed,
        streamed through ``nlp.pipe``. (spaCy's ``n_process`` was measured to gain nothing
        here: on two cores the main process's date and NER work is the bottleneck.)"""
        pending: deque[tuple[int, Message]] = deque()

        def candidates() -> Iterator[tuple[str, int]]:
            for number, message in enumerate(messages):
                pending.append((number, message))
                if self.could_hold_work(message):
                    yield cues.blank_marks(message.text), number

        parsed = self.nlp.pipe(
            candidates(),
            as_tuples=True,
            disable=list(self._deferred),
            batch_size=batch_size,
        )
        ready: list[tuple[Message, _Classified | None]] = []
        for doc, number in parsed:
            while pending[0][0] != number:
                ready.append((pending.popleft()[1], None))
            message = pending.popleft()[1]
            found = self._classify(message, doc)
            ready.append((message, found if found.work else None))
            if len(ready) >= batch_size:
                yield from self._complete(ready)
                ready = []
        ready.extend((message, None) for _, message in pending)
        yield from self._complete(ready)

    def _complete(
        self, ready: list[tuple[Message, _Classified | None]]
    ) -> Iterator[tuple[Message, list[Item]]]:
        self._recognise_entities([found.doc for _, found in ready if found is not None])
        for message, found in ready:
            yield message, (self._items(found) if found is not None else [])

    def _classify(self, message: Message, doc: Doc) -> _Classified:
        """Clauses, time mentions, intent and priority: everything that needs no NER."""
        ref = self._local_time(message)
        mentions = [
            m
            for m in self.resolver.find(doc.text, ref)
            if not _modifies_noun(doc, m) and not _is_now(m, ref)
        ]
        clauses = split_clauses(doc, message, mentions)
        if not clauses:
            return _Classified(message, doc, mentions, [])
        intents = self.intent.predict(clauses)
        priorities = self.priority.predict(clauses)
        work = [
            (clause, intent, priority)
            for clause, intent, priority in zip(clauses, intents, priorities, strict=True)
            if intent.label != Intent.NONE
        ]
        return _Classified(message, doc, mentions, work)

    def _recognise_entities(self, docs: list[Doc]) -> None:
        """Run the statistical NER, deferred until now, on the messages that hold work only;
        the known-entities component runs again so roster matches win over its guesses."""
        for name in self._deferred:
            component = self.nlp.get_pipe(name)
            assert isinstance(component, TrainablePipe)
            docs = list(component.pipe(docs))  # batched; annotates the same Doc objects
        if self._deferred and KNOWN_ENTITIES in self.nlp.pipe_names:
            known = self.nlp.get_pipe(KNOWN_ENTITIES)
            for doc in docs:
                known(doc)

    def _items(self, found: _Classified) -> list[Item]:
        opened_on = addressee(found.doc[:])
        drafts: list[_Draft] = []
        for clause, intent, priority in found.work:
            self._add_draft(
                drafts,
                clause,
                ItemType(intent.label),
                Priority(priority.label),
                intent.confidence,
                opened_on,
            )
        self._attach_loose_times(drafts, found.mentions, found.message)
        return [self._finish(i, d, found.message) for i, d in enumerate(drafts)]

    def _local_time(self, message: Message) -> datetime:
        """The message time in its author's zone: "tomorrow at 2" from a New York team
        member means 2 pm there. Team members without a zone of their own get the roster's
        default; anyone else keeps the message's own zone."""
        person = self.roster.person(message.author)
        zone = person and (person.timezone or self.roster.timezone)
        return message.sent_at.astimezone(ZoneInfo(zone)) if zone else message.sent_at

    def _add_draft(
        self,
        drafts: list[_Draft],
        clause: Clause,
        item_type: ItemType,
        priority: Priority,
        confidence: float,
        opened_on: str | None,
    ) -> None:
        who = assign(clause.span, clause.normalised, clause.message.author, self.roster, opened_on)
        handles = self._handles(who.assignee if who.reason == "named" else opened_on)
        title = make_title(clause.text, clause.start_char, clause.mentions, item_type, handles)
        mention = _first_future(clause.mentions, clause.message.sent_at)
        if drafts and (len(title) < 3 or _ANAPHORIC.match(title)):
            # "…by Friday. Need it by EOD" adds to the item before, not a new one.
            previous = drafts[-1]
            previous.mention = previous.mention or mention
            if _PRIORITY_RANK[priority] > _PRIORITY_RANK[previous.priority]:
                previous.priority = priority
            return
        drafts.append(
            _Draft(
                type=item_type,
                title=title or clause.text.strip(),
                priority=priority,
                confidence=confidence,
                clause=clause,
                mention=mention,
                assignee=who.assignee,
                reason=who.reason,
                entities=_entities(clause),
            )
        )

    def _handles(self, name: str | None) -> tuple[str, ...]:
        person = self.roster.person(name)
        if person is not None:
            return person.handles
        return (name,) if name else ()

    @staticmethod
    def _attach_loose_times(
        drafts: list[_Draft], mentions: Sequence[TimeMention], message: Message
    ) -> None:
        """A time said outside every item's clause belongs to the single item, if one."""
        if len(drafts) != 1 or drafts[0].mention is not None:
            return
        drafts[0].mention = _first_future(mentions, message.sent_at)

    def _finish(self, index: int, draft: _Draft, message: Message) -> Item:
        item = Item(
            type=draft.type,
            title=draft.title,
            priority=draft.priority,
            confidence=draft.confidence,
            message_id=message.id,
            index=index,
            assignee=draft.assignee,
            assignee_reason=draft.reason,
            entities=tuple(draft.entities),
        )
        mention = draft.mention
        if draft.type is ItemType.EVENT:
            return self._timed_event(item, mention)
        if mention is not None:
            return replace(
                item,
                due=_deadline(mention),
                grain=mention.grain,
                due_source="explicit",
                time_text=mention.text,
            )
        due = default_due(
            draft.clause.text, draft.priority, message.sent_at, self.settings.due_policy
        )
        return replace(
            item, due=due, grain=Grain.MINUTE if due else None, due_source="policy" if due else None
        )

    def _timed_event(self, item: Item, mention: TimeMention | None) -> Item:
        if mention is None:
            return item
        start = mention.anchor
        end = mention.end if mention.kind is MentionKind.INTERVAL else None
        if end is None and start is not None and mention.grain in (Grain.MINUTE, Grain.HOUR):
            end = start + timedelta(minutes=self.settings.event_minutes)
        return replace(
            item,
            start=start,
            end=end,
            grain=mention.grain,
            due_source="explicit",
            time_text=mention.text,
        )


def _first_future(mentions: Iterable[TimeMention], sent_at: datetime) -> TimeMention | None:
    """The first mention not wholly in the past: "I sent it yesterday" sets no deadline."""
    for mention in mentions:
        anchor = (
            mention.end
            if mention.kind is MentionKind.INTERVAL and mention.end
            else (mention.anchor)
        )
        if anchor is None or anchor >= sent_at - _GRAIN_STEP.get(mention.grain, timedelta(0)):
            return mention
    return None


def _is_now(mention: TimeMention, ref: datetime) -> bool:
    """ "asap", "right now": urgency (the priority model reads it), not a deadline."""
    return mention.grain is Grain.SECOND and mention.anchor == ref


def _modifies_noun(doc: Doc, mention: TimeMention) -> bool:
    """ "the Q3 report", "Friday's call": a time naming a thing, not when to do it."""
    following = doc.char_span(mention.end_char, len(doc.text), alignment_mode="expand")
    if following is None or not len(following):
        return False
    token = following[0]
    if token.text in ("'s", "’s"):
        return True
    return token.idx - mention.end_char <= 1 and token.tag_ in NOUN_TAGS and not token.like_num


def _deadline(mention: TimeMention) -> datetime | None:
    """A task's due instant: an instant as is; an interval's last unit ("Mon–Wed" → Wed)."""
    if mention.kind is MentionKind.INSTANT:
        return mention.value
    if mention.end is not None:
        return mention.end - _GRAIN_STEP.get(mention.grain, timedelta(0))
    return mention.start


def _entities(clause: Clause) -> list[Entity]:
    return [
        Entity(
            text=ent.text,
            label=ent.label_,
            start_char=ent.start_char,
            end_char=ent.end_char,
            key=ent.kb_id_ or None,
        )
        for ent in clause.span.ents
        if ent.label_ in ENTITY_LABELS
    ]
