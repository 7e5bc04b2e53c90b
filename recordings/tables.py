"""The `recordings` and `recording_audit` tables (SQLAlchemy Core), as migrations
0010_recordings and 0011_recording_lifecycle make them.

Recordings share the case database and its migration chain (as `routing.tables` does) but
keep their own `MetaData`. Times are UNIX wall seconds; `paused_spans` is a JSON list of
{"start", "end", "by"} in seconds of the file; `location` is the storage's key (for the
filesystem, the path below the recordings root). `codec` is 'wav' until the file is
compressed ('opus'); `deleted_wall` is set when retention (or an admin) removed the file, the
row staying behind; `held` blocks retention.

`recording_audit` has one row per access to a recording or refusal: who (user or token name,
role), what (action, recording or interaction id), when, the result and the HTTP status.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    false,
)

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
    Column("codec", String(16), nullable=False, server_default="wav"),
    Column("size_bytes", BigInteger, nullable=True),
    Column("queue", String(100), nullable=True),
    Column("agent", String(100), nullable=True),
    Column("held", Boolean, nullable=False, server_default=false()),
    Column("held_by", String(100), nullable=True),
    Column("held_wall", Float, nullable=True),
    Column("deleted_wall", Float, nullable=True),
    Column("deleted_reason", String(32), nullable=True),
    CheckConstraint(
        "status IN ('recording', 'complete', 'interrupted', 'failed')", name="status"),
    Index("ix_recordings_interaction_id", "interaction_id"),
    Index("ix_recordings_status", "status"),
    Index("ix_recordings_started_wall", "started_wall"),
)

recording_audit = Table(
    "recording_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_wall", Float, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("recording_id", String(64), nullable=True),
    Column("interaction_id", Integer, nullable=True),
    Column("result", String(16), nullable=False),
    Column("status", Integer, nullable=False),
    Index("ix_recording_audit_recording_id", "recording_id"),
    Index("ix_recording_audit_at_wall", "at_wall"),
)

POSTCALL_STATUSES = ("queued", "running", "done", "failed")

# The post-call accuracy pass's queue (recordings.postcall_queue), migration 0016: one job per
# recording. A 'running' job whose `lease_until` passed (its process died) is claimed again.
# `audio_s`, `cpu_s`, `wall_s`: what the pass measured (its real-time factor).
postcall_jobs = Table(
    "postcall_jobs",
    metadata,
    Column("recording_id", String(64), primary_key=True),
    Column("interaction_id", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("model", String(200), nullable=True),
    Column("language", String(8), nullable=True),
    Column("queued_wall", Float, nullable=False),
    Column("started_wall", Float, nullable=True),
    Column("finished_wall", Float, nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("owner", String(64), nullable=True),
    Column("error", String(200), nullable=True),
    Column("segments", Integer, nullable=True),
    Column("audio_s", Float, nullable=True),
    Column("cpu_s", Float, nullable=True),
    Column("wall_s", Float, nullable=True),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    Index("ix_postcall_jobs_status", "status", "queued_wall"),
)
