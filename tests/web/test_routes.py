"""Deny by default: every route of the real server refuses the anonymous and the too-low.

The application is the one `centralita.server.Server` composes (debug API and the ACD with
routing/demo.yaml on), started in-process on free loopback ports; the test walks `app.router.routes()`, so a route added
later is covered without touching this file, and fails here if it declares no role.
A feature that adds routes only when configured should be switched on in `settings` below.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from assist.config import AssistSettings
from centralita.server import Server
from centralita.settings import AuthSettings, ConfigTokenSettings, HostPort, Settings
from channels.chat_config import ChatSettings
from channels.twilio_config import TwilioConfig
from recordings.config import RecordingConfig
from tests.helpers.server import (
    LOOPBACK,
    REPO_ROOT,
    free_port,
    free_sip_port,
    random_rtp_block,
)
from tests.web.conftest import TOKENS, bearer
from web.auth import Role, require
from web.auth.access import ROUTE_ACCESS, Access
from web.auth.tokens import digest

# The only routes anyone may use without logging in.
PUBLIC_ROUTES = {
    ("GET", "/healthz"), ("HEAD", "/healthz"),
    ("POST", "/api/login"),
    ("GET", "/login"), ("HEAD", "/login"),
    ("GET", "/login.js"), ("HEAD", "/login.js"),
    # Twilio has no login: its X-Twilio-Signature is the authentication (web.twilio_api).
    ("POST", "/twilio/messaging"), ("POST", "/twilio/messaging/status"),
    ("POST", "/twilio/voice"), ("POST", "/twilio/voice/status"),
    # Twilio's Media Streams socket: its one-time stream token (from our TwiML) and, when
    # present, the X-Twilio-Signature of the wss URL are the authentication (voice.twilio).
    ("GET", "/twilio/stream"), ("HEAD", "/twilio/stream"),
    # The chat widget's files and the visitor's socket: a visitor has no login; their signed
    # visitor token (sent in the socket's first message) is the authentication (web.chat_api).
    # (A static directory is walked with its first file by name: call.js here.)
    ("GET", "/chat/call.js"), ("HEAD", "/chat/call.js"),
    ("GET", "/api/chat/ws"), ("HEAD", "/api/chat/ws"),
    # "Call us" loads the desk's softphone module (code only, no data).
    ("GET", "/chat/softphone.js"), ("HEAD", "/chat/softphone.js"),
    # A handover link's page: the signed, expiring token in its query is the authentication
    # (web.handover_api); a bad one opens nothing and says why.
    ("GET", "/chat/continue"), ("HEAD", "/chat/continue"),
}


@dataclass
class Running:
    base: str
    app: web.Application


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    low, high = random_rtp_block()
    settings = Settings(
        sip_listen=HostPort(LOOPBACK, free_sip_port()),
        http_listen=HostPort(LOOPBACK, free_port(socket.SOCK_STREAM, also_tcp=False)),
        data_dir=tmp_path / "data",
        rtp_port_min=low,
        rtp_port_max=high,
        debug_api=True,
        transcription="off",
        routing_file=REPO_ROOT / "routing" / "demo.yaml",
        twilio=TwilioConfig(account_sid="AC" + "0" * 32, auth_token="route-walk-token",
                            public_url="https://contact.example.test", sms_number="+34910000000"),
        chat=ChatSettings(),
        recordings=RecordingConfig(enabled=True),
        assist=AssistSettings(articles=tmp_path / "kb"),
        auth=AuthSettings(tokens=tuple(
            ConfigTokenSettings(f"test-{role.label}", role.label, digest(token))
            for role, token in TOKENS.items()
        )),
    )
    server = Server(settings)
    try:
        await server.start()
        assert server.app is not None
        yield Running(f"http://{settings.http_listen}", server.app)
    finally:
        await server.stop()


def _access(app: web.Application, route: web.AbstractRoute) -> Access | None:
    return app[ROUTE_ACCESS].get(route)


def _concrete(resource: web.AbstractResource) -> str:
    """The resource's path with each {variable} filled: "1", or where its pattern does not
    take "1" (`{action:hangup|transfer}`) the first word the pattern allows."""
    info = resource.get_info()
    if "formatter" not in info:
        return resource.canonical
    values = {}
    for name, regex in re.findall(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", info["pattern"].pattern):
        first = regex.split("|")[0]
        values[name] = "1" if re.fullmatch(regex, "1") else first
    return str(info["formatter"]).format(**values)


def _routes(app: web.Application) -> list[tuple[web.AbstractRoute, str, str]]:
    """(route, method, a concrete path) for every route; {variables} filled by `_concrete`."""
    found = []
    for route in app.router.routes():
        assert route.resource is not None
        path = _concrete(route.resource)
        if isinstance(route.resource, web.StaticResource):
            # A directory answers 403 (no index): ask for a file it really serves.
            directory = route.resource.get_info()["directory"]
            path += "/" + min(f.name for f in directory.iterdir() if f.is_file())
        method = "GET" if route.method == "*" else route.method
        found.append((route, method, path))
    return found


async def test_every_route_is_declared_and_refuses_anonymous_and_lower_roles(
    running: Running,
) -> None:
    routes = _routes(running.app)
    undeclared = [f"{m} {p}" for r, m, p in routes if _access(running.app, r) is None]
    assert undeclared == [], "declare a role with web.auth.require()"
    public = {(m, p) for r, m, p in routes if _access(running.app, r) == Access(None)}
    assert public == PUBLIC_ROUTES
    # The server's own routes are all here (the walk is not vacuous).
    paths = {p for _, _, p in routes}
    assert {"/api/cases/1", "/api/cases/1/live", "/api/debug/calls", "/api/debug/dial",
            "/api/users", "/api/me", "/api/queues"} <= paths

    checked = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for route, method, path in routes:
            access = _access(running.app, route)
            assert access is not None
            if access.role is None:
                if path.startswith("/twilio/") and method == "POST":
                    # Public, but not open: unsigned is refused before anything is read.
                    async with http.post(running.base + path, data={"Body": "x"}) as resp:
                        assert resp.status == 403, path
                elif path == "/twilio/stream" and method == "GET":
                    # The Media Streams socket without its one-time token: no upgrade.
                    async with http.get(running.base + path) as resp:
                        assert resp.status in (400, 403), (path, resp.status)
                continue
            where = f"{method} {path}"
            async with http.request(
                method, running.base + path, allow_redirects=False
            ) as resp:
                if access.page:
                    assert resp.status == 302, where
                    assert resp.headers["Location"].startswith("/login?next="), where
                else:
                    assert resp.status == 401, where
                    if method != "HEAD":
                        assert (await resp.json())["error"]["code"] == "unauthenticated", where
            for lower in (r for r in Role if r < access.role):
                async with http.request(
                    method, running.base + path, headers=bearer(lower), allow_redirects=False
                ) as resp:
                    assert resp.status == 403, f"{where} as {lower.label}"
                    if method != "HEAD":
                        assert (await resp.json())["error"]["code"] == "forbidden", where
            if method in ("GET", "HEAD"):
                # And the declared role does get through (the handler answers, whatever it says).
                async with http.request(
                    method, running.base + path, headers=bearer(Role.ADMIN), allow_redirects=False
                ) as resp:
                    assert resp.status not in (401, 403), where
            checked += 1
    assert checked >= 10


async def test_an_undeclared_route_is_refused_even_to_an_admin(
    running: Running, tmp_path: Path
) -> None:
    # A fresh app, as another module would build, with one route nobody declared.
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"secret": True})

    async def declared(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    from web.app import build_app
    from web.auth import AUTH

    app = build_app(lambda: {"http": True}, None, running.app[AUTH])
    app.router.add_get("/api/forgotten", handler)
    require(app, app.router.add_get("/api/queues", declared), Role.SUPERVISOR)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/api/forgotten") as resp:
                assert resp.status == 401
            async with http.get(base + "/api/forgotten", headers=bearer(Role.ADMIN)) as resp:
                assert resp.status == 403
                assert "secret" not in await resp.text()
            async with http.get(base + "/api/queues", headers=bearer(Role.AGENT)) as resp:
                assert resp.status == 403
            async with http.get(base + "/api/queues", headers=bearer(Role.SUPERVISOR)) as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()


def test_a_route_cannot_be_declared_twice_differently() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    route = require(app, app.router.add_get("/api/x", handler), Role.AGENT)
    require(app, route, Role.AGENT)
    with pytest.raises(ValueError, match="already declared"):
        require(app, route, Role.ADMIN)
