"""The one feature builder for the trained classifiers, used by training and inference.

A clause becomes a row of three columns: its normalised text, the whole message's
normalised text (priority reads urgency said anywhere in the message) and a dict of
parse and cue features. :func:`make_features` turns rows into one sparse matrix with
stock scikit-learn parts only, so a saved model loads with skops without trusting any of
our own code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.domain import TimeMention
from pipeline.extract import Clause, cues
from pipeline.extract.classify import RuleIntentClassifier, RulePriorityClassifier, is_imperative

TEXT, MESSAGE, CUES = 0, 1, 2
_TOKENS = r"(?u)\b\w+\b|[?!]"  # one-letter words ("u", "i") and "?" carry intent
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|u|someone|anyone|somebody)\b")
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i'll|i've|me|my|we|we'll|let's|lets|us)\b")
_CUES = {
    "request": cues.REQUEST,
    "commitment": cues.COMMITMENT,
    "meeting": cues.MEETING,
    "scheduling": cues.SCHEDULING,
    "past_done": cues.PAST_DONE,
    "negation": cues.NEGATION,
    "cancellation": cues.CANCELLATION,
    "plain_question": cues.PLAIN_QUESTION,
    "urgent": cues.URGENT,
    "high": cues.HIGH,
}
_RULE_INTENT = RuleIntentClassifier()
_RULE_PRIORITY = RulePriorityClassifier()


def clause_rows(clauses: Sequence[Clause]) -> np.ndarray:
    """Rows for :func:`make_features`: ``(clause text, message text, cue dict)``."""
    intents = _RULE_INTENT.predict(clauses)
    priorities = _RULE_PRIORITY.predict(clauses)
    rows = np.empty((len(clauses), 3), dtype=object)
    for i, (clause, intent, priority) in enumerate(zip(clauses, intents, priorities, strict=True)):
        found = cue_features(clause)
        found[f"rule_intent={intent.label}"] = 1.0
        found[f"rule_priority={priority.label}"] = 1.0
        rows[i] = (clause.normalised, cues.normalise(clause.message.text), found)
    return rows


def cue_features(clause: Clause) -> dict[str, float]:
    """What the rule baseline looks at, as features: the model learns how much each
    counts instead of following a fixed order of rules."""
    text = clause.normalised
    message = cues.normalise(clause.message.text)
    span = clause.span
    before = span.doc.text[: clause.start_char]
    found: dict[str, float] = {
        "imperative": float(is_imperative(span)),
        "modal": float(any(t.tag_ == "MD" for t in span)),
        "second_person": float(_SECOND_PERSON.search(text) is not None),
        "first_person": float(_FIRST_PERSON.search(text) is not None),
        "question": float("?" in clause.text),
        "first_clause": float(not any(ch.isalnum() for ch in before)),
        "root=" + span.root.tag_: 1.0,
        "words": min(sum(t.is_alpha for t in span), 30) / 30,
    }
    for name, pattern in _CUES.items():
        if pattern.search(text):
            found[f"cue:{name}"] = 1.0
        if pattern.search(message):
            found[f"message_cue:{name}"] = 1.0
    for mention in clause.mentions:
        found["time"] = 1.0
        found[f"grain={mention.grain.value}"] = 1.0
        found[f"when={_when(mention, clause)}"] = 1.0
        if cues.DEADLINE_OPENING.match(mention.text) or cues.DEADLINE_PREPOSITION.search(
            span.doc.text[: mention.start_char].lower()
        ):
            found["deadline"] = 1.0
    return found


def _when(mention: TimeMention, clause: Clause) -> str:
    """How far ahead a time is, in the steps priority depends on: within the hour is
    urgent, up to a week is a near deadline, later is not."""
    anchor = mention.anchor
    if anchor is None:
        return "open"
    sent = clause.message.sent_at.astimezone(anchor.tzinfo)
    ahead = anchor - sent
    if ahead < -timedelta(days=1):
        return "past"
    if timedelta(0) <= ahead <= timedelta(hours=1):
        return "within_hour"
    days = (anchor.date() - sent.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return "week" if days <= 7 else "later"


def make_features(
    *, max_features: int, min_df: int, char_ngrams: bool, message_text: bool
) -> ColumnTransformer:
    """Word 1–2-grams of the clause, optionally character 2–5-grams (robust to "tmrw",
    "pls", typos) and word n-grams of the whole message, plus the cue dict."""
    parts: list[tuple[str, Any, int]] = [
        ("words", _tfidf("word", (1, 2), max_features, min_df), TEXT),
        ("cues", DictVectorizer(), CUES),
    ]
    if char_ngrams:
        parts.append(("chars", _tfidf("char_wb", (2, 5), max_features, min_df), TEXT))
    if message_text:
        parts.append(("message", _tfidf("word", (1, 2), max_features, min_df), MESSAGE))
    return ColumnTransformer(parts)


def _tfidf(
    analyzer: str, ngram_range: tuple[int, int], max_features: int, min_df: int
) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=ngram_range,
        max_features=max_features,
        min_df=min_df,
        sublinear_tf=True,
        token_pattern=_TOKENS if analyzer == "word" else None,
        dtype=np.float32,
    )
