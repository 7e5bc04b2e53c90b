"""`Gdpr`: export everything held about one customer as one archive, or erase all of it and
leave an audit row without personal data (`cases.models.Erasure`).

    erase(customer_id, actor)
      0. every holder that can refuse is asked (`check`): a refusal erases nothing
      1. the `erasures` row is written ("erasing", who, when), with the subject read from
         the case rows (`cases.gdpr_rows.find_subject`)
      2. each registered `Holder` erases its part (files, recordings, callbacks, Redis,
         indexes), each in its own transaction; the counts are added to the row as they come
      3. the case rows go, and the row becomes "erased", in one transaction

A store that fails or refuses (`ErasureRefused`) stops the run before the case rows are
touched: everything it needs is still there, and `erase` again finishes the job (each holder
finds nothing left of what it already erased). Erasing an erased customer returns its audit.

The holders run in the order they were registered; the case rows are always last. A package
with a table of its own in the case database (QA reviews, a search index) adds it with
`add_table(CaseTable(...))`: its `erase` runs in the case rows' transaction, before them, and
its `read` adds its rows to the export.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from cases import gdpr_rows
from cases.db import DbWorker
from cases.errors import NotFound, StorageError
from cases.gdpr import Archive, Holder, Subject
from cases.models import Erasure

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

README = """\
This archive holds everything the contact center stored about one person, by store:
cases/<table>.json    the rows of each table (customers, identities, cases, interactions,
                      transcript segments, IVR inputs, messages, notes, facts, ...)
<store>/...           the other stores' rows and files (recordings, attachments, callbacks)
Times are UTC.
"""


@dataclass(frozen=True)
class CaseTable:
    """Rows about a subject in a table of the case database that `cases.gdpr_rows` does not
    know: `erase(connection, subject)` deletes them (how many), inside the transaction that
    deletes the case rows and before them; `read` gives them for the export."""

    name: str
    erase: Callable[[Connection, Subject], int]
    read: Callable[[Connection, Subject], list[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class ErasureRecord:
    """One erasure's audit: no personal data, only the (gone) customer row id and counts."""

    customer_id: int
    actor: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "actor": self.actor, "state": self.state,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "counts": dict(self.counts)}


def _record(row: Erasure) -> ErasureRecord:
    return ErasureRecord(row.customer_id, row.actor, row.state, row.started_at,
                         row.finished_at, dict(row.counts or {}))


def _add(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    out = dict(counts)
    for key, n in more.items():
        out[key] = out.get(key, 0) + int(n)
    return out


class Gdpr:
    """Export and erasure over the case database and the registered holders.

    `await Gdpr.open(url, now=clock)`; `register(holder)` for each other store; `close()`.
    """

    def __init__(self, db: DbWorker, now: Clock, holders: Iterable[Holder] = ()) -> None:
        self._db = db
        self._now = now
        self.holders: list[Holder] = list(holders)
        self.tables: list[CaseTable] = []
        # One erasure or export of a customer at a time in this process.
        self._locks: dict[int, asyncio.Lock] = {}

    @classmethod
    async def open(cls, url: str, *, now: Clock) -> Gdpr:
        db = await DbWorker.open_migrated(
            url, workers=1, thread_name="gdpr-db", name="the GDPR store",
            error=StorageError, hide_parameters=True)
        return cls(db, now)

    def register(self, holder: Holder) -> None:
        """Add a store holding personal data; its names must be new."""
        if any(h.name == holder.name for h in self.holders):
            raise ValueError(f"a holder named {holder.name!r} is already registered")
        self.holders.append(holder)

    def add_table(self, table: CaseTable) -> None:
        """Add a table of the case database to export and erase with the case rows."""
        if any(t.name == table.name for t in self.tables):
            raise ValueError(f"a table named {table.name!r} is already added")
        self.tables.append(table)

    async def close(self) -> None:
        await self._db.close()

    def _lock(self, customer_id: int) -> asyncio.Lock:
        return self._locks.setdefault(customer_id, asyncio.Lock())

    async def subject(self, customer_id: int) -> Subject:
        """The person behind `customer_id`; `NotFound` if there is no such customer."""
        return await self._db.run(self._read, gdpr_rows.find_subject, customer_id)

    def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        with Session(self._db.engine) as session:
            return fn(session, *args)

    def _rows(self, session: Session, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        rows = gdpr_rows.read_rows(session, subject)
        for table in self.tables:
            if table.read is not None:
                rows[table.name] = table.read(session.connection(), subject)
        return rows

    # -- export ------------------------------------------------------------------------------

    async def export(self, customer_id: int, path: Path) -> list[str]:
        """Write the archive of `customer_id` to `path` (zip, 0600); the names it holds."""
        async with self._lock(customer_id):
            subject = await self.subject(customer_id)
            rows = await self._db.run(self._read, self._rows, subject)
            archive = await asyncio.to_thread(Archive, path)
            try:
                await asyncio.to_thread(archive.add_bytes, "README.txt", README.encode())
                for table, found in rows.items():
                    await asyncio.to_thread(archive.add_json, f"cases/{table}.json", found)
                for holder in self.holders:
                    await holder.export(subject, archive)
            finally:
                await asyncio.to_thread(archive.close)
        log.info("customer %d exported: %d entries", customer_id, len(archive.names))
        return archive.names

    # -- erase -------------------------------------------------------------------------------

    async def erasure(self, customer_id: int) -> ErasureRecord | None:
        """The audit of `customer_id`'s erasure, None if none was started."""
        return await self._db.run(self._erasure, customer_id)

    def _erasure(self, customer_id: int) -> ErasureRecord | None:
        with Session(self._db.engine) as session:
            row = session.scalar(select(Erasure).where(Erasure.customer_id == customer_id))
            return None if row is None else _record(row)

    async def erase(self, customer_id: int, *, actor: str) -> ErasureRecord:
        """Erase everything held about `customer_id` (see the module docstring). `NotFound`
        if there is no such customer and no erasure of it; `ErasureRefused` (or a store's
        error) if a store could not erase, the case rows then untouched."""
        async with self._lock(customer_id):
            done = await self.erasure(customer_id)
            if done is not None and done.state == "erased":
                return done
            # Asked before anything is written: a refusal leaves no trace at all.
            found = await self.subject(customer_id)
            for holder in self.holders:
                check = getattr(holder, "check", None)
                if check is not None:
                    await check(found)
            begun = await self._db.run(self._begin, customer_id, actor[:100])
            if isinstance(begun, ErasureRecord):
                return begun  # erased meanwhile (another process)
            subject = begun
            for holder in self.holders:
                counts = await holder.erase(subject)
                await self._db.run(self._count, customer_id, counts)
            record: ErasureRecord = await self._db.run(self._finish, subject)
            if self._db.engine.dialect.name == "sqlite":
                await self._db.run(self._checkpoint)
        log.info("customer %d erased: %d rows and files", customer_id,
                 sum(record.counts.values()))
        return record

    def _begin(self, customer_id: int, actor: str) -> Subject | ErasureRecord:
        with Session(self._db.engine, expire_on_commit=False) as session, session.begin():
            row = session.scalar(select(Erasure).where(Erasure.customer_id == customer_id))
            if row is not None and row.state == "erased":
                return _record(row)
            subject = gdpr_rows.find_subject(session, customer_id)  # NotFound: none
            if row is None:
                session.add(Erasure(customer_id=customer_id, actor=actor, state="erasing",
                                    started_at=self._now(), finished_at=None, counts={}))
            return subject

    def _count(self, customer_id: int, counts: dict[str, int]) -> None:
        with Session(self._db.engine) as session, session.begin():
            row = session.scalar(select(Erasure).where(Erasure.customer_id == customer_id))
            if row is None:
                raise NotFound("erasure", customer_id)
            row.counts = _add(row.counts or {}, counts)

    def _finish(self, subject: Subject) -> ErasureRecord:
        with Session(self._db.engine, expire_on_commit=False) as session, session.begin():
            row = session.scalar(
                select(Erasure).where(Erasure.customer_id == subject.customer_id))
            if row is None:
                raise NotFound("erasure", subject.customer_id)
            if session.get_bind().dialect.name == "sqlite":
                # Freed pages are zeroed: the file's bytes no longer hold the values.
                session.execute(text("PRAGMA secure_delete = ON"))
            counts = {f"cases.{t.name}": int(t.erase(session.connection(), subject))
                      for t in self.tables}
            counts.update(gdpr_rows.delete_rows(session, subject))
            row.counts = _add(row.counts or {}, counts)
            row.state, row.finished_at = "erased", self._now()
            session.flush()
            return _record(row)

    def _checkpoint(self) -> None:
        """Move the zeroed pages into the database file and empty the write-ahead log, which
        still holds the erased rows' earlier versions."""
        with self._db.engine.connect() as conn:
            busy = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).first()
            conn.commit()
        if busy is not None and busy[0]:
            log.warning("erasure: the write-ahead log could not be truncated now (busy)")
