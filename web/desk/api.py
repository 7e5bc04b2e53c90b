"""Routes of the agent desk.

    GET /desk                 the page (agent role; anonymous visitors go to /login)
    GET /desk/static/{file}   its modules and style sheet (agent role)
    GET /api/desk/ws          the desk's WebSocket (agent role): commands in, messages out,
                              see `web.desk.protocol`

The desk's agent id is the logged-in user's name. One desk per agent: a second socket
replaces the first, which is closed with code 4000 "replaced" after the service was told it
disconnected, so the service never sees two desks of one agent. The auth middleware refuses
a cookie-authenticated handshake from another origin (`web.auth.middleware`). Open desks
live in `DESKS` and are closed (1001) when the application shuts down.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import WSCloseCode, web

from web.auth import Role, principal, require, require_page
from web.common import add_common_static
from web.desk.link import REFUSED, REPLACED, SEND_QUEUE, DeskConnection, close_quietly
from web.desk.protocol import DeskError, DeskService
from web.socket_login import RECHECK_S, login_check

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

# An SDP offer is at most 64 KB, and JSON escapes each CRLF into four characters.
MAX_MESSAGE = 160 * 1024
# aiohttp pings at this interval and drops a desk that does not answer within half of it.
HEARTBEAT_S = 20.0
# How long a replacing or shutting-down desk waits for the old one to be gone.
CLOSE_WAIT_S = 5.0

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Permissions-Policy": "microphone=(self), camera=()",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class OpenDesks:
    """The open desks, one per agent id (no module-global registry)."""

    def __init__(self) -> None:
        self._by_agent: dict[str, DeskConnection] = {}

    def __len__(self) -> int:
        return len(self._by_agent)

    def get(self, agent_id: str) -> DeskConnection | None:
        """The agent's current desk."""
        return self._by_agent.get(agent_id)

    def claim(self, desk: DeskConnection) -> DeskConnection | None:
        """Make `desk` its agent's desk; the one it replaces, if any."""
        previous = self._by_agent.get(desk.agent_id)
        self._by_agent[desk.agent_id] = desk
        return previous

    def release(self, desk: DeskConnection) -> None:
        """Forget `desk` unless another desk replaced it already."""
        if self._by_agent.get(desk.agent_id) is desk:
            del self._by_agent[desk.agent_id]

    async def close_all(self) -> None:
        """Close every desk and wait until the service was told about each."""
        desks = list(self._by_agent.values())
        for desk in desks:
            desk.close_soon(WSCloseCode.GOING_AWAY, "server shutdown")
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                for desk in desks:
                    await desk.done.wait()
        except TimeoutError:
            log.warning("%d desks still open after %.0f s",
                        sum(not d.done.is_set() for d in desks), CLOSE_WAIT_S)


DESK_SERVICE: web.AppKey[DeskService] = web.AppKey("desk_service")
DESKS: web.AppKey[OpenDesks] = web.AppKey("desks", OpenDesks)
DESK_PAGE: web.AppKey[bytes] = web.AppKey("desk_page", bytes)
DESK_QUEUE: web.AppKey[int] = web.AppKey("desk_queue", int)
DESK_HEARTBEAT: web.AppKey[float] = web.AppKey("desk_heartbeat", float)
DESK_RECHECK: web.AppKey[float] = web.AppKey("desk_recheck", float)


async def desk_page(request: web.Request) -> web.Response:
    """The agent's page."""
    return web.Response(
        body=request.app[DESK_PAGE], content_type="text/html", charset="utf-8",
        headers=PAGE_HEADERS,
    )


async def desk_socket(request: web.Request) -> web.StreamResponse:
    """The agent's desk: see the module doc and `web.desk.link`."""
    who = principal(request)
    agent_id = who.name
    app = request.app
    service, desks = app[DESK_SERVICE], app[DESKS]
    ws = web.WebSocketResponse(heartbeat=app[DESK_HEARTBEAT], max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    desk = DeskConnection(agent_id, ws, service, queue_size=app[DESK_QUEUE],
                          still_authorized=login_check(request, who),
                          recheck=app[DESK_RECHECK])
    previous = desks.claim(desk)
    connected = False
    try:
        if previous is not None:
            previous.close_soon(REPLACED, "replaced")
            try:
                await asyncio.wait_for(previous.done.wait(), CLOSE_WAIT_S)
            except TimeoutError:
                log.warning("the replaced desk of %s is slow to close", agent_id)
        if desks.get(agent_id) is not desk:
            # A third socket came while this one waited: it wins.
            await close_quietly(ws, REPLACED, "replaced")
            return ws
        try:
            await service.connect(desk)
        except DeskError as exc:
            await ws.send_json(exc.to_json())
            await close_quietly(ws, REFUSED, exc.code)
            return ws
        connected = True
        await desk.serve()
    finally:
        desks.release(desk)
        try:
            if connected:
                await service.disconnect(desk)
        finally:
            desk.done.set()
            await close_quietly(ws, *desk.close_reason)
    return ws


async def _close_desks(app: web.Application) -> None:
    await app[DESKS].close_all()


def add_desk_routes(
    app: web.Application,
    service: DeskService,
    *,
    queue_size: int = SEND_QUEUE,
    heartbeat: float = HEARTBEAT_S,
    recheck: float = RECHECK_S,
) -> None:
    """Mount the desk page, its static files and its WebSocket on `app`, over `service`.

    `queue_size` bounds each desk's send queue; `heartbeat` is the WebSocket ping interval
    in seconds; every `recheck` seconds an open desk checks its login is still good
    (`web.socket_login`). Open desks are closed when the application shuts down.
    """
    app[DESK_SERVICE] = service
    app[DESKS] = OpenDesks()
    app[DESK_PAGE] = (STATIC_DIR / "desk.html").read_bytes()
    app[DESK_QUEUE] = queue_size
    app[DESK_HEARTBEAT] = heartbeat
    app[DESK_RECHECK] = recheck
    require_page(app, app.router.add_get("/desk", desk_page), Role.AGENT)
    require(app, app.router.add_static("/desk/static", STATIC_DIR), Role.AGENT)
    add_common_static(app)  # /common/static: the modules every page shares
    require(app, app.router.add_get("/api/desk/ws", desk_socket), Role.AGENT)
    app.on_shutdown.append(_close_desks)
