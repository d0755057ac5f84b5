"""Settings and roster files: validated at start-up, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.notify.templates import load_templates
from pipeline.roster import Roster, load_roster

EXAMPLE_CONFIG = Path(__file__).parents[1] / "data" / "config.example.yaml"
SERVICE_EXAMPLE = EXAMPLE_CONFIG.parent / "config.service.example.yaml"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("CONFIG", "DATABASE_URL", "TIMEZONE", "TEAM_FILE", "SPACY_MODEL", "TENANT"):
        monkeypatch.delenv(f"CHAT2TASK_{key}", raising=False)


def test_service_example_loads_with_its_commented_templates_switched_on(tmp_path: Path) -> None:
    lines = SERVICE_EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "approved_templates: {}" in line)
    lines[start] = "  approved_templates:"
    end = start + 1
    while lines[end].startswith("#    "):
        lines[end] = lines[end][1:]
        end += 1
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "team.example.yaml").write_text(
        (SERVICE_EXAMPLE.parent / "team.example.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )

    settings = load_settings(config)
    assert set(settings.service.approved_templates) == {"reminder_task", "reminder_event"}
    assert settings.service.approved_templates["reminder_event"].on("meta")
    assert not settings.service.approved_templates["reminder_event"].on("twilio")
    load_templates(settings)  # raises on a name or variable the templates do not have


def test_example_config_loads_and_points_at_the_example_roster() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.timezone == "Europe/London"
    assert settings.team_file == EXAMPLE_CONFIG.parent / "team.example.yaml"
    roster = load_roster(settings.team_file)
    assert len(roster.team) >= 5
    assert roster.accounts


def test_environment_overrides_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT2TASK_DATABASE_URL", "postgresql+psycopg://db.example/x")
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.database_url == "postgresql+psycopg://db.example/x"


def test_explicit_override_wins_and_none_is_ignored() -> None:
    settings = load_settings(EXAMPLE_CONFIG, timezone="Asia/Kolkata", tenant=None)
    assert (settings.timezone, settings.tenant) == ("Asia/Kolkata", "default")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timezone: Mars/Olympus\n", "timezone"),
        ("colour: blue\n", "colour"),
        ("due_policy:\n  - days: -1\n", "due_policy.0.days"),
        ("- a list\n", "mapping"),
        ("timezone: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_settings_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        load_settings(path)
    assert info.value.code == "C2T200"


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/chat2task.yaml")


def test_roster_lookups(roster: Roster) -> None:
    assert roster.person("@johnny") is not None
    assert roster.person("JOHN SMITH") == roster.person("John")
    assert roster.person("Nobody") is None
    assert roster.person_by_phone("+44 7700 900103") == roster.person("Priya")
    rule = roster.role_for("the NDA is ready")
    assert rule is not None and rule.role == "sales_ops"
    assert roster.role_for("lunch?") is None


def test_roster_rejects_unknown_manager(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("team:\n  - name: A\n    manager: Nobody\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="manager 'Nobody' is not in the team"):
        load_roster(path)
