"""The whole schema of the server's one database: every package's own tables, named here.

Each package owns and defines its tables (`cases.models`, `routing.tables`,
`web.auth.tables`, `recordings.tables`); the Alembic revisions that create them form one chain
in `cases/migrations`, which imports none of those packages. Upgrading needs no table
definitions at all (each revision spells out its DDL); only comparing the database with the
models does (`alembic check`, `revision --autogenerate`), and for that the composition root,
which alone knows every package, hands the list over: `alembic_config()` here, or
`target_metadata = centralita.schema:METADATA` in `cases/migrations/alembic.ini` for the
`alembic` command line.
"""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import Engine, MetaData

import cases.db
from cases.models import Base
from recordings.tables import metadata as recordings_metadata
from routing.tables import metadata as routing_metadata
from web.auth.tables import metadata as auth_metadata

METADATA: tuple[MetaData, ...] = (
    Base.metadata, routing_metadata, auth_metadata, recordings_metadata,
)


def alembic_config(engine: Engine | None = None) -> Config:
    """`cases.db.alembic_config` with the whole schema as the target to compare against."""
    return cases.db.alembic_config(engine, target_metadata=METADATA)
