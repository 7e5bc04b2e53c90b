"""Live events across nodes: the `EventBus` of `cases.events` carried over Redis pub/sub.

When several nodes share the work (Kamailio in front, Redis for the live state), a case's
live view must show what any node adds to it: a transcript segment of a call on node A
reaches the case page an agent has open through node B. `RedisBus` delivers every event to
this node's own subscribers at once (as `InProcessBus` does) and publishes it on Redis
channel `<prefix><topic>`, where the other nodes' readers pick it up and deliver it to theirs.

Why pub/sub and not Streams: these are live views. Every event is also stored (the case in
the database, the routing state in the Redis store), a view that missed some reloads, and the
bus already drops the oldest events of a subscriber that falls behind (counted). Streams would
add replay, trimming and consumer bookkeeping for nothing a view needs. Pub/sub sends each
event only to nodes subscribed to its channel: a node subscribes to `case:42` while one of its
sockets watches case 42.

Only topics under `shared` prefixes cross nodes (default `case:`, `node:`, `desks:`). Others
stay in the node: the text router's `messages` feed must not be seen by two routers, or both
would offer the same conversation (text routing's live state is per node).

A subscription is live once `__aenter__` returns: for a shared topic, after Redis confirmed
the SUBSCRIBE, so an event another node publishes afterwards is delivered. A Redis failure
never fails a publisher (the event still reaches this node's subscribers); it is logged and
counted (`failed`), and the reader reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from cases.events import DEFAULT_QUEUE_SIZE, InProcessBus, LocalSubscription, Payload

log = logging.getLogger(__name__)

# A case's live view; one node's inbox and the desks' whereabouts (centralita.desk_relay).
SHARED_PREFIXES = ("case:", "node:", "desks:")
# How long a subscribe waits for Redis to confirm before the subscriber goes on anyway
# (local events still flow; remote ones start once Redis answers).
CONFIRM_TIMEOUT_S = 2.0
RETRY_DELAY_S = 0.5


class RedisBus:
    """`EventBus` over Redis pub/sub (see the module doc). `start()` before use."""

    def __init__(self, redis: Redis, *, prefix: str = "centralita:bus:",
                 node_id: str | None = None, shared: tuple[str, ...] = SHARED_PREFIXES) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.shared = shared
        self._local = InProcessBus()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._joined: dict[str, int] = {}  # shared topic -> local subscribers
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self.failed = 0  # publishes and subscribes Redis did not take
        self.received = 0  # events delivered from other nodes

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisBus:
        return cls(Redis.from_url(url), **kwargs)

    @property
    def published(self) -> int:
        return self._local.published

    @property
    def dropped(self) -> int:
        return self._local.dropped

    def subscriber_count(self, topic: str) -> int:
        return self._local.subscriber_count(topic)

    async def start(self) -> None:
        """Open the pub/sub connection (on this node's own channel) and start reading."""
        self._pubsub = self.redis.pubsub()
        await self._pubsub.subscribe(self._channel(f"_node:{self.node_id}"))
        self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        await self.redis.aclose()

    # -- the EventBus protocol ------------------------------------------------------------------
    async def publish(self, topic: str, payload: Payload) -> None:
        await self._local.publish(topic, payload)
        if not self._is_shared(topic):
            return
        envelope = json.dumps({"n": self.node_id, "p": payload}, separators=(",", ":"))
        try:
            await self.redis.publish(self._channel(topic), envelope)
        except RedisError as exc:
            self.failed += 1
            log.error("event bus: Redis did not take an event for other nodes: %s", exc)

    def subscribe(self, topic: str, *, maxsize: int = DEFAULT_QUEUE_SIZE) -> RedisSubscription:
        return RedisSubscription(self, self._local.subscribe(topic, maxsize=maxsize))

    # -- shared topics --------------------------------------------------------------------------
    def _is_shared(self, topic: str) -> bool:
        return topic.startswith(self.shared)

    def _channel(self, topic: str) -> str:
        return self.prefix + topic

    async def _join(self, topic: str) -> None:
        if not self._is_shared(topic):
            return
        async with self._lock:
            self._joined[topic] = self._joined.get(topic, 0) + 1
            if self._joined[topic] > 1 or self._pubsub is None:
                return
            channel = self._channel(topic)
            confirmed = asyncio.get_running_loop().create_future()
            self._confirm[channel] = confirmed
            try:
                await self._pubsub.subscribe(channel)
            except RedisError as exc:
                self.failed += 1
                self._confirm.pop(channel, None)
                log.error("event bus: cannot follow a topic on Redis: %s", exc)
                return
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            log.warning("event bus: Redis has not confirmed a subscription yet")

    async def _leave(self, topic: str) -> None:
        if not self._is_shared(topic):
            return
        async with self._lock:
            left = self._joined.get(topic, 0) - 1
            if left > 0:
                self._joined[topic] = left
                return
            self._joined.pop(topic, None)
            if self._pubsub is None:
                return
            try:
                await self._pubsub.unsubscribe(self._channel(topic))
            except RedisError as exc:
                log.error("event bus: cannot leave a topic on Redis: %s", exc)

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                self.failed += 1
                log.error("event bus: reading from Redis failed, retrying: %s", exc)
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            if message is not None:
                await self._on_message(message)

    async def _on_message(self, message: dict[str, Any]) -> None:
        channel = _text(message.get("channel"))
        kind = message.get("type")
        if kind == "subscribe":
            confirmed = self._confirm.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        if kind != "message" or not channel.startswith(self.prefix):
            return
        try:
            envelope = json.loads(_text(message.get("data")))
            node, payload = envelope["n"], envelope["p"]
        except (ValueError, KeyError, TypeError):
            log.warning("event bus: an unreadable event on Redis was ignored")
            return
        if node == self.node_id or not isinstance(payload, dict):
            return  # our own: already delivered here
        self.received += 1
        await self._local.publish(channel[len(self.prefix):], payload)


class RedisSubscription:
    """A `RedisBus` subscriber: local delivery, plus the node's Redis channel for the topic
    while at least one local subscriber wants it."""

    def __init__(self, bus: RedisBus, inner: LocalSubscription) -> None:
        self._bus = bus
        self._inner = inner

    @property
    def topic(self) -> str:
        return self._inner.topic

    @property
    def dropped(self) -> int:
        return self._inner.dropped

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        try:
            await self._bus._join(self._inner.topic)
        except BaseException:
            await self._inner.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)
        await self._bus._leave(self._inner.topic)

    def __aiter__(self) -> AsyncIterator[Payload]:
        return self._inner.__aiter__()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
