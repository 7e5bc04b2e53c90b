"""Login sessions kept in Redis as well: a server restart logs nobody out.

`RedisSessionStore` is `web.auth.sessions.SessionStore` (same synchronous interface, same
rules: idle timeout, maximum age, per-user and total bounds, revocation) with every change
written through to Redis by one writer task, in order, and everything read back at start.
Memory stays the place a request is answered from, so a request costs no Redis round trip;
an idle timer's restart is written at most every `touch_every` seconds (idle timeouts are
hours).

Layout: `<prefix><sha256 of the session id>` -> JSON {user, role, csrf, created,
last_seen, user_version}, times as wall-clock UNIX seconds (the in-memory ones are the
injected monotonic clock, which another process or machine does not share), with a Redis
expiry at the session's end, so Redis drops what nobody ends. As in memory, only the id's
digest is a key: a dump of Redis yields no usable cookie.

Several nodes: the request path asks `fetch`, which checks a session against Redis at most
every `verify_every` seconds (10): a login made through another node is found on its first
request here, and one ended there (logout, a revoked user) ends here within that time. While
Redis is unreachable, memory answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from web.auth.roles import Role
from web.auth.sessions import Now, Session, SessionPolicy, SessionStore
from web.auth.tokens import digest

log = logging.getLogger(__name__)

_PUT, _DELETE = "put", "delete"


class RedisSessionStore(SessionStore):
    """See the module doc. Open with `open()`, end with `close()` (which flushes)."""

    def __init__(self, redis: Redis, now: Now, policy: SessionPolicy | None = None, *,
                 prefix: str = "centralita:session:", wall: Callable[[], float] = time.time,
                 touch_every: float = 60.0, verify_every: float = 10.0) -> None:
        super().__init__(now, policy)
        self._verify_every = verify_every
        self._verified: dict[str, float] = {}  # key -> when Redis last confirmed it
        self.redis = redis
        self.prefix = prefix
        self._wall = wall
        self._touch_every = touch_every
        self._written: dict[str, float] = {}  # key -> last_seen as last written
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, now: Now, policy: SessionPolicy | None = None,
                   **kwargs: Any) -> RedisSessionStore:
        """Connect to `url`, read back the live sessions, start writing."""
        store = cls(Redis.from_url(url), now, policy, **kwargs)
        await store.load()
        store._writer = asyncio.create_task(store._write_loop(), name="sessions-to-redis")
        return store

    async def load(self) -> int:
        """Bring back every session still live in Redis; returns how many."""
        now, wall = self._now(), self._wall()
        async for raw_key in self.redis.scan_iter(match=self.prefix + "*", count=500):
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            raw = await self.redis.get(key)
            if raw is None:
                continue
            try:
                session = self._decode(json.loads(raw), now, wall)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("sessions: a stored session is unreadable (%s); dropped", exc)
                await self.redis.delete(key)
                continue
            if self._expired(session, now):
                await self.redis.delete(key)  # its Redis expiry may lag a moved wall clock
                continue
            name = key[len(self.prefix):]
            self._sessions[name] = session
            self._written[name] = session.last_seen
        log.info("sessions: %d brought back from Redis", len(self._sessions))
        return len(self._sessions)

    async def close(self) -> None:
        """Write what is queued, then disconnect. Idempotent."""
        if self._writer is not None:
            await self._queue.join()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
            await self.redis.aclose()

    async def flush(self) -> None:
        """Wait until every change made so far is in Redis (tests)."""
        await self._queue.join()

    # -- the interface, written through ---------------------------------------------------------

    def create(self, user: str, role: Role,
               user_version: datetime | None = None) -> tuple[str, Session]:
        before = set(self._sessions)
        session_id, session = super().create(user, role, user_version)
        self._gone(before)
        key = digest(session_id)
        self._verified[key] = self._now()  # made here: Redis has it once the writer runs
        self._put(key)
        return session_id, session

    async def fetch(self, session_id: str) -> Session | None:
        """`get`, checked against Redis (see the module doc)."""
        key = digest(session_id)
        now = self._now()
        if key in self._sessions and now - self._verified.get(key, -math.inf) \
                < self._verify_every:
            return self.get(session_id)
        try:
            raw = await self.redis.get(self.prefix + key)
        except RedisError as exc:
            log.error("sessions: Redis unreachable, answering from memory: %s", exc)
            return self.get(session_id)
        if raw is None:
            if key in self._sessions:  # ended through another node
                del self._sessions[key]
                self._written.pop(key, None)
            self._verified.pop(key, None)
            return None
        try:
            found = self._decode(json.loads(raw), now, self._wall())
        except (ValueError, KeyError, TypeError) as exc:
            log.error("sessions: a stored session is unreadable (%s)", exc)
            return self.get(session_id)
        mine = self._sessions.get(key)
        if mine is not None:
            found.last_seen = max(found.last_seen, mine.last_seen)
        self._sessions[key] = found
        self._written[key] = found.last_seen
        self._verified[key] = now
        return self.get(session_id)

    def get(self, session_id: str) -> Session | None:
        key = digest(session_id)
        known = key in self._sessions
        session = super().get(session_id)
        if session is None:
            if known:
                self._delete(key)
            return None
        if session.last_seen - self._written.get(key, session.last_seen) >= self._touch_every:
            self._put(key)
        return session

    def revoke(self, session_id: str) -> None:
        super().revoke(session_id)
        self._delete(digest(session_id))

    def revoke_user(self, user: str) -> int:
        before = set(self._sessions)
        ended = super().revoke_user(user)
        self._gone(before)
        return ended

    # -- writing ------------------------------------------------------------------------------

    def _gone(self, before: set[str]) -> None:
        for key in before - set(self._sessions):
            self._delete(key)

    def _put(self, key: str) -> None:
        session = self._sessions.get(key)
        if session is not None:
            self._written[key] = session.last_seen
        self._queue.put_nowait((_PUT, key))

    def _delete(self, key: str) -> None:
        self._written.pop(key, None)
        self._verified.pop(key, None)
        self._queue.put_nowait((_DELETE, key))

    async def _write_loop(self) -> None:
        while True:
            op, key = await self._queue.get()
            try:
                await self._write(op, key)
            except RedisError as exc:
                log.error("sessions: could not write a session to Redis: %s", exc)
            finally:
                self._queue.task_done()

    async def _write(self, op: str, key: str) -> None:
        session = self._sessions.get(key) if op == _PUT else None
        if session is None:  # deleted, or ended since it was queued
            await self.redis.delete(self.prefix + key)
            return
        now, wall = self._now(), self._wall()
        left = min(self.policy.idle_timeout - (now - session.last_seen),
                   self.policy.max_age - (now - session.created))
        if left <= 0:
            await self.redis.delete(self.prefix + key)
            return
        await self.redis.set(self.prefix + key, json.dumps(self._encode(session, now, wall)),
                             px=max(1, int(left * 1000)))

    @staticmethod
    def _encode(session: Session, now: float, wall: float) -> dict[str, Any]:
        return {"user": session.user, "role": session.role.label, "csrf": session.csrf,
                "created": wall - (now - session.created),
                "last_seen": wall - (now - session.last_seen),
                "user_version": None if session.user_version is None
                else session.user_version.isoformat()}

    @staticmethod
    def _decode(data: dict[str, Any], now: float, wall: float) -> Session:
        version = data["user_version"]
        return Session(
            user=str(data["user"]), role=Role.parse(data["role"]), csrf=str(data["csrf"]),
            created=now - (wall - float(data["created"])),
            last_seen=now - (wall - float(data["last_seen"])),
            user_version=None if version is None else datetime.fromisoformat(version))
