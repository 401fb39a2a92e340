"""Alembic environment. ForkFlow hands in its own connection (see `store.Store.migrate`);
the `alembic` command line, used to write new revisions, connects from FORKFLOW_DATABASE_URL.

Foreign keys are ON while migrations run: never rebuild (batch-alter) a table that others
reference with ON DELETE CASCADE, since SQLite's DROP TABLE would cascade. Add columns and
indexes instead."""

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from forkflow.schema import metadata


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = (
        os.environ.get("FORKFLOW_DATABASE_URL", "sqlite:///forkflow.db")
        .replace("+aiosqlite", "")
        .replace("+asyncpg", "+psycopg")
    )
    with create_engine(url).begin() as conn:
        run(conn)
