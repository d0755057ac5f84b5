"""Connecting to and migrating SQLite or PostgreSQL: every difference between the two is here.

The rest of the storage package writes dialect-neutral SQLAlchemy; only URL handling,
connection set-up, the ``INSERT ... ON CONFLICT`` construct and the migration lock differ.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pipeline.errors import StorageError

MIGRATIONS = Path(__file__).with_name("migrations")
#: Arbitrary but fixed: serialises concurrent ``migrate()`` calls on one PostgreSQL database.
_MIGRATION_LOCK = 0x63327461736B  # "c2task"
_PSYCOPG = "postgresql+psycopg"


def parse_url(url: str) -> URL:
    """Parse a database URL, picking psycopg 3 for bare ``postgresql://``/``postgres://`` URLs.

    SQLAlchemy would pick psycopg2 for those, which chat2task does not install.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            "The database URL is not valid: use sqlite:///path/to/chat2task.db or "
            "postgresql+psycopg://user:password@host:5432/database"
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername=_PSYCOPG)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(
            f"Unsupported database {redact(parsed)}: chat2task stores data in SQLite or PostgreSQL"
        )
    return parsed


def redact(url: URL) -> str:
    """The URL as it may appear in messages and logs: without its password."""
    return url.render_as_string(hide_password=True)


def connect(url: URL) -> Engine:
    """An engine with the per-database settings chat2task relies on."""
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    # No server-side prepared statements: after a few runs PostgreSQL switches them to a
    # generic plan that cannot hash long ``IN`` lists, making re-import lookups 30x slower.
    # (They would also break behind PgBouncer in transaction mode.)
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "prepare_threshold": None},
    )


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """WAL lets readers (a dashboard) work during an import; SQLite leaves foreign keys off.

    The driver's own transaction handling is switched off (see :func:`_begin_sqlite`).
    ``lower`` is replaced by Python's so case-insensitive search folds non-ASCII letters
    ("Über") as PostgreSQL does; SQLite's own only folds A-Z.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.isolation_level = None
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _begin_sqlite(connection: Connection) -> None:
    """Python's sqlite3 (before 3.12) never begins a transaction for DDL: a failed migration
    would leave half a schema. Emitting BEGIN ourselves makes every transaction real."""
    connection.exec_driver_sql("BEGIN")


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def connection_hint(url: URL) -> str:
    """What to check when a database cannot be opened."""
    if url.get_backend_name() == "sqlite":
        return "Check that the folder of the database file exists and is writable."
    return (
        "Check that the PostgreSQL server is running and reachable, that the database exists, "
        "and that CHAT2TASK_DATABASE_URL has the right user and password."
    )


def insert(connection: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """``INSERT`` with ``ON CONFLICT`` support: same API on both databases, separate classes."""
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def alembic_config(connection: Connection) -> Config:
    """Alembic configuration without an ``alembic.ini``: the scripts ship inside the package.

    To write a new revision, pass a connection to a database at head and call
    ``alembic.command.revision(alembic_config(conn), "message", autogenerate=True)``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision in one transaction."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        command.upgrade(alembic_config(connection), "head")
