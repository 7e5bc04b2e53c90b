"""Serve an aiohttp application on a free loopback port for a test."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def start_app(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, str]:
    """Serve `app` on 127.0.0.1 (a free port): its runner, to clean up, and its base URL."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"
