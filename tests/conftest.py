"""Fixtures shared by every suite: a real `centralita serve` on free loopback ports.

The process management lives in `tests/helpers/server.py`; these fixtures only tie it to a
test's lifetime. Server logs are kept in the test's tmp dir (`server.stderr.log`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.helpers.server import ServerOptions, ServerProcess

ServerFactory = Callable[..., Awaitable[ServerProcess]]


@pytest.fixture
async def server_factory(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """`await server_factory(ServerOptions(...))` starts a server; all are stopped at teardown."""
    started: list[ServerProcess] = []

    async def start(options: ServerOptions | None = None) -> ServerProcess:
        workdir = tmp_path / f"server-{len(started) + 1}"
        workdir.mkdir()
        server = ServerProcess(workdir, options)
        started.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            await server.stop()


@pytest.fixture
async def centralita_server(server_factory: ServerFactory) -> ServerProcess:
    """A server with default options (debug API on, TLS with a throwaway certificate)."""
    return await server_factory()
