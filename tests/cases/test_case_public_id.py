"""Migration 0005 gives every existing case a random public id (SQLite and PostgreSQL), and
new cases get one as they are opened."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from cases.db import alembic_config, make_engine, upgrade


def test_existing_cases_get_distinct_public_ids(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
            connection.execute(text(
                "INSERT INTO customers (id, created_at) VALUES (1, '2025-03-01T09:00:00+00:00')"))
            for case_id, status in ((1, "closed"), (2, "closed"), (3, "open")):
                connection.execute(text(
                    "INSERT INTO cases (id, customer_id, status, created_at, updated_at) "
                    "VALUES (:id, 1, :status, '2025-03-01T09:00:00+00:00', "
                    "'2025-03-01T09:00:00+00:00')"), {"id": case_id, "status": status})
        upgrade(engine)
        with engine.connect() as connection:
            ids = [row[0] for row in connection.execute(
                text("SELECT public_id FROM cases ORDER BY id"))]
        assert len(ids) == 3 and len(set(ids)) == 3, ids
        assert all(isinstance(i, str) and len(i) == 16 and not i.isdigit() for i in ids), ids
    finally:
        engine.dispose()
