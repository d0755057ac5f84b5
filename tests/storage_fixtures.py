"""Database fixtures: the storage, service and messaging tests run on SQLite and on PostgreSQL.

PostgreSQL tests use a fresh database per test on the server at
``CHAT2TASK_TEST_POSTGRES_URL`` (default: local ``postgres`` user, trust auth). Without a
reachable server they are skipped, except on CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from pipeline.storage import Store

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_server() -> URL:
    """The maintenance database URL of a reachable PostgreSQL server."""
    url = make_url(os.environ.get("CHAT2TASK_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        engine.connect().close()
    except SQLAlchemyError as exc:
        where = url.render_as_string(hide_password=True)
        message = f"PostgreSQL not reachable at {where}: {getattr(exc, 'orig', None) or exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@contextmanager
def postgres_database(server: URL, template: str | None = None) -> Iterator[str]:
    """A new database on ``server`` (a copy of ``template`` if given), dropped after."""
    name = f"chat2task_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database (no schema) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'chat2task.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    with Store.open(db_url) as opened:
        yield opened


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, migrated once: tests copy it (migrating per test
    would cost a third of a second each)."""
    path = tmp_path_factory.mktemp("template") / "chat2task.db"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: URL) -> Iterator[str]:
    """A PostgreSQL database at the newest schema, migrated once, for ``CREATE DATABASE …
    TEMPLATE``."""
    with postgres_database(postgres_server) as url:
        Store.open(url).close()
        yield make_url(url).database or ""


@pytest.fixture(params=BACKENDS)
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest schema on each backend, in its own folder or database (a
    test may remove the SQLite folder to take the database away)."""
    if request.param == "sqlite":
        database = tmp_path / "db" / "chat2task.db"
        database.parent.mkdir()
        shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
        yield f"sqlite:///{database}"
        return
    server: URL = request.getfixturevalue("postgres_server")
    with postgres_database(server, template=request.getfixturevalue("postgres_template")) as url:
        yield url
