"""A desk whose login ends is closed (4401) within seconds by the server, without the page
sending anything, and leaves the hub: the next call is not offered to it.

Real aiohttp server, real auth, real WebSocket clients; the first tests over the fake desk
service, the last over the real `centralita.desk.DeskHub` on the ACD rig.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from centralita.desk import DeskHub
from media.clock import FakeClock
from media.ticker import MediaTicker
from routing.channels import NotConnected, Offer
from tests.helpers.webapp import start_app
from tests.routing.acd_rig import Factory, agent, make_rig, queue
from tests.web.conftest import PASSWORD, make_auth
from tests.web.desk_fake import DeskApp, FakeDeskService, desk_app
from web.app import build_app
from web.auth import Role
from web.auth.store import UserStore
from web.desk import add_desk_routes

__all__ = ["make_rig"]  # the rig's fixture, used by the last test

CLOSE_WITHIN_S = 5.0
HOWS = ["logout", "disabled", "token"]


async def open_desk(
    base: str, http: aiohttp.ClientSession, users: UserStore, user: str, how: str
) -> tuple[aiohttp.ClientWebSocketResponse, str]:
    """The user's desk, opened with a login session or (how == "token") a stored token; the
    session's CSRF token ("" for a token)."""
    ws_base = "ws" + base.removeprefix("http")
    if how == "token":
        _, token = await users.add_token(user, Role.AGENT, "root")
        ws = await http.ws_connect(f"{ws_base}/api/desk/ws?access_token={token}")
        csrf = ""
    else:
        async with http.post(f"{base}/api/login",
                             json={"username": user, "password": PASSWORD}) as resp:
            assert resp.status == 200
            csrf = (await resp.json())["csrf"]
        ws = await http.ws_connect(f"{ws_base}/api/desk/ws")
    hello = json.loads((await ws.receive(timeout=10)).data)
    assert hello["type"] == "hello"
    return ws, csrf


async def end_login(
    base: str, http: aiohttp.ClientSession, users: UserStore, user: str, how: str, csrf: str
) -> None:
    if how == "logout":
        async with http.post(f"{base}/api/logout", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 204
    elif how == "disabled":
        # As `centralita users` in another process would: only the stored record changes.
        await users.update_user(user, disabled=True)
    else:
        await users.delete_token(user)


async def closed_within(ws: aiohttp.ClientWebSocketResponse) -> float:
    """Seconds until `ws` is closed with 4401 (the page sends nothing meanwhile)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    # One deadline for the whole wait: receive()'s own timeout restarts at every ping.
    async with asyncio.timeout(CLOSE_WITHIN_S + 5):
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                continue  # e.g. a directory update: the desk is still open
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401, msg
            return loop.time() - start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest.fixture
async def fake_desk(
    tmp_path: Path, users: UserStore, clock: FakeClock
) -> AsyncIterator[tuple[DeskApp, FakeDeskService]]:
    await users.add_user("ana", PASSWORD, Role.AGENT)
    service = FakeDeskService()
    async with desk_app(tmp_path, users, clock, service) as app:
        yield app, service


@pytest.mark.parametrize("how", HOWS)
async def test_a_desk_is_closed_4401_within_seconds_of_its_login_ending(
    fake_desk: tuple[DeskApp, FakeDeskService], users: UserStore,
    http: aiohttp.ClientSession, how: str,
) -> None:
    app, service = fake_desk
    ws, csrf = await open_desk(app.base, http, users, "ana", how)
    await end_login(app.base, http, users, "ana", how, csrf)
    took = await closed_within(ws)
    assert took < CLOSE_WITHIN_S, took
    # The service was told the desk is gone, so it offers it nothing more.
    for _ in range(100):
        if service.events[-1][0] == "disconnect":
            break
        await asyncio.sleep(0.02)
    assert [e for e, _ in service.events] == ["connect", "disconnect"]
    assert "ana" not in service.links


@pytest.mark.parametrize("how", HOWS)
async def test_a_closed_desk_leaves_the_hub_and_is_not_offered_the_next_call(
    make_rig: Factory, tmp_path: Path, users: UserStore, clock: FakeClock,
    http: aiohttp.ClientSession, how: str,
) -> None:
    await users.add_user("a1", PASSWORD, Role.AGENT)
    rig = await make_rig([queue("help")], [agent("a1", "help")])
    hub = DeskHub(rig.acd, rig.admin, ticker=MediaTicker(), cases=None, host_addresses=None)
    app = build_app(lambda: {"http": True}, None, make_auth(users, clock))
    add_desk_routes(app, hub, heartbeat=5)
    runner, base = await start_app(app, access_log=None)
    try:
        ws, csrf = await open_desk(base, http, users, "a1", how)
        assert hub.online("a1")
        await end_login(base, http, users, "a1", how, csrf)
        took = await closed_within(ws)
        assert took < CLOSE_WITHIN_S, took
        for _ in range(100):
            if not hub.online("a1"):
                break
            await asyncio.sleep(0.02)
        assert not hub.online("a1")
        offered: Any = await asyncio.wait_for(hub.ring_agent(
            rig.acd.agents["a1"], Offer("call", "call-2", "help", "+15550100", None),
            ring_timeout=30, for_call=None), 5)
        assert isinstance(offered, NotConnected) and offered.result == "unavailable", offered
    finally:
        await runner.cleanup()
        await hub.close()
