"""Security headers on every response of the real server (issue 17, finding 6): pages, static
files, JSON, WebSocket refusals and the errors (401, 403, 404, 405) all carry a CSP with
frame-ancestors 'none', X-Frame-Options DENY, nosniff and a Referrer-Policy.

Before: only the login page and /desk had them; /desk/static/desk.html, every JSON answer and
every error went without. The walk covers every route the server composes, so a route added
later is checked without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from centralita.server import Server
from tests.web.conftest import bearer
from tests.web.test_hardening_json import base_of, in_process_settings
from web.auth import Role


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    running = Server(in_process_settings(tmp_path))
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


def assert_secured(resp: aiohttp.ClientResponse, where: str) -> None:
    headers = resp.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (where, dict(headers))
    assert "default-src" in csp and "'unsafe-inline'" not in csp, where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
    if resp.content_type == "text/html":
        assert "default-src 'self'" in csp or "default-src 'none'" in csp, where


def _requests(app: web.Application) -> list[tuple[str, str]]:
    """(method, concrete path) for every route; static directories give each of their files."""
    found = []
    for route in app.router.routes():
        assert route.resource is not None
        path = re.sub(r"\{[^}]+\}", "1", route.resource.canonical)
        method = "GET" if route.method == "*" else route.method
        if isinstance(route.resource, web.StaticResource):
            directory = route.resource.get_info()["directory"]
            found += [(method, f"{path}/{f.name}") for f in directory.iterdir() if f.is_file()]
        else:
            found.append((method, path))
    return found


async def test_every_response_of_the_real_server_carries_the_security_headers(
    server: Server,
) -> None:
    assert server.app is not None
    requests = _requests(server.app)
    paths = {p for _, p in requests}
    assert {"/desk/static/desk.html", "/desk", "/login", "/api/me", "/api/queues",
            "/api/cases/1", "/api/debug/calls"} <= paths
    statuses: set[int] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for method, path in requests:
            for who in ({}, bearer(Role.AGENT), bearer(Role.ADMIN)):
                async with http.request(
                    method, base_of(server) + path, headers=who, allow_redirects=False
                ) as resp:
                    assert_secured(resp, f"{method} {path} {sorted(who)} -> {resp.status}")
                    statuses.add(resp.status)
        # aiohttp's own errors: an unknown path, a wrong method, a bad token.
        for method, path, who, status in (
            ("GET", "/api/nothing-here", bearer(Role.ADMIN), 404),
            ("GET", "/nothing-here", {}, 302),
            ("DELETE", "/api/me", bearer(Role.ADMIN), 405),
            ("GET", "/api/me", {"Authorization": "Bearer nope"}, 401),
        ):
            async with http.request(
                method, base_of(server) + path, headers=who, allow_redirects=False
            ) as resp:
                assert resp.status == status, (method, path)
                assert_secured(resp, f"{method} {path}")
    # Pages, redirects, JSON, refusals and errors were all in the walk.
    assert {200, 302, 401, 403, 404} <= statuses


async def test_the_desk_page_as_a_static_file_is_a_page_with_its_policy(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            base_of(server) + "/desk/static/desk.html", headers=bearer(Role.AGENT)
        ) as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            assert_secured(resp, "desk.html")
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        async with http.get(base_of(server) + "/api/me", headers=bearer(Role.AGENT)) as resp:
            # JSON loads nothing, even opened as a document.
            assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
