"""A node dies with a callback waiting; the other node takes it over and dials it.

Two `centralita serve` nodes share the routing state in Redis (one key prefix, a 3 s lease)
and the cases in one PostgreSQL database. A pjsua2 caller on node A, with nobody logged in,
asks for a callback and is hung up; node A is killed with SIGKILL; the agent logs in through
node B. Node B's takeover pass (`routing.takeover`) finds A's lease gone, lines the callback
up in its own ACD in its old place, rings the agent's phone and then the customer through the
trunk, and bridges them: the callback is done, by node B, on the same case."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from routing.redis_store import RedisRoutingStore
from tests.conftest import ServerFactory
from tests.e2e.acd import agent, ended_calls, set_state, start_acd, user_of, wait_for
from tests.e2e.api import get_json
from tests.e2e.test_acd_callback import callback_queue, callbacks, take_callback
from tests.helpers.postgres import create_database, drop_database, url
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from voice.pjsua.client import PjsuaListener

pytestmark = pytest.mark.slow

LEASE_TTL = 3


async def test_a_dead_nodes_waiting_callback_is_dialed_by_the_survivor(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await require_redis()
    prefix = new_prefix()
    database = create_database("takeover")
    observer = RedisRoutingStore.from_url(REDIS_URL, prefix=prefix, node_id="observer")
    try:
        async with PjsuaListener(duration=4.0) as desk, PjsuaListener() as customer:

            async def node(name: str) -> Any:
                return await start_acd(
                    server_factory, tmp_path, queues=[callback_queue()],
                    agents=[agent("a1", desk.uri, ["q"])], entry_queue="q",
                    workdir_name=name, extra_args=["--trunk", f"127.0.0.1:{customer.port}"],
                    config={"cases_url": url(database),
                            "routing": {"store": "redis", "redis_url": REDIS_URL,
                                        "key_prefix": prefix, "node_id": f"node-{name}",
                                        "lease_ttl": LEASE_TTL}})

            a = await node("a")
            b = await node("b")
            await take_callback(a)
            [waiting] = await callbacks(a, "waiting")
            assert a.proc is not None
            os.kill(a.proc.pid, signal.SIGKILL)
            assert await a.proc.wait() == -signal.SIGKILL
            await set_state(b, "a1", "available")

            async def done() -> list[dict[str, Any]]:
                return await callbacks(b, "done")

            # The lease runs out within 3 s, B looks every second, then rings and bridges.
            [finished] = await wait_for(done, within=30.0, what="the callback carried out by B")
            assert finished["id"] == waiting["id"] and finished["attempts"] == 1
            assert "took over dead node node-a: 1 callbacks" in b.stderr_tail(200_000)
            [to_desk] = await ended_calls(desk, settle=6.0)
            assert user_of(to_desk.from_) == "callback"
            [to_customer] = await ended_calls(customer, settle=2.0)
            assert to_customer.duration > 2.0, to_customer
            case = await get_json(b, f"/api/cases/{finished['case_id']}")
            notes = " | ".join(n["text"] for n in case["notes"])
            assert "Callback requested" in notes and "connected to agent a1" in notes, notes
            await b.stop()
    finally:
        await observer.wipe()
        await observer.close()
        drop_database(database)
