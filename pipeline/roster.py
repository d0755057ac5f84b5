"""The team roster and the CRM accounts: the entities chat2task knows by name.

Loaded from a YAML file (``data/team.example.yaml`` shows every key). The roster feeds
the spaCy entity ruler (so "John", "@John" and "Acme" resolve to known records) and the
assignment rules (addressed person, commitments, role rules for unassigned work).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from pipeline.errors import ConfigError


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    phone: str | None = None
    email: str | None = None
    role: str | None = None
    manager: str | None = None
    timezone: str | None = None

    @property
    def handles(self) -> tuple[str, ...]:
        """Every way the person is written in chat: full name, first name, aliases."""
        first = self.name.split()[0]
        return _unique((self.name, first, *(a.lstrip("@") for a in self.aliases)))


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    crm_id: str | None = None

    @property
    def handles(self) -> tuple[str, ...]:
        return _unique((self.name, *self.aliases))


class RoleRule(BaseModel):
    """Unassigned work whose text holds one of ``keywords`` goes to someone with ``role``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: tuple[str, ...]
    role: str


class Roster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = None
    team: tuple[Person, ...] = ()
    accounts: tuple[Account, ...] = ()
    role_rules: tuple[RoleRule, ...] = ()

    @model_validator(mode="after")
    def _references_exist(self) -> Roster:
        names = {p.name for p in self.team}
        for person in self.team:
            if person.manager and person.manager not in names:
                raise ValueError(f"{person.name}: manager {person.manager!r} is not in the team")
        roles = {p.role for p in self.team}
        for rule in self.role_rules:
            if rule.role not in roles:
                raise ValueError(f"role rule {list(rule.keywords)}: nobody has role {rule.role!r}")
        return self

    @cached_property
    def _people_by_handle(self) -> dict[str, Person]:
        table: dict[str, Person] = {}
        for person in self.team:
            for handle in person.handles:
                table.setdefault(handle.casefold(), person)
        return table

    def person(self, handle: str | None) -> Person | None:
        """The roster member written as ``handle`` ("John", "@john", "John Smith")."""
        if not handle:
            return None
        return self._people_by_handle.get(handle.strip().lstrip("@").casefold())

    def person_by_phone(self, phone: str) -> Person | None:
        digits = _digits(phone)
        return next((p for p in self.team if p.phone and _digits(p.phone) == digits), None)

    def by_role(self, role: str) -> Person | None:
        return next((p for p in self.team if p.role == role), None)

    def role_for(self, text: str) -> RoleRule | None:
        """The first role rule with a keyword in ``text`` (whole words, any case)."""
        lowered = text.casefold()
        for rule in self.role_rules:
            if any(re.search(rf"\b{re.escape(k.casefold())}\b", lowered) for k in rule.keywords):
                return rule
        return None


def load_roster(path: Path | str | None) -> Roster:
    """Read a roster file; no file means an empty roster (nobody is known by name)."""
    if path is None:
        return Roster()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"team file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"team file {path} is not valid YAML: {exc}") from exc
    try:
        return Roster(**data)
    except (ValidationError, TypeError) as exc:
        raise ConfigError(f"team file {path} is invalid: {exc}") from exc


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)
