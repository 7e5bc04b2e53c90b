"""Callbacks of one person, for GDPR export and erasure (`cases.gdpr.Holder`).

A callback names its customer by the number to ring (personal data) and by the case it was
promised on. A person's callbacks are those on their cases, and those to one of their phone
numbers, however it was typed (the number is normalised to E.164 to compare).

Erasure: a waiting callback is first withdrawn from the live line (`cancel`, the ACD's: its
retry timer, its queue entry), then its rows go from the `routing_callbacks` table (one
transaction) and from the Redis hash of pending callbacks when the ACD's state is in Redis.
One being dialed right now refuses the erasure (`ErasureRefused`): erase after the call.
Queue records (`routing_records`) name no one (ids, times, agents) and stay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, or_, select

from cases.db import DbWorker
from cases.errors import StorageError
from cases.gdpr import Archive, ErasureRefused, Subject
from routing.tables import callbacks

Normalize = Callable[[str], str | None]
Cancel = Callable[[str], Awaitable[bool]]
# Rows whose number ends with the same last digits are normalised and compared.
_TAIL = 6


class CallbacksHolder:
    """The subject's callbacks in the database, the live ACD and Redis."""

    name = "routing"

    def __init__(self, db: DbWorker, normalize: Normalize, *, cancel: Cancel | None = None,
                 redis: Redis | None = None, prefix: str = "centralita:routing:") -> None:
        self._db = db
        self._normalize = normalize
        self._cancel = cancel
        self._redis = redis
        self._prefix = prefix

    @classmethod
    async def open(cls, url: str, normalize: Normalize, *, cancel: Cancel | None = None,
                   redis: Redis | None = None,
                   prefix: str = "centralita:routing:") -> CallbacksHolder:
        db = await DbWorker.open_migrated(
            url, workers=1, thread_name="routing-gdpr", name="the routing store",
            error=StorageError, hide_parameters=True)
        return cls(db, normalize, cancel=cancel, redis=redis, prefix=prefix)

    async def close(self) -> None:
        await self._db.close()

    def _mine(self, subject: Subject, number: str, case_id: Any) -> bool:
        if case_id is not None and int(case_id) in subject.case_ids:
            return True
        return self._normalize(number) in subject.phones

    def _rows(self, subject: Subject) -> list[dict[str, Any]]:
        tails = {"".join(ch for ch in p if ch.isdigit())[-_TAIL:] for p in subject.phones}
        near = [callbacks.c.number.like(f"%{t}") for t in sorted(tails) if t]
        query = select(callbacks).where(or_(callbacks.c.case_id.in_(subject.case_ids), *near))
        with self._db.engine.connect() as c:
            found = [dict(r._mapping) for r in c.execute(query.order_by(callbacks.c.id))]
        return [r for r in found if self._mine(subject, str(r["number"]), r["case_id"])]

    async def _redis_rows(self, subject: Subject) -> dict[str, dict[str, Any]]:
        if self._redis is None:
            return {}
        try:
            raw = await self._redis.hgetall(self._prefix + "callbacks")
        except RedisError as exc:
            raise StorageError(f"redis: {type(exc).__name__}") from exc
        out: dict[str, dict[str, Any]] = {}
        for key, value in raw.items():
            data = json.loads(value)
            if self._mine(subject, str(data.get("number", "")), data.get("case_id")):
                out[key.decode() if isinstance(key, bytes) else str(key)] = data
        return out

    async def export(self, subject: Subject, archive: Archive) -> None:
        rows = await self._db.run(self._rows, subject)
        stored = {str(r["id"]) for r in rows}
        live = [v for k, v in (await self._redis_rows(subject)).items() if k not in stored]
        await asyncio.to_thread(archive.add_json, "routing/callbacks.json", rows + live)

    async def _states(self, subject: Subject) -> dict[str, str]:
        """The subject's callbacks, by id: their states (Redis's newer than the table's)."""
        rows = await self._db.run(self._rows, subject)
        states = {str(r["id"]): str(r["state"]) for r in rows}
        states.update({k: str(v.get("state")) for k, v in
                       (await self._redis_rows(subject)).items()})
        return states

    async def check(self, subject: Subject) -> None:
        """`ErasureRefused` while one of the subject's callbacks is being dialed."""
        if "dialing" in (await self._states(subject)).values():
            raise ErasureRefused(self.name, "a callback is being dialed")

    async def erase(self, subject: Subject) -> dict[str, int]:
        states = await self._states(subject)
        if "dialing" in states.values():
            raise ErasureRefused(self.name, "a callback is being dialed")
        cancelled = 0
        if self._cancel is not None:
            for callback_id, state in sorted(states.items()):
                if state == "waiting" and await self._cancel(callback_id):
                    cancelled += 1
        deleted = await self._db.run(self._delete, sorted(states))
        dropped = 0
        if self._redis is not None and states:
            ids = sorted(states)
            try:
                dropped = int(await self._redis.hdel(self._prefix + "callbacks", *ids))
                await self._redis.hdel(self._prefix + "owner", *(f"c:{i}" for i in ids))
            except RedisError as exc:
                raise StorageError(f"redis: {type(exc).__name__}") from exc
        return {"routing.callbacks_cancelled": cancelled, "routing.callbacks": deleted,
                "routing.redis_callbacks": dropped}

    def _delete(self, ids: list[str]) -> int:
        if not ids:
            return 0
        with self._db.engine.begin() as c:
            result = c.execute(delete(callbacks).where(callbacks.c.id.in_(ids)))
        return int(result.rowcount or 0)
