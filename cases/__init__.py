"""The shared case: customers, their identities, cases, interactions, transcripts and notes.

`cases.store.CaseStore` is the interface the rest of the server uses (async, committed
writes, events on a `cases.events.EventBus`); `cases.models` is the schema and
`cases/migrations` the Alembic history that creates it on SQLite or PostgreSQL.
"""
