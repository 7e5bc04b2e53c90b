"""Live events about cases: an in-process publish/subscribe bus.

    async with bus.subscribe(f"case:{case_id}") as events:
        async for payload in events:
            ...

`EventBus` is the Protocol the rest of the server depends on; `InProcessBus` serves one
process, and a Redis pub/sub bus can implement the same Protocol for several nodes.

Backpressure (STYLE.md §6): each subscriber has a bounded queue. A subscriber that falls
behind loses the *oldest* events, never blocks the publisher, and every loss is counted
(`Subscription.dropped`, `InProcessBus.dropped`) so a consumer can say "you missed some,
reload" instead of showing a silently gappy transcript.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Protocol, Self

Payload = dict[str, Any]

# A live view of a case gets at most a few segments a second; 256 covers a viewer stalled for
# tens of seconds, after which the newest events are worth more than the stale ones.
DEFAULT_QUEUE_SIZE = 256


class Subscription(Protocol):
    """A subscriber's view of one topic: an async context manager and an async iterator.

    Events published after `__aenter__` returns are delivered; leaving the context
    unsubscribes.
    """

    @property
    def dropped(self) -> int:
        """Events this subscriber lost because it fell behind."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[Payload]: ...


class EventBus(Protocol):
    """Publish JSON-able payloads on string topics; subscribe to a topic."""

    async def publish(self, topic: str, payload: Payload) -> None:
        """Deliver `payload` to every current subscriber of `topic`; never waits on them."""
        ...

    def subscribe(self, topic: str, *, maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """A subscription to `topic`, live once entered with `async with`."""
        ...


class _Queue:
    """A bounded FIFO that drops its oldest item when full, and a waiter."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: collections.deque[Payload] = collections.deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, item: Payload) -> bool:
        """Append `item`; False when an older item had to go to make room."""
        lost = len(self._items) >= self._maxsize
        if lost:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()
        return not lost

    async def get(self) -> Payload:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class LocalSubscription:
    """An `InProcessBus` subscriber (see `Subscription`)."""

    def __init__(self, bus: InProcessBus, topic: str, maxsize: int) -> None:
        self._bus = bus
        self.topic = topic
        self._queue = _Queue(maxsize)
        self._active = False

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def _deliver(self, payload: Payload) -> bool:
        return self._queue.put(payload)

    async def __aenter__(self) -> Self:
        self._bus._add(self)
        self._active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._active = False
        self._bus._remove(self)

    def __aiter__(self) -> AsyncIterator[Payload]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Payload]:
        if not self._active:
            raise RuntimeError("enter the subscription with 'async with' before iterating")
        while True:
            yield await self._queue.get()


class InProcessBus:
    """`EventBus` for one process and one event loop."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[LocalSubscription]] = {}
        self.published = 0
        self.dropped = 0

    async def publish(self, topic: str, payload: Payload) -> None:
        self.published += 1
        for sub in tuple(self._subscribers.get(topic, ())):
            if not sub._deliver(payload):
                self.dropped += 1

    def subscribe(self, topic: str, *, maxsize: int = DEFAULT_QUEUE_SIZE) -> LocalSubscription:
        return LocalSubscription(self, topic, maxsize)

    def subscriber_count(self, topic: str) -> int:
        """How many subscriptions to `topic` are live (for metrics and tests)."""
        return len(self._subscribers.get(topic, ()))

    def _add(self, sub: LocalSubscription) -> None:
        self._subscribers.setdefault(sub.topic, set()).add(sub)

    def _remove(self, sub: LocalSubscription) -> None:
        subs = self._subscribers.get(sub.topic)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subscribers[sub.topic]
