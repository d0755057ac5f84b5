"""Alembic environment for chat2task.

Migrations run only on the connection that :func:`pipeline.storage.engine.upgrade` hands
over, inside its transaction; there is no ``alembic.ini`` and no offline mode.
"""

from alembic import context

from pipeline.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run chat2task migrations through pipeline.storage.Store.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: later revisions must copy-and-move tables.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
