"""Who does the work: the addressed or named person, the author of a commitment, or a
team member picked by role rules. Anything else stays unassigned (and is escalated later)
rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.extract import cues
from pipeline.roster import Roster

if TYPE_CHECKING:
    from spacy.tokens import Span


@dataclass(frozen=True, slots=True)
class Assignment:
    assignee: str | None
    reason: str | None  # addressed | named | author | role:<role>


UNASSIGNED = Assignment(None, None)
_DOER_AFTER = re.compile(
    r"^\s*(?:,|:|\s)*(?:can|could|would|will|pls|please|plz|to|should|must|needs?\s+to|"
    r"has\s+to|is\s+going\s+to|'ll)\b",
    re.IGNORECASE,
)
_DOER_BEFORE = re.compile(r"\b(?:ask|tell|get|have|remind|let|need|want)\s+@?$", re.IGNORECASE)
_OPENING = re.compile(r"^[\s,]*(?:(?:hey|hi|hello|ok|okay|so|and|also)\b[\s,]*)?$", re.IGNORECASE)
_COMMITMENT_START = re.compile(
    r"^(?:ok(?:ay)?[,!. ]+|sure[,!. ]+|yes[,!. ]+|yep[,!. ]+|no worries[,!. ]+)?"
    r"(?:i'll|i will|i'm going to|i am going to|let me|i can|i shall|will do|on it)\b"
)


def addressee(span: Span) -> str | None:
    """The person a message opens on ("John, …", "@Priya …"), by roster name if known."""
    for ent in span.ents:
        if ent.label_ == "PERSON" and _OPENING.match(span.doc.text[: ent.start_char]):
            after = span.doc.text[ent.end_char : ent.end_char + 2]
            if (
                ent.text.startswith("@")
                or after[:1] in {",", ":"}
                or _DOER_AFTER.match(span.doc.text[ent.end_char :])
            ):
                return ent.kb_id_ or ent.text.lstrip("@")
    return None


def assign(
    span: Span, normalised: str, author: str | None, roster: Roster, opened_on: str | None
) -> Assignment:
    """Assign one clause; ``opened_on`` is the message's addressee, which every clause
    that says "you" inherits."""
    text = span.doc.text
    for ent in span.ents:
        if ent.label_ != "PERSON":
            continue
        before = text[span.start_char : ent.start_char]
        asked = _DOER_BEFORE.search(before) is not None  # "ask John to …"
        vocative = ent.text.startswith("@") or text[ent.end_char : ent.end_char + 1] in ",:"
        if asked or (
            _OPENING.match(before) and (vocative or _DOER_AFTER.match(text[ent.end_char :]))
        ):
            return Assignment(ent.kb_id_ or ent.text.lstrip("@"), "named")
    if opened_on is not None and not _COMMITMENT_START.match(normalised):
        return Assignment(opened_on, "addressed")
    if author is not None and cues.COMMITMENT.search(normalised):
        person = roster.person(author)
        return Assignment(person.name if person else author, "author")
    rule = roster.role_for(span.text)
    if rule is not None:
        person = roster.by_role(rule.role)
        if person is not None:
            return Assignment(person.name, f"role:{rule.role}")
    return UNASSIGNED
