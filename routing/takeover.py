"""A live node takes over a dead node's work (several nodes on one Redis store).

Each node renews its lease (`RedisRoutingStore.run_heartbeat`); `run_takeover` runs beside
it on every node and, every `interval` seconds, asks the store for nodes whose lease ran out
(`take_over_dead`: one Lua step, so exactly one survivor wins each dead node). What the
winner gets:

- the dead node's **callbacks** (waiting or being dialed when it died: the latter back to
  waiting): lined up in this node's ACD in their old places, so they are dialed from here;
- its **waiting callers**: their calls died with the node (their media was there). They
  leave the line, and their queue records are closed as abandoned, or the figures would count
  them waiting for ever;
- its **agents**' reservations: freed by the store; the ACD is kicked to offer them work.

Worst case from a `kill -9` to callbacks dialing elsewhere: the lease TTL plus one interval.
"""

from __future__ import annotations

import asyncio
import logging

from routing.acd import Acd
from routing.model import QueueRecord
from routing.redis_store import RedisRoutingStore, Takeover
from routing.store import StoreError

log = logging.getLogger(__name__)


async def take_over_once(store: RedisRoutingStore, acd: Acd) -> list[Takeover]:
    """One pass: take every dead node this node wins and put its work to use here."""
    taken = await store.take_over_dead(now=acd.clock.now())
    left = acd.wall()
    for result in taken:
        adopted = await acd.adopt_callbacks(result.callbacks)
        lost = [e for e in result.entries if e.kind != "callback"]
        for entry in lost:
            await store.update_record(QueueRecord(
                id=entry.id, queue=entry.queue, kind=entry.kind,
                enqueued_wall=entry.enqueued_wall, outcome="abandoned", left_wall=left))
        log.warning("took over dead node %s: %d callbacks now dialed from here, %d waiting "
                    "calls lost with it, %d agents freed", result.node, adopted, len(lost),
                    len(result.agents))
    return taken


async def run_takeover(store: RedisRoutingStore, acd: Acd, *, interval: float) -> None:
    """`take_over_once` every `interval` seconds until cancelled (a task the server owns)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await take_over_once(store, acd)
        except StoreError as exc:
            log.error("routing store: takeover pass failed: %s", exc)
