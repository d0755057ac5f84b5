"""``chat2task worker`` and ``chat2task jobs dead|retry-dead``; ``pipeline.cli`` adds them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings, load_settings
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.notify.templates import load_templates
from pipeline.storage import Store, dead_jobs

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (YAML); see data/config.example.yaml."),
]
KindOption = Annotated[str | None, typer.Option("--kind", help="Only jobs of this kind.")]

jobs_app = typer.Typer(help="Inspect and retry background jobs that failed for good.")


def register(app: typer.Typer) -> None:
    """Add ``worker`` and ``jobs`` to ``app``."""
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")


def open_queue(settings: Settings) -> JobQueue:
    """A queue with every job kind registered, reachable by handlers through the context."""
    import pipeline.jobs.kinds  # noqa: F401  (registers the job kinds)

    context = JobContext(settings, Store.open(settings.database_url))
    queue = JobQueue(context)
    context.service("queue", lambda: queue)
    return queue


def worker(
    config: ConfigOption = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker threads (default: queue.workers, or 1)."),
    ] = None,
) -> None:
    """Run background jobs (extraction, replies, reminders, CRM sync) until stopped."""
    settings = load_settings(config)
    load_templates(settings)  # a broken template fails now, not on the first reply
    open_queue(settings).run_worker(workers or settings.queue.workers or 1)


@jobs_app.command("dead")
def list_dead(config: ConfigOption = None, kind: KindOption = None) -> None:
    """List jobs that failed for good, with their reason."""
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        found = dead_jobs.list_dead(store, tenant=settings.tenant, kind=kind)
    table = Table("id", "kind", "attempts", "failed at", "error", title=f"{len(found)} dead jobs")
    for dead in found:
        table.add_row(
            str(dead.id),
            dead.kind,
            str(dead.attempts),
            f"{dead.failed_at:%Y-%m-%d %H:%M}",
            dead.error,
        )
    Console().print(table)


@jobs_app.command("retry-dead")
def retry_dead(config: ConfigOption = None, kind: KindOption = None) -> None:
    """Queue the dead jobs again (once their cause is fixed)."""
    settings = load_settings(config)
    count = open_queue(settings).retry_dead(kind=kind, tenant=settings.tenant)
    Console().print(f"{count} dead job(s) queued again.")
