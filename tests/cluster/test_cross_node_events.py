"""A case's live view on node B shows what node A adds to the case (issue 14, cross-node
events): two whole servers (`centralita.server.Server`, in process) with the routing store in
Redis on one prefix, which puts their event bus on Redis too (`cases.redis_bus`), and the
cases in one PostgreSQL database. A call's transcript segment and a note stored by node A
reach a case socket opened on node B; a one-node server keeps its bus in process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from cases.events import InProcessBus
from cases.redis_bus import RedisBus
from centralita.server import Server
from centralita.settings import load_settings
from tests.helpers.postgres import create_database, drop_database, url
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis
from tests.helpers.server import loopback_config

TOKEN = "ctk_tests_" + "x" * 40


def node_config(tmp_path: Path, name: str, extra: dict[str, Any]) -> Path:
    (tmp_path / name).mkdir()
    token_file = tmp_path / name / "token"
    token_file.write_text(TOKEN + "\n")
    config = tmp_path / name / "centralita.yaml"
    config.write_text(loopback_config(tmp_path / name / "data") + yaml.safe_dump({
        "auth": {"tokens": [{"name": "tests", "role": "admin", "token_file": str(token_file)}]},
        **extra,
    }))
    return config


@contextlib.asynccontextmanager
async def running(config: Path) -> AsyncIterator[Server]:
    server = Server(load_settings(config, {}))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next event of type `kind` on the case socket (others are skipped)."""
    async with asyncio.timeout(10):
        while True:
            event: dict[str, Any] = await ws.receive_json()
            if event.get("type") == kind:
                return event


async def test_a_case_socket_on_node_b_sees_what_node_a_stores(tmp_path: Path) -> None:
    await require_redis()
    prefix = new_prefix()
    database = create_database("events")
    try:
        shared = {"cases_url": url(database)}
        a_conf = node_config(tmp_path, "a", {**shared, "routing": {
            "store": "redis", "redis_url": REDIS_URL, "key_prefix": prefix, "node_id": "a"}})
        b_conf = node_config(tmp_path, "b", {**shared, "routing": {
            "store": "redis", "redis_url": REDIS_URL, "key_prefix": prefix, "node_id": "b"}})
        async with running(a_conf) as a, running(b_conf) as b:
            assert a.store is not None and b.store is not None
            ref = await a.store.start_voice_interaction(caller="+34612345678", call_id="c-a1")
            public = await a.store.public_id(ref.case_id)
            b_http = f"http://{b.settings.http_listen}"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with aiohttp.ClientSession(headers=headers) as http, \
                    http.ws_connect(f"{b_http}/api/cases/{public}/live") as ws:
                snapshot = await ws.receive_json(timeout=10)
                assert snapshot["type"] == "snapshot"
                await a.store.add_segment(ref.interaction_id, speaker="caller", start=0.5,
                                          end=2.0, text="my order has not arrived",
                                          confidence=0.9, engine="test")
                segment = await next_event(ws, "segment")
                assert "my order has not arrived" in str(segment)
                await a.store.add_note(ref.case_id, author="ana", text="called from node A")
                note = await next_event(ws, "note")
                assert "called from node A" in str(note)
    finally:
        drop_database(database)


async def test_one_node_keeps_its_bus_in_process_and_a_redis_node_shares_it(
    tmp_path: Path,
) -> None:
    await require_redis()
    async with running(node_config(tmp_path, "alone", {})) as alone:
        assert isinstance(alone.store.bus if alone.store else None, InProcessBus)
    async with running(node_config(tmp_path, "clustered", {"routing": {
            "store": "redis", "redis_url": REDIS_URL, "key_prefix": new_prefix()}})) as node:
        assert isinstance(node.store.bus if node.store else None, RedisBus)
