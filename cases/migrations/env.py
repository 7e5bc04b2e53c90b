"""Alembic environment for the server's database (the case store and its neighbours).

The store runs migrations itself (`cases.db.upgrade`) and hands over its open connection in
`config.attributes["connection"]`. From the command line (`alembic -c cases/migrations/alembic.ini
...` with `-x url=...`) an engine is made from the URL instead. Logging is left alone: the
server has configured it already.

One chain of revisions creates every package's tables (routing's from 0003, login's users and
tokens from 0004, recordings' from 0010), each revision with its own DDL, so upgrading imports
no package's models and this file imports nothing above `cases` (DESIGN.md). Comparing the
database with the models (`alembic check`, `revision --autogenerate`) needs every package's
tables: the caller passes them in `config.attributes["target_metadata"]`
(`centralita.schema.alembic_config()`), or the ini file names them as `module:attribute`
(`target_metadata = centralita.schema:METADATA`), imported only then.
"""

from __future__ import annotations

import importlib
from typing import Any

from alembic import context
from sqlalchemy import Connection

from cases.db import make_engine

config = context.config


def _target_metadata() -> Any:
    """The tables to compare against: given by the caller, named in the ini file, or none."""
    given = config.attributes.get("target_metadata")
    if given is not None:
        return given
    named = config.get_main_option("target_metadata")
    if not named:
        return None
    module, _, attribute = named.partition(":")
    if not module or not attribute:
        raise SystemExit(f"target_metadata: want module:attribute, got {named!r}")
    found = getattr(importlib.import_module(module), attribute)
    return list(found) if isinstance(found, (list, tuple)) else found


# The full-text search structures of migration 0015 (cases.transcript_search) have no model:
# the SQLite FTS5 table with its shadow tables, the PostgreSQL expression index.
_UNMODELLED = ("transcript_fts", "ix_transcript_segments_fts")


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (name or "").startswith(_UNMODELLED)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_target_metadata(),
        include_name=_include_name,
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
