"""Alembic environment for the case schema.

The store runs migrations itself (`cases.db.upgrade`) and hands over its open connection in
`config.attributes["connection"]`. From the command line (`alembic -c cases/migrations/alembic.ini
...` with `-x url=...`) an engine is made from the URL instead. Logging is left alone: the
server has configured it already.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cases.db import make_engine
from cases.models import Base
from recordings.tables import metadata as recordings_metadata
from routing.tables import metadata as routing_metadata
from web.auth.tables import metadata as auth_metadata

config = context.config
# Routing's tables (0003 on) and login's users and tokens (0004) share this database and this
# chain of revisions.
target_metadata = [Base.metadata, routing_metadata, auth_metadata, recordings_metadata]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database with -x url=sqlite:///path/to/cases.db")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run against a database")
run_migrations_online()
