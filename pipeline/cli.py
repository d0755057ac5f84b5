"""The ``chat2task`` command line.

Every command fails with one line naming the cause (file and line where there is one)
and a non-zero exit code; batch outputs are written atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline import __version__
from pipeline.config import Settings, load_settings
from pipeline.domain import ItemType, Message, Priority
from pipeline.errors import Chat2TaskError, InputError
from pipeline.jsonl import atomic_output, dump_line, parse_at, read_records
from pipeline.zones import parse_zone

app = typer.Typer(
    name="chat2task",
    help="Turn WhatsApp chats into tasks, deadlines and calendar events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (YAML); see data/config.example.yaml."),
]
AtOption = Annotated[
    str | None, typer.Option("--at", help="When the message was sent (ISO 8601); default now.")
]
TzOption = Annotated[
    str | None, typer.Option("--tz", help="IANA timezone of the message (default: settings).")
]
InputOption = Annotated[
    Path | None, typer.Option("--input", "-i", help="JSONL batch input ('-' for stdin).")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="JSONL output file (default stdout).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class DateOrderChoice(StrEnum):
    AUTO = "auto"
    DMY = "dmy"
    MDY = "mdy"
    YMD = "ymd"


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    ICS = "ics"


class StatusChoice(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    ALL = "all"


def main() -> None:
    """Console-script entry point: turn our errors into one line and exit code 1."""
    try:
        app()
    except Chat2TaskError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


def _settings(config: Path | None, tz: str | None = None) -> Settings:
    return load_settings(config, timezone=tz)


def _one_at(at: str | None, settings: Settings) -> datetime:
    return parse_at(at, parse_zone(settings.timezone), datetime.now(UTC))


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"chat2task {__version__}")


@app.command()
def extract(
    text: Annotated[str | None, typer.Argument(help="One message's text.")] = None,
    at: AtOption = None,
    tz: TzOption = None,
    author: Annotated[str | None, typer.Option(help="Who wrote it (roster name).")] = None,
    input: InputOption = None,
    output: OutputOption = None,
    as_json: JsonFlag = False,
    config: ConfigOption = None,
) -> None:
    """Tasks and events in one message, or in every line of a JSONL batch."""
    from pipeline.extract import Extractor

    settings = _settings(config, tz)
    _exactly_one(text, input)
    extractor = Extractor(settings)
    if input is not None:
        records = read_records(input, default_tz=settings.timezone, now=datetime.now(UTC))
        messages = (
            Message(id=r.id, chat="cli", author=r.author, sent_at=r.at, text=r.text, source="cli")
            for r in records
        )
        with atomic_output(output) as handle:
            for message, items in extractor.extract_many(messages):
                dump_line(handle, {"id": message.id, "items": [i.as_json() for i in items]})
        return
    assert text is not None
    message = Message(
        id="cli", chat="cli", author=author, sent_at=_one_at(at, settings), text=text, source="cli"
    )
    items = extractor.extract(message)
    if as_json:
        console.print_json(data={"items": [i.as_json() for i in items]})
        return
    if not items:
        console.print("No task or event found.")
    for item in items:
        _print_item(item.as_json())


def _print_item(item: dict[str, Any]) -> None:
    when = item["due"] or item["start"]
    lines = [
        f"[bold]✓ {item['type'].capitalize()}:[/bold] {item['title']}",
        f"  when: {when or '—'}" + (f" ({item['grain']}, {item['due_source']})" if when else ""),
        f"  priority: {item['priority']}   assignee: {item['assignee'] or 'unassigned'}"
        f"   confidence: {item['confidence']:.2f}",
    ]
    console.print("\n".join(lines), highlight=False)


@app.command()
def dates(
    text: Annotated[str | None, typer.Argument(help="Text holding time expressions.")] = None,
    at: AtOption = None,
    tz: TzOption = None,
    input: InputOption = None,
    output: OutputOption = None,
    as_json: JsonFlag = False,
    config: ConfigOption = None,
) -> None:
    """The time expressions in a text, resolved relative to when it was sent."""
    from pipeline.dates import DateResolver

    settings = _settings(config, tz)
    _exactly_one(text, input)
    resolver = DateResolver()
    if input is not None:
        records = read_records(input, default_tz=settings.timezone, now=datetime.now(UTC))
        with atomic_output(output) as handle:
            for record in records:
                mentions = resolver.find(record.text, record.at)
                dump_line(handle, {"id": record.id, "mentions": [m.as_json() for m in mentions]})
        return
    assert text is not None
    found = [m.as_json() for m in resolver.find(text, _one_at(at, settings))]
    if as_json:
        console.print_json(data={"mentions": found})
        return
    if not found:
        console.print("No time expression found.")
    for mention in found:
        value = mention.get("value") or f"{mention['start']} → {mention['end']}"
        console.print(f"[bold]{mention['text']}[/bold]  {value}  ({mention['grain']})")


def _exactly_one(text: str | None, input: Path | None) -> None:
    if (text is None) == (input is None):
        raise InputError("give either TEXT or --input FILE.jsonl (exactly one)")


@app.command("parse-export")
def parse_export_command(
    file: Annotated[Path, typer.Argument(help="WhatsApp export (.txt or .zip).")],
    tz: TzOption = None,
    date_order: Annotated[
        DateOrderChoice, typer.Option("--date-order", help="Force the date order.")
    ] = DateOrderChoice.AUTO,
    chat: Annotated[str | None, typer.Option(help="Chat name (default: from file).")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON line per message.")] = False,
    output: OutputOption = None,
    config: ConfigOption = None,
) -> None:
    """Parse an exported chat without storing it."""
    from pipeline.sources.whatsapp import DateOrder, parse_export

    settings = _settings(config, tz)
    parsed = parse_export(
        file, chat=chat, tz=settings.timezone, date_order=DateOrder(date_order.value)
    )
    if not jsonl:
        _export_summary(parsed)
        return
    with atomic_output(output) as handle:
        for message in parsed.messages:
            dump_line(
                handle,
                {
                    "timestamp": message.sent_at.replace(tzinfo=None).isoformat(),
                    "sent_at": message.sent_at.isoformat(),
                    "author": message.author,
                    "text": message.text,
                    "kind": message.kind.value,
                    "line": message.line,
                },
            )
    for unparsed in parsed.unparsed:
        errors.print(f"{file}:{unparsed.line}: unparsed ({unparsed.reason})", highlight=False)


def _export_summary(parsed: Any) -> None:
    table = Table(title=f"{parsed.chat}", title_justify="left", show_header=False)
    table.add_row("messages", str(len(parsed.messages)))
    table.add_row("authors", ", ".join(sorted({m.author for m in parsed.messages if m.author})))
    table.add_row("layout", f"{parsed.layout}, {parsed.clock}, {parsed.date_order.value}")
    if parsed.messages:
        table.add_row("from", parsed.messages[0].sent_at.isoformat())
        table.add_row("to", parsed.messages[-1].sent_at.isoformat())
    table.add_row("unparsed lines", str(len(parsed.unparsed)))
    console.print(table)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="WhatsApp export (.txt or .zip).")],
    chat: Annotated[str | None, typer.Option(help="Chat name (default: from file).")] = None,
    tz: TzOption = None,
    date_order: Annotated[
        DateOrderChoice, typer.Option("--date-order", help="Force the date order.")
    ] = DateOrderChoice.AUTO,
    config: ConfigOption = None,
) -> None:
    """Parse, store and extract an exported chat; importing it again duplicates nothing."""
    from pipeline.extract import Extractor
    from pipeline.sources.whatsapp import DateOrder, parse_export
    from pipeline.storage import Store

    settings = _settings(config, tz)
    parsed = parse_export(
        file, chat=chat, tz=settings.timezone, date_order=DateOrder(date_order.value)
    )
    extractor = Extractor(settings)
    store = Store.open(settings.database_url)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )
    with (
        store.import_run(
            source="whatsapp-export", chat=parsed.chat, path=str(file), tenant=settings.tenant
        ) as counts,
        progress,
    ):
        task = progress.add_task(f"Importing {parsed.chat}", total=len(parsed.messages))
        counts.unparsed_lines = len(parsed.unparsed)
        results = extractor.extract_many(parsed.messages)
        for batch in _chunks(results, 500):
            counts.add(
                store.ingest(batch, extractor_version=extractor.version, tenant=settings.tenant)
            )
            progress.advance(task, len(batch))
    _import_summary(parsed, counts, store.counts(tenant=settings.tenant), settings)


def _chunks(iterable: Any, size: int) -> Iterator[list[Any]]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _import_summary(parsed: Any, counts: Any, totals: dict[str, int], settings: Settings) -> None:
    table = Table(title=f"Imported {parsed.chat}", title_justify="left")
    table.add_column("")
    table.add_column("this import", justify="right")
    table.add_column("in the database", justify="right")
    table.add_row(
        "messages", f"{counts.messages_seen} ({counts.messages_new} new)", str(totals["messages"])
    )
    table.add_row(
        "tasks & events",
        f"{counts.items_created} new, {counts.items_updated} updated,"
        f" {counts.items_removed} removed",
        "",
    )
    table.add_row("tasks", "", str(totals["tasks"]))
    table.add_row("events", "", str(totals["events"]))
    for priority in Priority:
        table.add_row(f"  {priority.value}", "", str(totals[priority.value]))
    table.add_row("unparsed lines", str(counts.unparsed_lines), "")
    console.print(table)
    for unparsed in parsed.unparsed[:10]:
        errors.print(
            f"  line {unparsed.line}: {unparsed.reason}: {unparsed.text[:60]!r}", highlight=False
        )
    console.print(f"Database: {settings.database_url}")


def _list_items(
    item_type: ItemType,
    status: StatusChoice,
    priority: Priority | None,
    assignee: str | None,
    chat: str | None,
    search: str | None,
    after: str | None,
    before: str | None,
    limit: int,
    fmt: Format,
    tz: str | None,
    config: Path | None,
) -> None:
    from pipeline import render
    from pipeline.storage import Store

    settings = _settings(config, tz)
    zone = parse_zone(settings.timezone)
    now = datetime.now(UTC)
    store = Store.open(settings.database_url)
    items = store.list_items(
        tenant=settings.tenant,
        type=item_type,
        status=None if status is StatusChoice.ALL else status.value,
        priority=priority,
        assignee=assignee,
        chat=chat,
        search=search,
        due_from=parse_at(after, zone, now) if after else None,
        due_to=parse_at(before, zone, now) if before else None,
        limit=limit,
    )
    if fmt is Format.TABLE:
        title = f"{item_type.value.capitalize()}s ({len(items)})"
        console.print(render.as_table(items, zone, title))
    elif fmt is Format.JSON:
        sys.stdout.write(render.as_json(items) + "\n")
    elif fmt is Format.CSV:
        sys.stdout.write(render.as_csv(items))
    else:
        sys.stdout.write(render.as_ics(items, zone))


StatusOption = Annotated[StatusChoice, typer.Option(help="Status to show.")]
PriorityOption = Annotated[Priority | None, typer.Option(help="Only this priority.")]
AssigneeOption = Annotated[str | None, typer.Option(help="Only this assignee.")]
ChatOption = Annotated[str | None, typer.Option(help="Only this chat.")]
SearchOption = Annotated[str | None, typer.Option(help="Title contains this text.")]
AfterOption = Annotated[str | None, typer.Option(help="Due/start at or after (ISO 8601).")]
BeforeOption = Annotated[str | None, typer.Option(help="Due/start before (ISO 8601).")]
LimitOption = Annotated[int, typer.Option(help="At most this many rows.")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _list_command(item_type: ItemType) -> Any:
    """The ``tasks`` and ``events`` commands: same filters, one item type each."""

    def command(
        status: StatusOption = StatusChoice.OPEN,
        priority: PriorityOption = None,
        assignee: AssigneeOption = None,
        chat: ChatOption = None,
        search: SearchOption = None,
        after: AfterOption = None,
        before: BeforeOption = None,
        limit: LimitOption = 100,
        fmt: FormatOption = Format.TABLE,
        tz: TzOption = None,
        config: ConfigOption = None,
    ) -> None:
        _list_items(
            item_type,
            status,
            priority,
            assignee,
            chat,
            search,
            after,
            before,
            limit,
            fmt,
            tz,
            config,
        )

    command.__doc__ = f"List stored {'tasks' if item_type is ItemType.TASK else 'calendar events'}."
    return command


app.command("tasks")(_list_command(ItemType.TASK))
app.command("events")(_list_command(ItemType.EVENT))


def _register_extensions() -> None:
    """Commands that live beside their code: ``train`` (models) and ``eval`` (harness)."""
    from connectors.calendar.commands import register as register_calendar
    from eval.commands import register as register_eval
    from pipeline.jobs.commands import register as register_jobs
    from pipeline.learn.commands import register as register_train
    from pipeline.service.commands import register as register_service
    from pipeline.sync.commands import register as register_sync

    register_train(app)
    register_eval(app)
    register_calendar(app)
    register_jobs(app)
    register_service(app)
    register_sync(app)


_register_extensions()
