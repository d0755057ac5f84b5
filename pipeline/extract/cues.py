"""Word lists and compiled patterns shared by the rule-based stages.

Kept in one module so the prefilter, the rule classifiers and the title cleaner agree on
what a request, a commitment or a meeting word is. Patterns run on text lower-cased by
:func:`normalise`, which also expands the chat shorthand people type ("pls", "u", "r").
"""

from __future__ import annotations

import re

_SHORTHAND = {
    "pls": "please",
    "plz": "please",
    "plss": "please",
    "pleasee": "please",
    "u": "you",
    "ya": "you",
    "ur": "your",
    "r": "are",
    "thx": "thanks",
    "thnx": "thanks",
    "ty": "thanks",
    "cud": "could",
    "wud": "would",
    "shud": "should",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "im": "i'm",
    "ill": "i'll",
    "ive": "i've",
    "lemme": "let me",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "have to",
    "mtg": "meeting",
}
_SHORTHAND_RE = re.compile(r"\b(" + "|".join(map(re.escape, _SHORTHAND)) + r")\b")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_LAYOUT_MARKS = re.compile("[\u00a0\u2009\u202f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def blank_marks(text: str) -> str:
    """Turn invisible and no-break marks into plain spaces, keeping every offset.

    The parser and the date grammar then see ordinary words ("@Priya", "3 PM"), and spans
    they report still index the original text.
    """
    return _LAYOUT_MARKS.sub(" ", text)


def normalise(text: str) -> str:
    """Lower-case, drop invisible marks, unify spaces and expand chat shorthand."""
    lowered = _SPACES.sub(" ", blank_marks(text)).strip().lower()
    lowered = lowered.replace("\u2019", "'")
    return _SHORTHAND_RE.sub(lambda m: _SHORTHAND[m.group(1)], lowered)


def words(*alternatives: str) -> str:
    return r"\b(?:" + "|".join(alternatives) + r")\b"


ACTION_VERBS = (
    "send|call|email|e-mail|ring|text|message|ping|book|schedule|reschedule|arrange|organi[sz]e|"
    "set up|setup|fix|check|update|prepare|prep|review|sign|finish|finalise|finalize|submit|"
    "share|follow up|follow-up|chase|confirm|order|pay|invoice|draft|write|print|post|upload|"
    "download|forward|fwd|reply|respond|answer|contact|reach out|get|grab|bring|pick up|drop off|"
    "collect|deliver|ship|move|cancel|renew|approve|sort out|sort|look into|look at|handle|"
    "file|add|remove|create|make|put|change|quote|price|plan|invite|remind|tell|ask|let|"
    "notify|inform|escalate|test|deploy|install|clean|ring|visit|meet|present|demo|pitch|"
    "negotiate|close|assign|document|note|research|compare|calculate|count|order|buy|"
    "install|repair|replace|inspect|measure|sign off|process|scan|fill in|fill out|complete|do"
)
REQUEST = re.compile(
    words(
        r"(?:can|could|would|will) (?:you|someone|somebody|anyone|one of you)",
        r"please",
        r"need (?:you|someone|somebody) to",
        r"make sure",
        r"don't forget",
        r"do not forget",
        r"remember to",
        r"remind (?:me|us|him|her|them)",
        r"(?:i|we) need",
        r"need to",
        r"needs to",
        r"have to",
        r"has to",
        r"must",
        r"should",
        r"to-?do",
        r"action items?",
        r"deadline",
        r"due",
        r"asap",
        r"urgent(?:ly)?",
        r"kindly",
        r"pls",
        r"i want you to",
        r"mind (?:sending|checking|calling|doing)",
        r"(?:quick )?reminder",
    )
)
COMMITMENT = re.compile(
    words(
        r"i'll",
        r"i will",
        r"i'm going to",
        r"i am going to",
        r"i can",
        r"i shall",
        r"let me",
        r"i'll try to",
        r"i'm gonna",
        r"happy to",
        r"(?:i'm |am |i am )?sending (?:it|them|this|that|the)",
    )
)
MEETING_NOUNS = (
    r"meeting|meetings|call|calls|catch ?-?up|sync|standup|stand-up|demo|review|presentation|"
    r"appointment|appt|interview|workshop|webinar|lunch|dinner|breakfast|coffee|visit|"
    r"site visit|conference|session|1:1|one-on-one|kick-?off|walkthrough|walk-through|huddle|"
    r"zoom|teams call|hangout|training|onboarding|viewing|inspection|consultation|"
    r"check-?in|offsite|party|drinks|pitch|hearing|deposition|retro|retrospective|briefing"
)
MEETING = re.compile(words(MEETING_NOUNS))
ACTION_VERB_WORDS = frozenset(v for v in ACTION_VERBS.split("|") if v.isalpha())
SCHEDULING = re.compile(
    words(
        r"schedule",
        r"scheduled",
        r"reschedule",
        r"book",
        r"set up",
        r"arrange",
        r"organi[sz]e",
        r"let's (?:meet|do|have|catch up|get together|sync|grab|hop on|jump on)",
        r"lets (?:meet|do|have|catch up|get together|sync|grab|hop on|jump on)",
        r"(?:can|shall|should) we (?:meet|do|have|move|push|catch up|sync|hop on|jump on)",
        r"move (?:the|our|it|this)",
        r"push (?:the|our|it|this)",
        r"invite",
        r"put (?:it|this|that)? ?in (?:the|your|my)? ?calendar",
        r"calendar",
        r"see you (?:at|on)",
        r"join",
        r"meet",
        r"we're meeting",
        r"we are meeting",
    )
)
PAST_DONE = re.compile(
    r"^(?:(?:i|we|he|she|they)(?:'ve| have| just)?\s+|already\s+|just\s+)?"
    r"(?:sent|done|finished|completed|submitted|delivered|called|emailed|signed|paid|fixed|"
    r"shared|uploaded|replied|forwarded|handled|sorted|confirmed|ordered)\b"
    r"(?:\s+(?:it|that|this|them|the \w+))?"
    r"(?:\s*[.!✅👍✔️☑️]*)\s*$"
    r"|\b(?:already (?:sent|done|did|booked|paid|signed|called|emailed|sorted|handled))\b"
    r"|^(?:done|sorted|finished|completed|sent)\b"
    r"|✅\s*$"
)
NEGATION = re.compile(
    words(
        r"no need",
        r"don't need to",
        r"do not need to",
        r"doesn't need to",
        r"not necessary",
        r"never ?mind",
        r"nvm",
        r"ignore (?:my|the|that|this)",
        r"forget (?:it|about it|that)",
        r"don't (?:bother|worry)",
        r"no rush",
    )
)
CANCELLATION = re.compile(
    words(
        r"cancel(?:l)?ed",
        r"is off",
        r"are off",
        r"called off",
        r"not happening",
        r"scrap(?:ped)?",
    )
)
PLAIN_QUESTION = re.compile(
    r"^(?:did|was|were|is|are|has|have|does|do (?!you mind)|what|how|why|who|where|which|"
    r"anyone know|any news|any update|how's|what's|whats|hows|isn't|aren't|didn't)\b"
)
URGENT = re.compile(
    words(
        r"asap",
        r"a\.s\.a\.p\.?",
        r"urgent(?:ly)?",
        r"immediately",
        r"right now",
        r"right away",
        r"straight away",
        r"emergency",
        r"critical",
        r"top priority",
        r"at once",
        r"drop everything",
    )
    + r"|!!!|🚨|‼️"
)
HIGH = re.compile(
    words(
        r"deadline",
        r"due",
        r"need(?:ed|s)? (?:it |this |that |them |these )?by",
        r"by (?:eod|cob|end of (?:the )?day|today|tonight|tomorrow|tmrw|tmr)",
        r"no later than",
        r"important",
        r"high priority",
        r"priority",
        r"before",
        r"latest",
    )
)
DEADLINE_PREPOSITION = re.compile(r"\b(?:by|before|no later than|until|till|til|due)\s*$")
DEADLINE_OPENING = re.compile(r"^(?:by|before|no later than|until|till|til|due)\b", re.IGNORECASE)
WORK_CUE = re.compile(
    "|".join(
        (
            REQUEST.pattern,
            COMMITMENT.pattern,
            MEETING.pattern,
            SCHEDULING.pattern,
            URGENT.pattern,
            r"(?:^|[.!?,;]\s+|\bjust\s+)(?:@?\w+[,:]?\s+)?" + words(ACTION_VERBS),
            r"\blet'?s\b",
            words(r"by", r"before", r"due", r"deadline", r"until", r"till", r"no later than"),
        )
    )
)
