"""Throwaway PostgreSQL databases on the local server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import uuid

import psycopg

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


def _connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True,
        connect_timeout=3,
    )


def create_database(prefix: str) -> str:
    """A new uniquely named database; raises psycopg.OperationalError if unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _connect("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with _connect("postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_schema(name: str) -> str:
    """Reset `name` to an empty public schema; returns its URL."""
    with _connect(name) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url(name)


def url(name: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
