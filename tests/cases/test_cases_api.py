"""The case API on a real aiohttp server on 127.0.0.1, driven by aiohttp's client, behind
the real auth (an admin's config token: who else may read a case is tests/web/test_case_access).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from cases.events import InProcessBus
from cases.store import CaseStore
from media.clock import FakeClock
from tests.helpers.webapp import start_app
from tests.web.conftest import CHEAP, bearer, make_auth
from web.app import build_app
from web.auth import Role
from web.auth.passwords import PasswordHasher
from web.auth.store import UserStore
from web.cases_api import add_case_routes


@pytest.fixture
async def users(tmp_path: Path) -> AsyncIterator[UserStore]:
    opened = await UserStore.open(f"sqlite:///{tmp_path}/users.db", hasher=PasswordHasher(CHEAP))
    try:
        yield opened
    finally:
        await opened.close()


def case_app(users: UserStore) -> web.Application:
    return build_app(lambda: {"http": True}, None, make_auth(users, FakeClock(1000.0)))


@pytest.fixture
async def base_url(store: CaseStore, bus: InProcessBus, users: UserStore) -> AsyncIterator[str]:
    app = case_app(users)
    add_case_routes(app, store, bus, heartbeat=0.2)
    runner, base = await start_app(app)
    try:
        yield base
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10), headers=bearer(Role.ADMIN)
    ) as session:
        yield session


async def test_timeline_json(store: CaseStore, base_url: str, http: aiohttp.ClientSession) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
    await store.add_segment(
        ref.interaction_id, speaker="caller", start=0.2, end=1.4, text="hello", confidence=0.8, engine="w"
    )
    await store.add_note(ref.case_id, author="ana", text="vip")
    public_id = await store.public_id(ref.case_id)
    async with http.get(f"{base_url}/api/cases/{public_id}") as resp:
        assert resp.status == 200
        body = await resp.json()
    # The case is named by its public id everywhere in the JSON, never by its key.
    assert body["case"]["id"] == public_id
    assert body["interactions"][0]["case_id"] == public_id
    assert body["notes"][0]["case_id"] == public_id
    assert body["customer"]["id"] == ref.customer_id
    assert body["interactions"][0]["segments"][0]["text"] == "hello"
    assert body["notes"][0]["text"] == "vip"
    async with http.get(f"{base_url}/api/calls/call-1/case") as resp:
        assert resp.status == 200
        assert await resp.json() == {"case_id": public_id}


async def test_public_ids_are_random_and_sequential_ids_no_longer_work(
    store: CaseStore, base_url: str, http: aiohttp.ClientSession
) -> None:
    refs = [await store.start_voice_interaction(caller=f"+1555010020{i}", call_id=f"call-{i}")
            for i in range(3)]
    public = [await store.public_id(r.case_id) for r in refs]
    assert len(set(public)) == 3
    assert all(len(p) == 16 and not p.isdigit() for p in public)
    for ref in refs:
        # Even an admin: the integer key of a case is not an address any more.
        async with http.get(f"{base_url}/api/cases/{ref.case_id}") as resp:
            assert resp.status == 404, await resp.text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base_url}/api/cases/{ref.case_id}/live")
        assert refused.value.status == 404


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/cases/424242", 404, "not_found"),
        ("/api/cases/99999999999999999999", 404, "not_found"),
        ("/api/cases/abcdefghijklmnop", 404, "not_found"),
        ("/api/cases/a.b", 400, "invalid_id"),
        ("/api/cases/" + "x" * 65, 400, "invalid_id"),
        ("/api/cases/424242/live", 404, "not_found"),
        ("/api/cases/x~/live", 400, "invalid_id"),
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
    public_id = await store.public_id(ref.case_id)
    async with http.ws_connect(f"{base_url}/api/cases/{public_id}/live") as ws:
        snapshot = await ws.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        assert snapshot["timeline"]["case"]["id"] == public_id
        assert bus.subscriber_count(topic) == 1
        seg_id = await store.add_segment(
            ref.interaction_id, speaker="agent", start=1, end=2, text="hi there", confidence=None, engine="w"
        )
        event = await ws.receive_json(timeout=5)
        assert event["type"] == "segment"
        assert event["case_id"] == public_id
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
    url = f"{base_url}/api/cases/{await store.public_id(ref.case_id)}/live"
    async with http.ws_connect(url, autoping=False) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.PING
        await ws.pong(msg.data)


async def test_shutdown_closes_live_sockets(
    store: CaseStore, bus: InProcessBus, users: UserStore
) -> None:
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
    app = case_app(users)
    add_case_routes(app, store, bus)
    runner, base = await start_app(app)
    async with (
        aiohttp.ClientSession(headers=bearer(Role.ADMIN)) as http,
        http.ws_connect(f"{base}/api/cases/{await store.public_id(ref.case_id)}/live") as ws,
    ):
        assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        await asyncio.wait_for(runner.cleanup(), 10)
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert bus.subscriber_count(f"case:{ref.case_id}") == 0
