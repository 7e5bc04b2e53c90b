"""The Origin check compares scheme, host and port (issue 17, finding 6).

It compared host:port only, so a page at https://host could drive a cookie session of the
same host's http server (and the reverse behind a TLS proxy). Over the real auth middleware
and the desk's WebSocket route (a fake desk service behind it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from media.clock import FakeClock
from tests.web.conftest import PASSWORD, USERS
from tests.web.desk_fake import DeskApp, FakeDeskService, desk_app
from web.auth import AUTH
from web.auth.store import UserStore


@pytest.fixture
async def app(tmp_path: Path, users: UserStore, clock: FakeClock) -> AsyncIterator[DeskApp]:
    for name, role in USERS.items():
        await users.add_user(name, PASSWORD, role)
    async with desk_app(tmp_path, users, clock, FakeDeskService()) as running:
        yield running


async def _login(app: DeskApp, http: aiohttp.ClientSession) -> str:
    async with http.post(app.url("/api/login"),
                         json={"username": "ana", "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["csrf"])


async def _post(app: DeskApp, http: aiohttp.ClientSession, csrf: str, origin: str) -> int:
    # Refused ones never reach the handler; a logout let through ends the session.
    async with http.post(app.url("/api/logout"),
                         headers={"X-CSRF-Token": csrf, "Origin": origin}) as resp:
        if resp.status == 403:
            assert (await resp.json())["error"]["code"] == "cross_origin"
        return resp.status


async def _handshake(app: DeskApp, http: aiohttp.ClientSession, origin: str) -> int:
    try:
        ws = await http.ws_connect(app.ws_url("/api/desk/ws"), headers={"Origin": origin})
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_another_scheme_is_another_origin(app: DeskApp, http: aiohttp.ClientSession) -> None:
    csrf = await _login(app, http)
    host = app.base.removeprefix("http://")
    port = int(host.rsplit(":", 1)[1])
    for foreign in (f"https://{host}", f"http://{host.split(':')[0]}:{port + 1}",
                    f"http://{host.split(':')[0]}", "null", f"ws://{host}"):
        assert await _handshake(app, http, foreign) == 403, foreign
        assert await _post(app, http, csrf, foreign) == 403, foreign
    # The same origin, spelled as browsers do, still gets in (logout last: it ends the session).
    assert await _handshake(app, http, f"http://{host.upper()}") == 101
    assert await _handshake(app, http, app.base) == 101
    assert await _post(app, http, csrf, app.base) == 204


async def test_behind_a_tls_proxy_the_browser_origin_is_https(
    app: DeskApp, http: aiohttp.ClientSession
) -> None:
    csrf = await _login(app, http)
    # cookie_secure says a TLS-terminating proxy is in front: browsers are on https. (Set
    # after the login, or the test client would keep its Secure cookie off plain http.)
    app.runner.app[AUTH].cookie_secure = True
    host = app.base.removeprefix("http://")
    assert await _handshake(app, http, f"http://{host}") == 403
    assert await _post(app, http, csrf, f"http://{host}") == 403
    assert await _handshake(app, http, f"https://{host}") == 101
    assert await _post(app, http, csrf, f"https://{host}") == 204
