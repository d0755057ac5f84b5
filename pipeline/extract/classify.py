"""The ``Classifier`` seam: intent (task / event / none) and priority per clause.

The pipeline only knows this interface and the registries in :mod:`pipeline.registry`;
the rule-based classifiers here are the baseline that trained models are compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pipeline.domain import Intent, Message, Priority, TimeMention
from pipeline.errors import ConfigError
from pipeline.extract import cues
from pipeline.registry import intent_classifiers, priority_classifiers

if TYPE_CHECKING:
    from spacy.tokens import Span

    from pipeline.config import Settings


@dataclass(frozen=True, slots=True)
class Clause:
    """A sentence, or one coordinated part of it, that can hold at most one item."""

    text: str
    start_char: int
    end_char: int
    normalised: str
    span: Span
    mentions: tuple[TimeMention, ...]
    message: Message


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    confidence: float


class Classifier(Protocol):
    """Labels clauses; ``labels`` lists every label ``predict`` may return."""

    labels: tuple[str, ...]

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]: ...


def get_intent_classifier(settings: Settings) -> Classifier:
    return _build(intent_classifiers, "intent", settings.intent_classifier, settings)


def get_priority_classifier(settings: Settings) -> Classifier:
    return _build(priority_classifiers, "priority", settings.priority_classifier, settings)


def _build(registry: object, kind: str, name: str, settings: Settings) -> Classifier:
    try:
        factory = registry.get(name)  # type: ignore[attr-defined]
    except Exception as exc:  # catalogue raises its own RegistryError
        known = ", ".join(sorted(registry.get_all()))  # type: ignore[attr-defined]
        raise ConfigError(f"no {kind} classifier named {name!r}; known: {known}") from exc
    classifier: Classifier = factory(settings)
    return classifier


# Leading words that carry no meaning for "is this an instruction" checks.
_FILLERS = frozenset({"please", "pls", "just", "also", "and", "so", "oh", "ok", "okay", "then"})
_COURTESY_VERBS = frozenset(
    {"thank", "enjoy", "have", "see", "welcome", "congrats", "love", "hope", "like", "let"}
)


def is_imperative(span: Span) -> bool:
    """True when the clause opens with a bare verb ("Send…", "John, send…", "pls send…")."""
    for token in span:
        if token.is_punct or token.is_space or token.lower_ in _FILLERS:
            continue
        if token.text.startswith("@") or token.ent_type_ == "PERSON":
            continue  # the addressee: "John, send…", "@Priya send…"
        if token.i + 1 < len(token.doc) and token.nbor(1).text in (":", "-"):
            continue  # a label: "Reminder: renew…", "Todo - call…"
        return (
            token.tag_ == "VB"
            and token.lower_ not in _COURTESY_VERBS
            and not any(child.dep_ in ("nsubj", "nsubjpass") for child in token.children)
        )
    return False


def _meeting_is_noun(span: Span) -> bool:
    """A meeting word naming a meeting ("a call at 3", "call with Acme"), not an order
    that opens the clause ("call them back")."""
    meeting_tokens = [t for t in span if cues.MEETING.fullmatch(t.lower_)]
    if not meeting_tokens:
        return True  # a multi-word one ("site visit", "catch-up")
    opening = next((t for t in span if not (t.is_punct or t.lower_ in _FILLERS)), None)
    return any(
        t != opening or t.tag_ != "VB" or (t.i + 1 < len(t.doc) and t.nbor(1).lower_ == "with")
        for t in meeting_tokens
    )


def _too_short(span: Span) -> bool:
    """Three words or fewer, not counting politeness: an answer, not an instruction."""
    words = [t for t in span if t.is_alpha and t.lower_ not in _FILLERS]
    return len(words) <= 3


def _past_statement(span: Span) -> bool:
    """ "lunch was great", "we met them yesterday": a report, not something to do."""
    root = span.root
    if root.tag_ not in ("VBD", "VBN"):
        return False
    return not any(c.dep_ in ("aux", "auxpass") and c.tag_ == "MD" for c in root.children)


class RuleIntentClassifier:
    """Cue-word rules: the baseline every trained intent model must beat."""

    labels = tuple(i.value for i in Intent)

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]:
        return [self._classify(clause) for clause in clauses]

    def _classify(self, clause: Clause) -> Prediction:
        text = clause.normalised
        if cues.NEGATION.search(text) or cues.CANCELLATION.search(text):
            return Prediction(Intent.NONE, 0.8)
        if cues.PAST_DONE.search(text):
            return Prediction(Intent.NONE, 0.8)
        request = cues.REQUEST.search(text) is not None
        commitment = cues.COMMITMENT.search(text) is not None
        if _past_statement(clause.span) and not (request or commitment):
            return Prediction(Intent.NONE, 0.7)
        has_time = any(
            m.anchor is None or m.anchor >= clause.message.sent_at for m in clause.mentions
        )
        meeting = cues.MEETING.search(text) is not None and _meeting_is_noun(clause.span)
        scheduling = cues.SCHEDULING.search(text) is not None
        if meeting and (has_time or scheduling):
            return Prediction(Intent.EVENT, 0.85)
        if scheduling and has_time and not request:
            return Prediction(Intent.EVENT, 0.65)
        if cues.PLAIN_QUESTION.search(text) and not request:
            return Prediction(Intent.NONE, 0.7)
        imperative = is_imperative(clause.span)
        if _too_short(clause.span) and not (imperative or has_time or meeting):
            return Prediction(Intent.NONE, 0.7)  # "yes pls", "on it 💪", "flat white pls"
        if request or commitment or imperative:
            return Prediction(Intent.TASK, 0.8 if request or commitment else 0.7)
        return Prediction(Intent.NONE, 0.6)


class RulePriorityClassifier:
    """Urgent on alarm words, high on an explicit deadline, else normal."""

    labels = tuple(p.value for p in Priority)

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]:
        return [self._classify(clause) for clause in clauses]

    @staticmethod
    def _classify(clause: Clause) -> Prediction:
        text = clause.normalised
        if cues.URGENT.search(clause.message.text.lower()) or cues.URGENT.search(text):
            return Prediction(Priority.URGENT, 0.9)
        before = clause.span.doc.text
        deadline = any(
            cues.DEADLINE_OPENING.match(m.text)
            or cues.DEADLINE_PREPOSITION.search(before[: m.start_char].lower())
            for m in clause.mentions
        )
        if deadline or cues.HIGH.search(text):
            return Prediction(Priority.HIGH, 0.75)
        return Prediction(Priority.NORMAL, 0.7)


@intent_classifiers.register("rules")
def make_rule_intent(settings: Settings) -> Classifier:
    return RuleIntentClassifier()


@priority_classifiers.register("rules")
def make_rule_priority(settings: Settings) -> Classifier:
    return RulePriorityClassifier()
