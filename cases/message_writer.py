"""Group commit for messages on SQLite: concurrent `store_message` calls share a transaction.

SQLite takes one writer at a time, and the case store runs its database work on one thread
(`cases.db.DbWorker`). With every message its own job on that thread, a burst of webhooks
queues one thread hand-off, one transaction and one commit (an fsync under
`synchronous=FULL`) per message, and the event loop waits on each. Here the messages that
arrive while a batch is being written wait for it to finish and then go together: one job,
one transaction, one commit for all of them. A message arriving at an idle store goes at once,
alone, so batching adds no delay; it only grows when writes are the bottleneck.

Nothing is acknowledged before its batch is committed. If a message in a batch fails (a bad
interaction id, a race on a unique key), the batch is rolled back whole; that message is then
stored alone, exactly as without batching, so its caller gets its own error (or, after a
race, its result), and the others go again together. Any other failure (the commit itself)
sends every message of the batch alone. A provider's retry is still stored once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from cases.db import DbWorker
from cases.messages import (
    BatchFailed,
    CheckedMessage,
    StoredMessage,
    store_batch,
    store_message,
)

# At most this many messages in one transaction, so one batch's commit stays short.
MAX_BATCH = 64


class MessageWriter:
    """Stores checked messages on `db`'s thread, batching those that arrive together."""

    def __init__(
        self, db: DbWorker, sessions: Callable[[], Session], now: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._now = now
        self._pending: list[tuple[CheckedMessage, asyncio.Future[StoredMessage]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def store(self, msg: CheckedMessage) -> StoredMessage:
        """`msg` stored and committed (see `cases.messages.store_message`)."""
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        self._pending.append((msg, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._write(batch)
        finally:
            self._drainer = None

    async def _write(
        self, batch: list[tuple[CheckedMessage, asyncio.Future[StoredMessage]]]
    ) -> None:
        try:
            if len(batch) > 1:
                try:
                    stored = await self._db.run(
                        store_batch, self._sessions, self._now, [m for m, _ in batch]
                    )
                except BatchFailed as failed:
                    # The ones before it go again together, it alone, then the rest.
                    k = failed.index
                    for part in (batch[:k], batch[k : k + 1], batch[k + 1 :]):
                        if part:
                            await self._write(part)
                    return
                except Exception:  # noqa: BLE001 - each message is tried alone just below
                    pass
                else:
                    for (_, future), result in zip(batch, stored, strict=True):
                        if not future.done():
                            future.set_result(result)
                    return
            for msg, future in batch:
                try:
                    result = await self._db.run(
                        functools.partial(store_message, self._sessions, self._now, msg)
                    )
                except Exception as exc:  # noqa: BLE001 - handed to its caller
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
        except BaseException:
            # Cancelled (the loop is closing): nobody will answer these callers.
            for _, future in batch:
                future.cancel()
            raise
