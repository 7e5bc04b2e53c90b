"""GDPR tests: the in-process ones run on SQLite and on PostgreSQL (`tests.helpers.databases`)."""

from __future__ import annotations

from tests.helpers.databases import database_fixtures

pg_database, db_url = database_fixtures("centralita_gdpr", "cases.db")
