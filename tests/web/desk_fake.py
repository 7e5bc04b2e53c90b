"""A fake `DeskService` and a real aiohttp server around it, for the desk API and page tests.

The fake records every connect, disconnect and command, sends a scripted hello on connect,
and can be told to refuse a command type (`DeskError`), to fail one (a bug), or to answer a
command with a burst of messages (to fill a desk's send queue).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from cases.events import InProcessBus
from cases.store import CaseStore
from media.clock import FakeClock
from tests.helpers.webapp import start_app
from tests.web.conftest import make_auth
from web.app import build_app
from web.auth.store import UserStore
from web.cases_api import add_case_routes
from web.desk import DeskCommand, DeskError, DeskLink, add_desk_routes

DIRECTORY = {
    "agents": [
        {"id": "ana", "name": "Ana", "state": "available"},
        {"id": "bo", "name": "Bo", "state": "available"},
        {"id": "cy", "name": "Cy <script>", "state": "break"},
    ],
    "queues": ["sales", "support"],
}

Hook = Callable[[DeskLink, DeskCommand], Awaitable[None]]


@dataclass
class FakeDeskService:
    """Implements `DeskService`; see the module doc."""

    events: list[tuple[str, DeskLink]] = field(default_factory=list)
    commands: asyncio.Queue[tuple[DeskLink, DeskCommand]] = field(default_factory=asyncio.Queue)
    links: dict[str, DeskLink] = field(default_factory=dict)
    refuse: dict[str, DeskError] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)
    burst: dict[str, int] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)

    async def connect(self, link: DeskLink) -> None:
        self.events.append(("connect", link))
        self.links[link.agent_id] = link
        await link.send({
            "type": "hello",
            "agent": {"id": link.agent_id, "name": link.agent_id.title()},
            "state": {"state": "offline", "reason": None, "since": "2024-05-01T09:00:00+00:00"},
            "call": None,
            "directory": DIRECTORY,
        })

    async def disconnect(self, link: DeskLink) -> None:
        self.events.append(("disconnect", link))
        if self.links.get(link.agent_id) is link:
            del self.links[link.agent_id]

    async def command(self, link: DeskLink, message: DeskCommand) -> None:
        kind = message.TYPE
        self.commands.put_nowait((link, message))
        if kind in self.refuse:
            raise self.refuse[kind]
        if kind in self.fail:
            raise RuntimeError("a bug in the service")
        for i in range(self.burst.get(kind, 0)):
            # No await yields here: send() must queue without waiting.
            await link.send({"type": "directory", "n": i, **DIRECTORY})
        hook = self.hooks.get(kind)
        if hook is not None:
            await hook(link, message)

    async def next_command(self) -> DeskCommand:
        """The next command the service received (waits up to 5 s)."""
        async with asyncio.timeout(5.0):
            _, command = await self.commands.get()
        return command

    async def send(self, agent_id: str, message: dict[str, Any]) -> None:
        """Send `message` to the agent's open desk."""
        await self.links[agent_id].send(message)


@dataclass
class DeskApp:
    """The running server: base URL, runner (to shut it down), cases behind it."""

    base: str
    runner: web.AppRunner
    cases: CaseStore

    def url(self, path: str) -> str:
        return self.base + path

    def ws_url(self, path: str) -> str:
        return "ws" + self.base.removeprefix("http") + path


@asynccontextmanager
async def desk_app(
    tmp_path: Path,
    users: UserStore,
    clock: FakeClock,
    service: FakeDeskService,
    *,
    queue_size: int = 64,
) -> AsyncIterator[DeskApp]:
    """`web.app.build_app` with the real auth, the case API and the desk over `service`."""
    auth = make_auth(users, clock)
    bus = InProcessBus()
    cases = await CaseStore.open(f"sqlite:///{tmp_path}/desk-cases.db", bus=bus)
    app = build_app(lambda: {"http": True}, None, auth)
    add_case_routes(app, cases, bus, heartbeat=5)
    add_desk_routes(app, service, queue_size=queue_size, heartbeat=5)
    runner, base = await start_app(app, access_log=None)
    try:
        yield DeskApp(base, runner, cases)
    finally:
        await runner.cleanup()
        await cases.close()
