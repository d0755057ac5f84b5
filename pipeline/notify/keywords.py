"""Messages that are commands, not work: consent keywords and the chat commands."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    TASKS = "tasks"
    DONE = "done"
    HELP = "help"


#: Opt-out words of WhatsApp's policy and Meta's marketing button ("Stop promotions").
_WORDS = {
    "stop": Keyword.STOP,
    "unsubscribe": Keyword.STOP,
    "stop promotions": Keyword.STOP,
    "start": Keyword.START,
    "tasks": Keyword.TASKS,
    "help": Keyword.HELP,
}
_DONE = re.compile(r"done\s+#?(\d{1,12})")


@dataclass(frozen=True, slots=True)
class Command:
    keyword: Keyword
    #: The item number of ``done N``.
    number: int | None = None


def parse(text: str) -> Command | None:
    """The command a whole message is (case, spacing and end punctuation ignored), or None:
    "stop" is a command, "stop by the office at 5" is a task."""
    words = " ".join(text.casefold().split()).strip(" .!")
    if words in _WORDS:
        return Command(_WORDS[words])
    done = _DONE.fullmatch(words)
    return Command(Keyword.DONE, int(done.group(1))) if done else None
