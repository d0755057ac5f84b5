"""The words of every message we send, as user-editable ``string.Template`` files.

Each template is ``data/templates/<name>.txt``; ``service.templates_dir`` points at a folder
whose files replace the bundled ones of the same name (the others keep the bundled text).
``string.Template`` only substitutes ``$names``: editing a template can never run code.
Every template is checked when the worker starts, so a typo fails at start-up, not at 3 am;
so is ``service.approved_templates``, which names the WhatsApp-approved template standing in
for one of ours outside the 24-hour window, and which of our placeholders fill its slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Template

from pipeline.config import ApprovedTemplate, Settings
from pipeline.errors import ConfigError

BUNDLED_DIR = Path(__file__).resolve().parents[2] / "data" / "templates"

#: Template name -> the placeholders it may use.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    name: frozenset(fields)
    for name, fields in {
        "task_created": ("title", "day"),
        "task_created_undated": ("title",),
        "event_created": ("title", "when"),
        "due_date": ("when",),
        "assigned_to": ("name",),
        "crm_link": ("system", "type", "id"),
        "nothing_found": (),
        "opted_out": (),
        "opted_in": (),
        "help": (),
        "tasks_list": ("count", "lines"),
        "task_line": ("id", "title", "day"),
        "task_line_undated": ("id", "title"),
        "no_tasks": (),
        "unknown_sender": (),
        "task_done": ("id", "title"),
        "task_not_found": ("id",),
        "not_allowed": ("id",),
        "reminder_task": ("title", "when"),
        "reminder_event": ("title", "when"),
    }.items()
}


class Templates:
    """The validated templates; :meth:`render` fills one in."""

    def __init__(self, texts: Mapping[str, Template]) -> None:
        self._texts = dict(texts)

    def render(self, template: str, /, **values: object) -> str:
        return self._texts[template].substitute({k: str(v) for k, v in values.items()})


def load_templates(settings: Settings) -> Templates:
    """The bundled templates, overridden by those in ``service.templates_dir``."""
    override = settings.service.templates_dir
    files = {name: BUNDLED_DIR / f"{name}.txt" for name in PLACEHOLDERS}
    if override is not None:
        if not override.is_dir():
            raise ConfigError(f"service.templates_dir {override} is not a folder")
        for path in sorted(override.glob("*.txt")):
            if path.stem not in PLACEHOLDERS:
                raise ConfigError(
                    f"template {path} has an unknown name; known: {', '.join(PLACEHOLDERS)}"
                )
            files[path.stem] = path
    for name, approved in settings.service.approved_templates.items():
        _check_approved(name, approved)
    return Templates({name: _read(name, path) for name, path in files.items()})


def _check_approved(name: str, approved: ApprovedTemplate) -> None:
    where = f"service.approved_templates.{name}"
    if name not in PLACEHOLDERS:
        raise ConfigError(
            f"{where}: no message is called {name!r}; known: {', '.join(PLACEHOLDERS)}"
        )
    if not (approved.twilio_content_sid or approved.meta_name):
        raise ConfigError(f"{where} needs twilio_content_sid, meta_name or both")
    unknown = [v for v in approved.variables if v not in PLACEHOLDERS[name]]
    if unknown:
        allowed = ", ".join(sorted(PLACEHOLDERS[name])) or "none"
        raise ConfigError(f"{where}.variables: {', '.join(unknown)} unknown; allowed: {allowed}")


def _read(name: str, path: Path) -> Template:
    try:
        template = Template(path.read_text(encoding="utf-8").rstrip("\n"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"template {name} cannot be read from {path}: {exc}") from exc
    if not template.is_valid():
        raise ConfigError(f"template {path} has a stray '$': write '$$' for a dollar sign")
    unknown = set(template.get_identifiers()) - PLACEHOLDERS[name]
    if unknown:
        allowed = ", ".join(f"${p}" for p in sorted(PLACEHOLDERS[name])) or "none"
        raise ConfigError(
            f"template {path} uses {', '.join(f'${u}' for u in sorted(unknown))}; "
            f"allowed here: {allowed}"
        )
    return template
