"""Reading a test server's HTTP API in end-to-end tests: JSON, and a call's ended interaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Any

import aiohttp

from tests.helpers.server import ServerProcess


async def get_json(server: ServerProcess, path: str) -> Any:
    async with (
        aiohttp.ClientSession(headers=server.auth_headers) as http,
        http.get(server.http_base + path) as resp,
    ):
        assert resp.status == 200, (path, resp.status, await resp.text())
        return await resp.json()


async def send_json(server: ServerProcess, method: str, path: str, body: Any) -> Any:
    """PUT/POST/DELETE `body` as JSON with the server's admin token; the reply must be 2xx."""
    async with (
        aiohttp.ClientSession(headers=server.auth_headers) as http,
        http.request(method, server.http_base + path, json=body) as resp,
    ):
        assert 200 <= resp.status < 300, (method, path, resp.status, await resp.text())
        return await resp.json()


async def ended_interaction(
    server: ServerProcess,
    *,
    within: float = 20.0,
    exclude: Collection[str] = (),
    direction: str | None = None,
    path_recorded: bool = False,
) -> dict[str, Any]:
    """The interaction (on its case) of the server's last call, once call and interaction ended.

    `exclude`: call ids placed before (the call wanted is the last new one); `direction`:
    only calls of that direction (a transfer's own leg is outbound); `path_recorded`: also
    wait until the IVR stored the path it took.
    """
    deadline = time.monotonic() + within
    calls: list[dict[str, Any]] = []
    while True:
        calls = [
            c for c in await get_json(server, "/api/debug/calls")
            if c["call_id"] not in exclude and direction in (None, c["direction"])
        ]
        if calls and calls[-1]["state"] == "ended":
            case = await get_json(server, f"/api/calls/{calls[-1]['call_id']}/case")
            timeline = await get_json(server, f"/api/cases/{case['case_id']}")
            interaction = timeline["interactions"][-1]
            if interaction["ended_at"] and (
                not path_recorded or any(e["kind"] == "path" for e in interaction["ivr_events"])
            ):
                return dict(interaction)
        if time.monotonic() > deadline:
            raise AssertionError(f"no ended interaction after {within:g}s; calls: {calls[-5:]}")
        await asyncio.sleep(0.3)
