"""Every node's calls on every node's wallboard (several nodes on one Redis).

The queues' lines, the agents' states and the day's records are in the shared routing store
already, so any node's board shows them for all nodes. The calls in progress are the nodes'
own (their media is there): `NodeCalls` writes this node's list to Redis every second
(`<prefix>calls:<node>`, expiring after a few seconds, so a dead node's calls leave every
board on their own) and reads the other nodes' lists for the board, each call marked with
its node.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Calls = dict[str, dict[str, Any]]
PUBLISH_EVERY_S = 1.0
KEEP_S = 5.0  # a node silent this long has no calls on the board


class NodeCalls:
    """This node's calls in progress, shared; the others' calls, read (see the module doc)."""

    def __init__(self, redis: Redis, *, key_prefix: str, node_id: str,
                 local: Callable[[], Awaitable[Calls]]) -> None:
        self.redis = redis
        self.prefix = key_prefix + "calls:"
        self.node_id = node_id
        self._local = local
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wallboard-node-calls")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.redis.delete(self.prefix + self.node_id)
        except RedisError as exc:
            log.warning("wallboard: this node's calls not withdrawn: %s", exc)

    async def _run(self) -> None:
        while True:
            try:
                await self.publish(await self._local())
            except RedisError as exc:
                log.warning("wallboard: this node's calls not shared: %s", exc)
            await asyncio.sleep(PUBLISH_EVERY_S)

    async def publish(self, calls: Calls) -> None:
        await self.redis.set(self.prefix + self.node_id, json.dumps(calls),
                             px=int(KEEP_S * 1000))

    async def others(self) -> Calls:
        """The other nodes' calls in progress, each with its `node`; {} if Redis fails."""
        found: Calls = {}
        try:
            keys = [k async for k in self.redis.scan_iter(match=self.prefix + "*", count=100)]
            own = self.prefix + self.node_id
            keys = [k for k in keys if _text(k) != own]
            values = await self.redis.mget(keys) if keys else []
        except RedisError as exc:
            log.warning("wallboard: other nodes' calls not read: %s", exc)
            return found
        for key, raw in zip(keys, values, strict=True):
            if raw is None:
                continue
            node = _text(key)[len(self.prefix):]
            try:
                calls = json.loads(raw)
            except ValueError:
                continue
            if isinstance(calls, dict):
                for call_id, call in calls.items():
                    if isinstance(call, dict):
                        found[str(call_id)] = {**call, "node": node}
        return found


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
