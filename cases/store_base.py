"""What every part of the case store stands on: the database worker, sessions, the clock, the
identity parser and the event bus (`StoreBase`), and the small types its methods return.
`cases.store.CaseStore` is made of `StoreBase` and the parts in `cases.store_text`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cases.db import DbWorker
from cases.events import EventBus
from cases.identity import IdentityParser
from cases.message_writer import MessageWriter
from cases.models import Message

Clock = Callable[[], datetime]
_T = TypeVar("_T")
# The bus topic every new message (inbound and outbound) is published on besides its case's.
MESSAGES_TOPIC = "messages"

# Two first calls from one new number can race to create the customer or open the case; the
# loser hits a unique constraint and simply resolves again, finding the winner's rows.
_RESOLVE_ATTEMPTS = 3


def system_clock() -> datetime:
    """The wall clock, in UTC: the default for `CaseStore.open(now=...)`."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class CaseContact:
    """A stored fact that `agent` worked on a case: an interaction they took (`kind`
    "interaction", from `at` to `ended`, None while it goes on), a note they wrote ("note",
    at `at`, e.g. a wrap-up's disposition), or the case shared with them ("share", since
    `at`, until it is withdrawn)."""

    agent: str
    kind: str
    at: datetime
    ended: datetime | None = None


@dataclass(frozen=True)
class InteractionRef:
    """Where a new interaction landed."""

    customer_id: int
    case_id: int
    interaction_id: int



class StoreBase:
    """The case store's foundation (see `CaseStore` for the whole)."""
    def __init__(
        self, db: DbWorker, now: Clock, bus: EventBus | None,
        identities: IdentityParser | None = None,
    ):
        self._db = db
        self._engine = db.engine
        self._now = now
        self._bus = bus
        self._identities = identities or IdentityParser()
        # SQLite has one writer: concurrent messages share its transactions (group commit).
        self._messages = (
            MessageWriter(db, self._session, now) if db.engine.dialect.name == "sqlite" else None
        )

    async def close(self) -> None:
        """Finish queued database work, then release connections. Idempotent."""
        await self._db.close()

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for instrumentation only (centralita.metrics times its
        writes); the store's reads and writes go through its methods."""
        return self._engine

    async def message_counts(self) -> dict[tuple[str, str], int]:
        """How many messages there are by (channel, status), for metrics."""

        def count() -> dict[tuple[str, str], int]:
            with self._session() as session:
                rows = session.execute(
                    select(Message.channel, Message.status, func.count())
                    .group_by(Message.channel, Message.status)).all()
            return {(str(ch), str(st)): int(n) for ch, st, n in rows}

        return await self._db.run(count)

    @property
    def bus(self) -> EventBus | None:
        """The event bus the store publishes on (`case:{id}`, and `messages` for every new
        message), for whoever follows it (text routing)."""
        return self._bus

    async def _publish(self, case_id: int, payload: dict[str, Any]) -> None:
        if self._bus is not None:
            await self._bus.publish(f"case:{case_id}", payload)

    def _in_transaction(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._session() as session, session.begin():
            return fn(session, *args)

    def _read(self, fn: Callable[[Session], _T]) -> _T:
        with self._session() as session:
            return fn(session)
