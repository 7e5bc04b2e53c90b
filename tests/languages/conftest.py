"""The case store's fixtures (SQLite and PostgreSQL) for the language tests."""

from tests.cases.conftest import bus, clock, db_url, pg_database, store  # noqa: F401
