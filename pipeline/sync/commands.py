"""``chat2task sync`` and ``chat2task connectors list|check``; ``pipeline.cli`` adds them with
:func:`register`.

``sync`` is the synchronous twin of the background jobs, for cron or a first bulk upload:
it marks what changed since the last push, pushes everything due and reports per connector.
"""

from __future__ import annotations

from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import catalogue
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline import registry
from pipeline.config import ConnectorSettings, Settings, load_settings
from pipeline.errors import ConfigError
from pipeline.sync import enabled_connectors

if TYPE_CHECKING:  # the storage layer and the connectors load only when a command runs
    from pipeline.sync.engine import Outcome

connectors_app = typer.Typer(
    help="The configured CRM connectors: list them, check them against the live API.",
    no_args_is_help=True,
)
console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (YAML); see data/config.example.yaml."),
]
ConnectorOption = Annotated[
    str | None, typer.Option("--connector", help="Only this connector (its name in the config).")
]


def register(app: typer.Typer) -> None:
    """Add ``sync`` and the ``connectors`` group to ``app``."""
    app.command("sync")(sync_command)
    app.add_typer(connectors_app, name="connectors")


def sync_command(
    connector: ConnectorOption = None,
    retry_dead: Annotated[
        bool, typer.Option("--retry-dead", help="Try the items that went dead again first.")
    ] = False,
    pull: Annotated[
        bool, typer.Option("--pull", help="Apply the CRMs' changes before pushing ours.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Push new and changed items to the CRMs now; exit 1 if any push went dead."""
    from pipeline.storage import Store, item_sync
    from pipeline.sync.engine import Outcome, SyncEngine

    settings = load_settings(config)
    _chosen(settings, connector)
    tenant = settings.tenant
    with Store.open(settings.database_url) as store:
        engine = SyncEngine(settings, store)
        names = [engine.connector(connector).name] if connector else list(engine.connectors)
        if retry_dead:
            for name in names:
                item_sync.revive_dead(store, tenant=tenant, connector=name)
        pulled = {name: engine.pull(tenant, name) for name in names} if pull else {}
        item_sync.mark_stale(store, tenant=tenant, connectors=names)
        outcomes = engine.push_due(tenant=tenant, connector=connector)
        dead = item_sync.list_dead(store, tenant=tenant, connector=connector)
    console.print(_outcome_table(outcomes, pulled))
    for row in dead:
        console.print(
            f"[red]dead[/red] item {row.item_id} → {row.connector}: {escape(row.last_error or '')}",
            highlight=False,
            soft_wrap=True,
        )
    if any(counts[Outcome.RETRYING] for counts in outcomes.values()):
        console.print(
            "Items waiting to retry go out when their backoff ends (next sync or worker)."
        )
    if any(counts[Outcome.DEAD] for counts in outcomes.values()):
        raise typer.Exit(1)


def _outcome_table(outcomes: dict[str, Counter[Outcome]], pulled: dict[str, int]) -> Table:
    from pipeline.sync.engine import Outcome

    table = Table(title="chat2task sync")
    table.add_column("connector")
    if pulled:
        table.add_column("pulled", justify="right")
    for outcome in Outcome:
        table.add_column(outcome.value, justify="right")
    for name, counts in outcomes.items():
        pulled_cells = [str(pulled[name])] if pulled else []
        table.add_row(name, *pulled_cells, *(str(counts[o]) for o in Outcome))
    return table


@connectors_app.command("list")
def list_command(config: ConfigOption = None) -> None:
    """The connectors in the config and the connector types installed."""
    settings = load_settings(config)
    types = installed_types()
    configured = Table(title="configured connectors")
    for column in ("name", "type", "enabled", "installed"):
        configured.add_column(column)
    for name, connector in settings.connectors.items():
        problem = types.get(connector.type, "unknown type")
        configured.add_row(
            name, connector.type, "yes" if connector.enabled else "no", escape(problem or "yes")
        )
    installed = Table(title="connector types")
    installed.add_column("type")
    installed.add_column("status")
    for name, problem in sorted(types.items()):
        installed.add_row(name, escape(problem or "installed"))
    console.print(configured if settings.connectors else "No connector configured.")
    console.print(installed)


@connectors_app.command("check")
def check_command(connector: ConnectorOption = None, config: ConfigOption = None) -> None:
    """Log in to each connector's live API and check the mapping against it; exit 1 on failure."""
    from connectors.base import create_connector
    from connectors.errors import ConnectorError

    settings = load_settings(config)
    chosen = _chosen(settings, connector)
    failed = False
    for name, connector_settings in chosen.items():
        try:
            built = create_connector(name, connector_settings)
            checked = built.call(built.check)
        except ConnectorError as exc:
            failed = True
            console.print(
                f"[red]✗[/red] {name}: {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            continue
        summary = escape(", ".join(checked) or "ok")
        console.print(f"[green]✓[/green] {name}: {summary}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _chosen(settings: Settings, name: str | None) -> dict[str, ConnectorSettings]:
    if name is None:
        chosen = {n: settings.connectors[n] for n in enabled_connectors(settings)}
        if not chosen:
            raise ConfigError("no connector is enabled: add one under `connectors:` in the config")
        return chosen
    if name not in settings.connectors:
        known = ", ".join(settings.connectors) or "none"
        raise ConfigError(f"no connector {name!r} in the config (configured: {known})")
    return {name: settings.connectors[name]}


def installed_types() -> dict[str, str | None]:
    """Connector types by name: ``None`` when usable, else what is missing.

    Entry points are loaded one by one so that one CRM's missing SDK does not hide the others.
    """
    in_process = catalogue.Registry(registry.connectors.namespace, entry_points=False)
    types: dict[str, str | None] = dict.fromkeys(in_process.get_all())
    for entry in entry_points(group=registry.connectors.entry_point_namespace):
        try:
            entry.load()
        except ImportError as exc:
            types[entry.name] = f'needs {exc.name}: pip install "chat2task[{entry.name}]"'
        else:
            types[entry.name] = None
    return types
