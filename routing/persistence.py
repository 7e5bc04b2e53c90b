"""The routing store's database half: callbacks, queue records, API-made configs, `seq` blocks.

`SqlRoutingPersistence` is what `MemoryRoutingStore` writes through to. It owns its own
SQLAlchemy engine (`cases.db.make_engine`, the cases' database and migration chain) and one
worker thread, so the event loop never waits on the database and writes reach it in the
order they were made. Every write is committed before its coroutine returns (on SQLite in
WAL mode with `synchronous=FULL`, see `cases.db`): a callback acknowledged to the caller
survives `kill -9`.

Phone numbers are personal data (STYLE.md §12): SQLAlchemy errors become `StoreError` with
the error's class name only, and the engine hides statement parameters in the chained cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cases.db import DbWorker
from routing import tables
from routing.model import Callback, CallbackState, QueueRecord
from routing.store import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
WallClock = Callable[[], float]
CasResult = Literal["updated", "mismatch", "missing"]

PENDING = (CallbackState.WAITING, CallbackState.DIALING)
# Set on a callback whose dial died with the process (see `load_pending`).
INTERRUPTED = "interrupted"


def callback_row(cb: Callback, updated: float) -> dict[str, Any]:
    return {
        "id": cb.id, "queue": cb.queue, "number": cb.number, "seq": cb.seq,
        "created_wall": cb.created_wall, "priority": cb.priority, "skills": list(cb.skills),
        "state": cb.state.value, "attempts": cb.attempts,
        "next_attempt_wall": cb.next_attempt_wall, "last_result": cb.last_result,
        "case_id": cb.case_id, "call_id": cb.call_id, "updated_wall": updated,
    }


def callback_from_row(row: Any) -> Callback:
    return Callback(
        id=row.id, queue=row.queue, number=row.number, seq=row.seq,
        created_wall=row.created_wall, priority=row.priority, skills=tuple(row.skills),
        state=CallbackState(row.state), attempts=row.attempts,
        next_attempt_wall=row.next_attempt_wall, last_result=row.last_result,
        case_id=row.case_id, call_id=row.call_id,
    )


def record_row(rec: QueueRecord) -> dict[str, Any]:
    return {
        "id": rec.id, "queue": rec.queue, "kind": rec.kind, "enqueued_wall": rec.enqueued_wall,
        "outcome": rec.outcome, "left_wall": rec.left_wall, "answered_wall": rec.answered_wall,
        "ended_wall": rec.ended_wall, "wrapup_s": rec.wrapup_s, "agent_id": rec.agent_id,
    }


def record_from_row(row: Any) -> QueueRecord:
    return QueueRecord(
        id=row.id, queue=row.queue, kind=row.kind, enqueued_wall=row.enqueued_wall,
        outcome=row.outcome, left_wall=row.left_wall, answered_wall=row.answered_wall,
        ended_wall=row.ended_wall, wrapup_s=row.wrapup_s, agent_id=row.agent_id,
    )


class SqlRoutingPersistence:
    """Durable routing data on SQLite or PostgreSQL (async API, one worker thread).

    Create with `await SqlRoutingPersistence.open(url)`; `await close()` when done. `now` is
    the wall clock stamped on `updated_wall` columns (UNIX seconds).
    """

    def __init__(self, db: DbWorker, now: WallClock) -> None:
        self._db = db
        self._engine = db.engine
        self._now = now

    @classmethod
    async def open(cls, url: str, *, now: WallClock) -> SqlRoutingPersistence:
        """Connect to `url` (`sqlite:///path` or `postgresql://...`) and migrate to head."""
        db = await DbWorker.open_migrated(
            url,
            # One thread: SQLite has one writer anyway, and writes land in the order they
            # were made (an `update_record` never overtakes its `add_record`).
            workers=1,
            thread_name="routing-db",
            name="the routing store",
            error=StoreError,
            # Error messages then carry no statement parameters (phone numbers).
            hide_parameters=True,
        )
        log.info("routing persistence open (%s, schema at head)", db.engine.dialect.name)
        return cls(db, now)

    async def close(self) -> None:
        """Finish queued writes, then release connections. Idempotent."""
        await self._db.close()

    def _tx(self, fn: Callable[[Connection], T]) -> Callable[[], T]:
        def run() -> T:
            with self._engine.begin() as conn:
                return fn(conn)

        return run

    # -- place in line ---------------------------------------------------------------------

    async def reserve_seq(self, count: int) -> int:
        """Reserve `count` consecutive numbers; returns the first. Atomic across processes:
        the UPDATE locks the one row (PostgreSQL) or the database (SQLite) until commit."""

        def reserve(conn: Connection) -> int:
            conn.execute(
                update(tables.seq)
                .where(tables.seq.c.id == 1)
                .values(next_free=tables.seq.c.next_free + count)
            )
            end = conn.execute(select(tables.seq.c.next_free).where(tables.seq.c.id == 1)).scalar_one()
            return int(end) - count

        return await self._db.run(self._tx(reserve))

    # -- callbacks -------------------------------------------------------------------------

    async def insert_callback(self, cb: Callback) -> bool:
        """False (nothing written) if a callback with this id is stored already."""
        return await self._db.run(self._insert_new(tables.callbacks, callback_row(cb, self._now())))

    def _insert_new(self, table: Table, row: dict[str, Any]) -> Callable[[], bool]:
        # Checked first so a duplicate is a plain answer; two processes inserting the same
        # id at once still end in an IntegrityError (StoreError), never in two rows.
        def insert(conn: Connection) -> bool:
            if conn.execute(select(table.c.id).where(table.c.id == row["id"])).first():
                return False
            conn.execute(table.insert().values(row))
            return True

        return self._tx(insert)

    async def update_callback(
        self, cb: Callback, expect: Collection[CallbackState] | None
    ) -> CasResult:
        """Write `cb` over the stored row if its state is in `expect` (any, if None)."""
        row = callback_row(cb, self._now())
        del row["id"]
        table = tables.callbacks

        def write(conn: Connection) -> CasResult:
            stmt = update(table).where(table.c.id == cb.id).values(row)
            if expect is not None:
                stmt = stmt.where(table.c.state.in_([s.value for s in expect]))
            if conn.execute(stmt).rowcount:
                return "updated"
            exists = conn.execute(select(table.c.id).where(table.c.id == cb.id)).first()
            return "mismatch" if exists else "missing"

        return await self._db.run(self._tx(write))

    async def callback(self, callback_id: str) -> Callback | None:
        table = tables.callbacks

        def read(conn: Connection) -> Callback | None:
            row = conn.execute(select(table).where(table.c.id == callback_id)).first()
            return None if row is None else callback_from_row(row)

        return await self._db.run(self._tx(read))

    async def callbacks(
        self, states: Collection[CallbackState] | None, queue: str | None
    ) -> list[Callback]:
        table = tables.callbacks
        stmt = select(table).order_by(table.c.seq)
        if states is not None:
            stmt = stmt.where(table.c.state.in_([s.value for s in states]))
        if queue is not None:
            stmt = stmt.where(table.c.queue == queue)
        return await self._db.run(
            self._tx(lambda conn: [callback_from_row(r) for r in conn.execute(stmt)])
        )

    async def load_pending(self) -> list[Callback]:
        """Pending callbacks in `seq` order, DIALING ones first put back to WAITING with
        `last_result="interrupted"`: their dial died with the previous process."""
        table = tables.callbacks
        now = self._now()

        def load(conn: Connection) -> list[Callback]:
            conn.execute(
                update(table)
                .where(table.c.state == CallbackState.DIALING.value)
                .values(state=CallbackState.WAITING.value, last_result=INTERRUPTED,
                        updated_wall=now)
            )
            stmt = (
                select(table)
                .where(table.c.state.in_([s.value for s in PENDING]))
                .order_by(table.c.seq)
            )
            return [callback_from_row(r) for r in conn.execute(stmt)]

        return await self._db.run(self._tx(load))

    # -- records ---------------------------------------------------------------------------

    async def insert_record(self, rec: QueueRecord) -> bool:
        """False (nothing written) if a record with this id is stored already."""
        return await self._db.run(self._insert_new(tables.records, record_row(rec)))

    async def update_record(self, rec: QueueRecord) -> bool:
        """False when no record has `rec.id`."""
        row = record_row(rec)
        del row["id"]
        table = tables.records
        stmt = update(table).where(table.c.id == rec.id).values(row)
        return await self._db.run(self._tx(lambda conn: bool(conn.execute(stmt).rowcount)))

    async def records(
        self, queue: str | None, agent: str | None, since: float | None, until: float | None
    ) -> list[QueueRecord]:
        table = tables.records
        stmt = select(table).order_by(table.c.enqueued_wall, table.c.id)
        if queue is not None:
            stmt = stmt.where(table.c.queue == queue)
        if agent is not None:
            stmt = stmt.where(table.c.agent_id == agent)
        if since is not None:
            stmt = stmt.where(table.c.enqueued_wall >= since)
        if until is not None:
            stmt = stmt.where(table.c.enqueued_wall < until)
        return await self._db.run(
            self._tx(lambda conn: [record_from_row(r) for r in conn.execute(stmt)])
        )

    # -- configs made through the API --------------------------------------------------------

    async def put_config(self, table: Table, key: str, config: dict[str, Any]) -> None:
        """Insert or replace the config under `key` (one statement: no race between nodes)."""
        (key_column,) = table.primary_key.columns
        values = {key_column.name: key, "config": config, "updated_wall": self._now()}
        dialect = self._engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key_column],
            set_={"config": stmt.excluded.config, "updated_wall": stmt.excluded.updated_wall},
        )
        await self._db.run(self._tx(lambda conn: conn.execute(stmt)))

    async def delete_config(self, table: Table, key: str) -> bool:
        (key_column,) = table.primary_key.columns
        stmt = delete(table).where(key_column == key)
        return await self._db.run(self._tx(lambda conn: bool(conn.execute(stmt).rowcount)))

    async def configs(self, table: Table) -> dict[str, dict[str, Any]]:
        (key_column,) = table.primary_key.columns
        stmt = select(key_column, table.c.config).order_by(key_column)
        rows: Iterable[Any] = await self._db.run(self._tx(lambda conn: conn.execute(stmt).all()))
        return {row[0]: row[1] for row in rows}
