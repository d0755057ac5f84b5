"""Database fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL tests use a fresh database per test on the server at
``CHAT2TASK_TEST_POSTGRES_URL`` (default: local ``postgres`` user, trust auth). Without a
reachable server they are skipped, except on CI (``CI`` set), where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database (no schema) on each backend; the PostgreSQL one is dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'chat2task.db'}"
        return
    server: URL = request.getfixturevalue("postgres_server")
    name = f"chat2task_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    with Store.open(db_url) as opened:
        yield opened
