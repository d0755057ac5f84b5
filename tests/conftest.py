"""Shared, expensive fixtures: the spaCy pipeline and the extractor load once per session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.config import Settings
from pipeline.domain import Message, MessageKind
from pipeline.extract import Extractor
from pipeline.nlp import load_nlp
from pipeline.roster import Roster, load_roster

pytest_plugins = ["tests.storage_fixtures"]

FIXTURES = Path(__file__).parent / "fixtures"
LONDON = ZoneInfo("Europe/London")
# Monday 23 November 2026, 10:00 in London: every relative date in the tests counts from here.
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)


@pytest.fixture(scope="session")
def team_file() -> Path:
    return FIXTURES / "team.yaml"


@pytest.fixture(scope="session")
def settings(team_file: Path) -> Settings:
    return Settings(team_file=team_file, timezone="Europe/London")


@pytest.fixture(scope="session")
def roster(team_file: Path) -> Roster:
    return load_roster(team_file)


@pytest.fixture(scope="session")
def extractor(settings: Settings, roster: Roster) -> Extractor:
    return Extractor(settings, roster=roster, nlp=load_nlp(settings.spacy_model, roster))


MessageFactory = Callable[..., Message]


@pytest.fixture
def message() -> MessageFactory:
    """Build a message sent at :data:`MONDAY_10AM` unless told otherwise."""
    counter = iter(range(1_000_000))

    def build(
        text: str,
        *,
        author: str | None = "Sarah Cole",
        at: datetime = MONDAY_10AM,
        kind: MessageKind = MessageKind.TEXT,
    ) -> Message:
        return Message(
            id=f"m{next(counter)}", chat="test", author=author, sent_at=at, text=text, kind=kind
        )

    return build
