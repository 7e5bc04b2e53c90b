"""Opt-outs: who asked not to be texted on a channel (STOP) and who asked again (START).

Carriers and Twilio require that a number which replied STOP gets nothing more until it
replies START. The channel adapter (`channels.twilio_messaging`) recognises the keywords;
this module keeps the latest one per (channel, address) in the `opt_outs` table and answers
"may we send?" before every outbound message. The keyword messages themselves are stored on
the customer's case like any other message, so the history is on the timeline.

`OptOutStore` owns its own database worker on the case store's database (like the user store
does), so `cases.store` does not grow a method per channel concern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cases import validate
from cases.db import DbWorker
from cases.errors import InvalidInput, StorageError
from cases.models import OPT_OUT_STATES, OptOut

#: The channels whose numbers can opt out with keywords.
OPT_OUT_CHANNELS = ("sms", "whatsapp")


@dataclass(frozen=True)
class OptOutState:
    """The latest keyword `address` sent on `channel`: `state` "stopped" or "started"."""

    channel: str
    address: str
    state: str
    keyword: str
    at: datetime

    @property
    def stopped(self) -> bool:
        return self.state == "stopped"


def _view(row: OptOut) -> OptOutState:
    return OptOutState(row.channel, row.address, row.state, row.keyword, row.changed_at)


def record(session: Session, channel: str, address: str, state: str, keyword: str,
           now: datetime) -> OptOutState:
    """Set (channel, address) to `state` because it sent `keyword` (inside the caller's
    transaction). A keyword older than the stored one cannot arrive here: the webhook
    records them as they come, and the last one wins."""
    row = session.scalar(
        select(OptOut).where(OptOut.channel == channel, OptOut.address == address)
        .with_for_update())
    if row is None:
        row = OptOut(channel=channel, address=address, state=state, keyword=keyword,
                     changed_at=now)
        session.add(row)
    else:
        row.state, row.keyword, row.changed_at = state, keyword, now
    session.flush()
    return _view(row)


def lookup(session: Session, channel: str, address: str) -> OptOutState | None:
    """The stored state of (channel, address), None if it never sent a keyword."""
    row = session.scalar(
        select(OptOut).where(OptOut.channel == channel, OptOut.address == address))
    return None if row is None else _view(row)


class OptOutStore:
    """Async access to the opt-out table. `await OptOutStore.open(url, now=clock)`;
    `await close()` when done. `address` is a normalised identity (E.164)."""

    def __init__(self, db: DbWorker, now: Callable[[], datetime]) -> None:
        self._db = db
        self._now = now

    @classmethod
    async def open(cls, url: str, *, now: Callable[[], datetime]) -> OptOutStore:
        db = await DbWorker.open_migrated(
            url, workers=2, thread_name="opt-outs-db", name="the opt-out store",
            error=StorageError, hide_parameters=True,
        )
        return cls(db, now)

    async def close(self) -> None:
        await self._db.close()

    async def set_state(self, channel: str, address: str, state: str,
                        keyword: str) -> OptOutState:
        """Record that `address` sent `keyword` on `channel`, putting it in `state`."""
        channel = validate.choice(channel, OPT_OUT_CHANNELS, "channel")
        state = validate.choice(state, OPT_OUT_STATES, "state")
        address = validate.text(address, "address", max_len=320)
        keyword = validate.text(keyword, "keyword", max_len=32)
        for attempt in range(3):
            try:
                return await self._db.run(self._set, channel, address, state, keyword)
            except StorageError as exc:
                # Two first keywords from one address racing: the loser's insert hits the
                # unique (channel, address); it updates the winner's row on the next try.
                if attempt == 2 or not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    def _set(self, channel: str, address: str, state: str, keyword: str) -> OptOutState:
        with Session(self._db.engine) as session, session.begin():
            return record(session, channel, address, state, keyword, self._now())

    async def state(self, channel: str, address: str) -> OptOutState | None:
        """What (channel, address) last asked for; None if it never sent a keyword."""
        if channel not in OPT_OUT_CHANNELS:
            raise InvalidInput(f"one of {', '.join(OPT_OUT_CHANNELS)}", "channel")
        return await self._db.run(self._lookup, channel, address)

    def _lookup(self, channel: str, address: str) -> OptOutState | None:
        with Session(self._db.engine) as session:
            return lookup(session, channel, address)

    async def stopped(self, channel: str, address: str) -> bool:
        """True when `address` sent STOP on `channel` and no START since."""
        found = await self.state(channel, address)
        return found is not None and found.stopped
