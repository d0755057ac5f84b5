"""``chat2task serve`` and ``chat2task keys``; ``pipeline.cli`` adds them with :func:`register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.config import load_settings
from pipeline.errors import InputError

keys_app = typer.Typer(help="API keys of the REST service.", no_args_is_help=True)
console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (YAML); see data/config.service.example.yaml."),
]


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` group to ``app``."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the JSON logs.")] = "INFO",
    config: ConfigOption = None,
) -> None:
    """Serve the webhooks, the REST API, /healthz and /metrics (Ctrl-C stops)."""
    from aiohttp import web

    from pipeline.service.app import create_app
    from pipeline.service.logging import AccessLogger, configure_logging

    settings = load_settings(config)
    configure_logging(log_level)
    web.run_app(
        create_app(settings),
        host=host or settings.service.host,
        port=port if port is not None else settings.service.port,
        access_log_class=AccessLogger,
        print=None,
    )


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key may act in.")],
    role: Annotated[str, typer.Option(help="admin, supervisor or agent.")],
    person: Annotated[
        str | None, typer.Option(help="Roster name whose tasks an agent key may see.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Label to tell keys apart.")] = None,
    config: ConfigOption = None,
) -> None:
    """Create a key and print it: this is the only time it is shown."""
    from pipeline.storage import Store
    from pipeline.storage.api_keys import Role, create_key

    if role not in set(Role):
        raise InputError(f"unknown role {role!r}: use admin, supervisor or agent")
    with Store.open(load_settings(config).database_url) as store:
        key, secret = create_key(
            store, tenant=tenant, role=Role(role), name=name or f"{role} key", person=person
        )
    typer.echo(secret)
    Console(stderr=True).print(
        f"Created key {key.id} ({key.prefix}…, {key.role}, tenant {key.tenant}). "
        "Store it now: it cannot be shown again.",
        highlight=False,
    )


@keys_app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    config: ConfigOption = None,
) -> None:
    """The keys (never their secrets), revoked ones marked; tab-separated for scripts."""
    from pipeline.storage import Store
    from pipeline.storage.api_keys import list_keys

    with Store.open(load_settings(config).database_url) as store:
        found = list_keys(store, tenant=tenant)
    typer.echo(
        "\t".join(("id", "tenant", "name", "prefix", "role", "person", "created", "revoked"))
    )
    for key in found:
        row = (
            str(key.id),
            key.tenant,
            key.name,
            key.prefix + "…",
            key.role.value,
            key.person or "-",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-",
        )
        typer.echo("\t".join(row))


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (see `chat2task keys list`).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key at once: requests with it get 401 from now on."""
    from pipeline.storage import Store
    from pipeline.storage.api_keys import revoke_key

    with Store.open(load_settings(config).database_url) as store:
        if not revoke_key(store, key_id):
            raise InputError(f"there is no live key {key_id}: see `chat2task keys list`")
    console.print(f"Revoked key {key_id}.")
