"""``chat2task calendar export|push``; ``pipeline.cli`` adds the group with :func:`register`.

A feed holds every stored item of the chosen person (or of everyone) whatever its status,
so that a finished task or a cancelled meeting is updated in the calendar, not left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from pipeline.config import Settings, load_settings
from pipeline.errors import InputError

if TYPE_CHECKING:  # the storage layer (SQLAlchemy) loads only when a command runs
    from pipeline.storage import StoredItem

calendar_app = typer.Typer(
    help="iCalendar feeds of the stored items: export a file or push to a CalDAV server.",
    no_args_is_help=True,
)
console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (YAML); see data/config.example.yaml."),
]
TzOption = Annotated[
    str | None,
    typer.Option("--tz", help="IANA timezone of the times (default: the person's, else settings)."),
]
_PAGE = 1000


def register(app: typer.Typer) -> None:
    """Add the ``calendar`` command group to ``app``."""
    app.add_typer(calendar_app, name="calendar")


@calendar_app.command("export")
def export_command(
    user: Annotated[
        str | None, typer.Option("--user", help="Items assigned to this person (roster name).")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Items of everyone.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help=".ics file to write (default stdout).")
    ] = None,
    tz: TzOption = None,
    config: ConfigOption = None,
) -> None:
    """Write an iCalendar file: VTODO per task, VEVENT per event, with reminders."""
    from connectors.calendar.ics import build_calendar
    from pipeline.jsonl import atomic_output

    if (user is None) == (not everyone):
        raise InputError("give either --user NAME or --all (exactly one)")
    settings = load_settings(config)
    assignee, zone = _person(settings, user, tz)
    items = _stored_items(settings, assignee)
    name = f"chat2task: {assignee}" if assignee else "chat2task"
    calendar = build_calendar(items, zone=zone, name=name)
    with atomic_output(out) as handle:
        handle.write(calendar.to_ical().decode("utf-8"))
    if out is not None:
        written = len(calendar.todos) + len(calendar.events)
        console.print(f"Wrote {written} items to {out}", highlight=False, soft_wrap=True)


@calendar_app.command("push")
def push_command(
    url: Annotated[str, typer.Option("--url", help="CalDAV calendar collection URL.")],
    user: Annotated[
        str | None,
        typer.Option("--user", help="Only items assigned to this person (default: everyone)."),
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", help="CalDAV login (Basic auth).")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            "--password", envvar="CHAT2TASK_CALDAV_PASSWORD", help="CalDAV (app) password."
        ),
    ] = "",
    tz: TzOption = None,
    config: ConfigOption = None,
) -> None:
    """Create or update one calendar object per item; the calendar is created if missing."""
    from connectors.calendar.caldav import CalDAVClient, push

    settings = load_settings(config)
    assignee, zone = _person(settings, user, tz)
    items = _stored_items(settings, assignee)
    auth = (username, password) if username else None
    with CalDAVClient(url, zone=zone, auth=auth) as client:
        client.ensure_calendar()
        before = client.list_etags()
        after = push(items, client, before)
    created = sum(uid not in before for uid in after)
    unchanged = sum(before.get(uid) == etag for uid, etag in after.items())
    console.print(
        f"Pushed {len(after)} items to {client.url}: {created} created,"
        f" {len(after) - created - unchanged} updated, {unchanged} unchanged",
        highlight=False,
        soft_wrap=True,
    )


def _person(settings: Settings, user: str | None, tz: str | None) -> tuple[str | None, ZoneInfo]:
    """The stored assignee name for ``user`` (any roster handle) and the zone to write in."""
    from pipeline.roster import load_roster
    from pipeline.zones import parse_zone

    person = load_roster(settings.team_file).person(user) if user else None
    assignee = person.name if person else user
    return assignee, parse_zone(tz or (person and person.timezone) or settings.timezone)


def _stored_items(settings: Settings, assignee: str | None) -> list[StoredItem]:
    """Every item (any status) of the assignee, or of everyone, read page by page."""
    from pipeline.storage import Store

    found: list[StoredItem] = []
    with Store.open(settings.database_url) as store:
        while True:
            page = store.list_items(
                tenant=settings.tenant,
                status=None,
                assignee=assignee,
                limit=_PAGE,
                offset=len(found),
            )
            found.extend(page)
            if len(page) < _PAGE:
                return found
