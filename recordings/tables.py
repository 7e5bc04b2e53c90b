"""The `recordings` table (SQLAlchemy Core), as migration 0010_recordings creates it.

Recordings share the case database and its migration chain (as `routing.tables` does) but
keep their own `MetaData`. Times are UNIX wall seconds; `paused_spans` is a JSON list of
{"start", "end", "by"} in seconds of the file; `location` is the storage's key (for the
filesystem, the path below the recordings root).
"""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, Float, Index, Integer, MetaData, String, Table

from cases.models import NAMING

metadata = MetaData(naming_convention=NAMING)

STATUSES = ("recording", "complete", "interrupted", "failed")

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_id", String(255), nullable=False),
    Column("interaction_id", Integer, nullable=True),
    Column("location", String(1024), nullable=False),
    Column("channels", Integer, nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("started_wall", Float, nullable=False),
    Column("ended_wall", Float, nullable=True),
    Column("duration", Float, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("paused_spans", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", String(100), nullable=True),
    CheckConstraint(
        "status IN ('recording', 'complete', 'interrupted', 'failed')", name="status"),
    Index("ix_recordings_interaction_id", "interaction_id"),
    Index("ix_recordings_status", "status"),
)
