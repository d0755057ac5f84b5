"""Split a parsed message into clauses that can each hold one item.

"Send the deck to Acme by Friday and book a call with Globex for Monday" holds a task
and an event: sentences split on the parser's boundaries and on line breaks, and a
sentence splits again where a second verb is coordinated with the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from pipeline.domain import Message, TimeMention
from pipeline.extract.classify import Clause
from pipeline.extract.cues import ACTION_VERB_WORDS, normalise
from pipeline.nlp import VERB_TAGS

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token


def split_clauses(doc: Doc, message: Message, mentions: Sequence[TimeMention]) -> list[Clause]:
    clauses = []
    for sent in doc.sents:
        for span in _split_sentence(sent):
            text = span.text.strip()
            if not any(ch.isalnum() for ch in text):
                continue
            inside = tuple(m for m in mentions if span.start_char <= m.start_char < span.end_char)
            clauses.append(
                Clause(
                    text=span.text,
                    start_char=span.start_char,
                    end_char=span.end_char,
                    normalised=normalise(span.text),
                    span=span,
                    mentions=inside,
                    message=message,
                )
            )
    return clauses


def _split_sentence(sent: Span) -> list[Span]:
    doc = sent.doc
    cuts = sorted({sent.start, *(_cut_before(t) for t in sent if _starts_clause(t)), sent.end})
    spans = []
    for start, end in pairwise(cuts):
        span = doc[start:end]
        while len(span) and (span[0].dep_ == "cc" or span[0].is_space or span[0].is_punct):
            span = doc[span.start + 1 : span.end]
        if len(span):
            spans.append(span)
    return spans


def _starts_clause(token: Token) -> bool:
    if token.is_space and "\n" in token.text:
        return True
    if _after_conjunction(token) and token.lower_ in ACTION_VERB_WORDS:
        return True  # "… and book a call": the small model often tags "book" a noun here
    return (
        token.dep_ == "conj"
        and token.tag_ in VERB_TAGS
        and token.head.dep_ == "ROOT"
        and token.head.tag_ in VERB_TAGS
        and token.i > token.head.i
    )


def _after_conjunction(token: Token) -> bool:
    return token.i > 0 and token.nbor(-1).dep_ == "cc" and token.nbor(-1).lower_ in ("and", "&")


def _cut_before(token: Token) -> int:
    if token.is_space:
        return token.i + 1
    if _after_conjunction(token):
        return token.i - 1
    cc = [c.i for c in token.head.children if c.dep_ == "cc" and c.i < token.i]
    start = token.left_edge.i
    return min([start, *[i for i in cc if i > token.head.i]])
