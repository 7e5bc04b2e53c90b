"""The routing tables (SQLAlchemy Core), as the migrations in `cases/migrations` create them.

Routing shares the case database and its migration chain (revision 0003) but keeps its own
`MetaData`, so `routing` depends on `cases` for the engine and naming only. A test checks
these definitions and the migrations agree on SQLite and PostgreSQL.

Times are UNIX wall seconds (floats), as in `routing.model`. `routing_seq` has exactly one row
(id 1): `next_free` is the first place-in-line number nobody has reserved; it never decreases.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from cases.models import NAMING

metadata = MetaData(naming_convention=NAMING)

CALLBACK_STATES = ("waiting", "dialing", "done", "failed", "cancelled")
RECORD_KINDS = ("call", "callback")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


callbacks = Table(
    "routing_callbacks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("queue", String(100), nullable=False),
    Column("number", String(255), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("created_wall", Float, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("skills", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_wall", Float, nullable=False),
    Column("last_result", String(100), nullable=True),
    # No foreign key to cases: routing may one day live elsewhere, and a case id on a
    # callback is a hint for the screen pop, not an invariant.
    Column("case_id", Integer, nullable=True),
    Column("call_id", String(255), nullable=True),
    Column("updated_wall", Float, nullable=False),
    CheckConstraint(_one_of("state", CALLBACK_STATES), name="state"),
    Index("ix_routing_callbacks_state", "state"),
)

records = Table(
    "routing_records",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("queue", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("enqueued_wall", Float, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("left_wall", Float, nullable=True),
    Column("answered_wall", Float, nullable=True),
    Column("ended_wall", Float, nullable=True),
    Column("wrapup_s", Float, nullable=False),
    Column("agent_id", String(100), nullable=True),
    CheckConstraint(_one_of("kind", RECORD_KINDS), name="kind"),
    Index("ix_routing_records_queue_enqueued", "queue", "enqueued_wall"),
    Index("ix_routing_records_agent_id", "agent_id"),
)

queues = Table(
    "routing_queues",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("config", JSON, nullable=False),
    Column("updated_wall", Float, nullable=False),
)

agents = Table(
    "routing_agents",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("config", JSON, nullable=False),
    Column("updated_wall", Float, nullable=False),
)

seq = Table(
    "routing_seq",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("next_free", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)
