"""A real server started with `routing: {store: redis}`: a pjsua2 caller queues through the
IVR and a pjsua2 agent answers; the line, the agent's state and the place-in-line counter
are in Redis (a second store on the same prefix, as another node would, sees them), and a
wrong `routing:` section stops the start with a message naming the key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from centralita.settings import ConfigError, load_settings
from routing.model import AgentState
from routing.redis_store import RedisRoutingStore
from tests.conftest import ServerFactory
from tests.e2e.acd import (
    QUEUE_FLOW,
    agent,
    ended_calls,
    queue,
    set_state,
    until_agent,
    until_answered,
    user_of,
)
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import PjsuaListener, place_call


async def start_redis_acd(server_factory: ServerFactory, tmp_path: Path, prefix: str,
                          agents: list[dict[str, Any]]) -> ServerProcess:
    conf = tmp_path / "acd"
    (conf / "flows").mkdir(parents=True)
    (conf / "flows" / "acd.yaml").write_text(QUEUE_FLOW.format(queue="q"))
    (conf / "routing.yaml").write_text(yaml.safe_dump({"queues": [queue("q")],
                                                       "agents": agents}, sort_keys=False))
    return await server_factory(ServerOptions(
        config={"routing": {"store": "redis", "redis_url": REDIS_URL, "key_prefix": prefix,
                            "node_id": "node-a", "lease_ttl": 5}},
        extra_args=["--flows", str(conf / "flows"), "--routing", str(conf / "routing.yaml"),
                    "--transcription", "off"]))


@pytest.mark.slow
async def test_a_call_is_routed_to_an_agent_with_the_redis_store(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    await require_redis()
    prefix = new_prefix()
    other_node = RedisRoutingStore.from_url(REDIS_URL, prefix=prefix, node_id="node-b")
    try:
        async with PjsuaListener(duration=6.0) as desk:
            server = await start_redis_acd(server_factory, tmp_path, prefix,
                                           [agent("a1", desk.uri, ["q"])])
            await set_state(server, "a1", "available")
            assert (await other_node.agent_status("a1")).state is AgentState.AVAILABLE
            call = asyncio.ensure_future(place_call(
                f"sip:100@{server.sip_target}", from_user="c1", duration=10.0))
            await until_agent(server, "a1", "on_call")
            # The other node sees the agent on the call and the server's lease.
            assert (await other_node.agent_status("a1")).state is AgentState.ON_CALL
            assert "node-a" not in await other_node.dead_nodes()
            assert int(await other_node.redis.get(prefix + "seq") or 0) >= 1
            result = await call
            assert result.connected, result
            await until_answered(server, "q", 1)
            [ended] = await ended_calls(desk)
            assert user_of(ended.from_) == "c1"
            await until_agent(server, "a1", "available")  # wrap-up (0.5 s) ended
            assert await other_node.entries("q") == []
            await server.stop()
            # A clean stop gives the lease up at once: the others may take over.
            assert await other_node.dead_nodes() == ["node-a"]
    finally:
        await other_node.wipe()
        await other_node.close()


def test_a_wrong_routing_section_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "centralita.yaml"
    for section, message in (
        ({"store": "etcd"}, "routing.store must be memory or redis"),
        ({"store": "redis", "redis_url": "http://x"}, "routing.redis_url"),
        ({"lease_ttl": 0}, "routing.lease_ttl"),
        ({"node_id": "a b"}, "routing.node_id"),
        ({"colour": 1}, "unknown key 'colour'"),
    ):
        config.write_text(yaml.safe_dump({"routing": section}))
        with pytest.raises(ConfigError, match=message):
            load_settings(config, {})
    config.write_text(yaml.safe_dump({"routing": {"store": "redis", "node_id": "n1"}}))
    loaded = load_settings(config, {}).routing
    assert (loaded.store, loaded.node_id, loaded.lease_ttl) == ("redis", "n1", 10.0)
    assert load_settings(None, {}).routing.store == "memory"
