"""The case API on a real aiohttp server on 127.0.0.1, driven by aiohttp's client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from cases.events import InProcessBus
from cases.store import CaseStore
from tests.helpers.webapp import start_app
from web.cases_api import add_case_routes


@pytest.fixture
async def base_url(store: CaseStore, bus: InProcessBus) -> AsyncIterator[str]:
    app = web.Application()
    add_case_routes(app, store, bus, heartbeat=0.2)
    runner, base = await start_app(app)
    try:
        yield base
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def test_timeline_json(store: CaseStore, base_url: str, http: aiohttp.ClientSession) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
    await store.add_segment(
        ref.interaction_id, speaker="caller", start=0.2, end=1.4, text="hello", confidence=0.8, engine="w"
    )
    await store.add_note(ref.case_id, author="ana", text="vip")
    async with http.get(f"{base_url}/api/cases/{ref.case_id}") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["case"]["id"] == ref.case_id
    assert body["customer"]["id"] == ref.customer_id
    assert body["interactions"][0]["segments"][0]["text"] == "hello"
    assert body["notes"][0]["text"] == "vip"
    async with http.get(f"{base_url}/api/calls/call-1/case") as resp:
        assert resp.status == 200
        assert await resp.json() == {"case_id": ref.case_id}


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/cases/424242", 404, "not_found"),
        ("/api/cases/99999999999999999999", 404, "not_found"),
        ("/api/cases/abc", 400, "invalid_id"),
        ("/api/cases/-1", 400, "invalid_id"),
        ("/api/cases/424242/live", 404, "not_found"),
        ("/api/cases/x/live", 400, "invalid_id"),
        ("/api/calls/unknown/case", 404, "not_found"),
    ],
)
async def test_errors(
    base_url: str, http: aiohttp.ClientSession, path: str, status: int, code: str
) -> None:
    async with http.get(base_url + path) as resp:
        assert resp.status == status
        body = await resp.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_live_socket_pushes_segments_published_after_connecting(
    store: CaseStore, bus: InProcessBus, base_url: str, http: aiohttp.ClientSession
) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
    topic = f"case:{ref.case_id}"
    async with http.ws_connect(f"{base_url}/api/cases/{ref.case_id}/live") as ws:
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        assert snapshot["timeline"]["case"]["id"] == ref.case_id
        assert bus.subscriber_count(topic) == 1
        seg_id = await store.add_segment(
            ref.interaction_id, speaker="agent", start=1, end=2, text="hi there", confidence=None, engine="w"
        )
        event = await ws.receive_json(timeout=5)
        assert event["type"] == "segment"
        assert event["segment"]["id"] == seg_id
        assert event["segment"]["text"] == "hi there"
    # The viewer left: its subscription is gone too.
    for _ in range(100):
        if bus.subscriber_count(topic) == 0:
            break
        await asyncio.sleep(0.01)
    assert bus.subscriber_count(topic) == 0


async def test_live_socket_pings(
    store: CaseStore, base_url: str, http: aiohttp.ClientSession
) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
    url = f"{base_url}/api/cases/{ref.case_id}/live"
    async with http.ws_connect(url, autoping=False) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.PING
        await ws.pong(msg.data)


async def test_shutdown_closes_live_sockets(store: CaseStore, bus: InProcessBus) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
    app = web.Application()
    add_case_routes(app, store, bus)
    runner, base = await start_app(app)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{base}/api/cases/{ref.case_id}/live") as ws,
    ):
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        await asyncio.wait_for(runner.cleanup(), 10)
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert bus.subscriber_count(f"case:{ref.case_id}") == 0
