"""The `users` and `api_tokens` tables (SQLAlchemy Core), as migration 0004 creates them.

Login shares the case database and its migration chain (cases/migrations, revision 0004) but
keeps its own `MetaData`, as `routing.tables` does: `web.auth` depends on `cases` for the
engine, the UTC type and the naming convention only. A test checks these definitions and the
migrations agree.

Passwords are kept as argon2id hashes and bearer tokens as SHA-256 digests: neither table
holds a usable secret.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, Integer, MetaData, String, Table

from cases.models import NAMING, UTCDateTime
from web.auth.roles import ROLE_LABELS

metadata = MetaData(naming_convention=NAMING)

_ROLE_CHECK = f"role IN ({', '.join(repr(label) for label in ROLE_LABELS)})"

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint(_ROLE_CHECK, name="role"),
)

# A user's own choices (web.auth.settings); apart from `users` so that choosing never changes
# `updated_at`, which ends a user's sessions.
user_settings = Table(
    "user_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("language", String(8), nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint(_ROLE_CHECK, name="role"),
)
