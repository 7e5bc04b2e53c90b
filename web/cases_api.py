"""HTTP and WebSocket API of the shared case.

    GET /api/cases/{id}           the case timeline (customer, identities, interactions with
                                  their transcript segments, notes) as JSON
    GET /api/cases/{id}/live      WebSocket: a "snapshot" message with the timeline, then every
                                  event published on the case (segments as they are stored)
    GET /api/calls/{call_id}/case {"case_id": n} for the case a call landed on

Errors are JSON `{"error": {"code", "message", "where"?}}`: 400 for a malformed id, 404 for an
unknown one, 503 when the database fails. Handlers stay thin (STYLE.md §13): they parse, ask
the `CaseStore`, serialise.

Every route needs the agent role (`web.auth`); the live WebSocket authenticates like the
rest (session cookie, bearer token, or `?access_token=` on the handshake). Not yet: any
agent reads every case; limiting agents to their own cases comes with the agent desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from cases.errors import CaseError, InvalidInput, NotFound
from cases.events import EventBus, Subscription
from cases.store import CaseStore
from cases.validate import MAX_ID
from web.auth import Role, require

log = logging.getLogger(__name__)

CASE_STORE: web.AppKey[CaseStore] = web.AppKey("case_store", CaseStore)
CASE_EVENTS: web.AppKey[EventBus] = web.AppKey("case_events")


class LiveViewers:
    """The open live WebSockets, so shutdown can close them (no module-global set)."""

    def __init__(self) -> None:
        self._sockets: set[web.WebSocketResponse] = set()

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, ws: web.WebSocketResponse) -> None:
        self._sockets.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._sockets.discard(ws)

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


LIVE_VIEWERS: web.AppKey[LiveViewers] = web.AppKey("case_live_viewers", LiveViewers)

# aiohttp pings at this interval and drops a viewer that does not answer within half of it:
# a browser tab that went away stops holding a subscription within half a minute.
LIVE_HEARTBEAT_S = 20.0
LIVE_HEARTBEAT: web.AppKey[float] = web.AppKey("case_live_heartbeat", float)


def _error(status: int, code: str, message: str, where: str | None = None) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message}
    if where is not None:
        body["where"] = where
    return web.json_response({"error": body}, status=status)


def _from_case_error(exc: CaseError) -> web.Response:
    if isinstance(exc, NotFound):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, InvalidInput):
        return _error(400, "invalid_input", exc.what, exc.where)
    log.warning("case store unavailable: %s", exc)
    return _error(503, "storage_unavailable", "the case store is unavailable")


def _case_id(request: web.Request) -> int | web.Response:
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit():
        return _error(400, "invalid_id", f"case id must be a positive integer, got {raw!r}", "id")
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        return _error(404, "not_found", f"case {value} not found")
    return value


async def get_case(request: web.Request) -> web.Response:
    """The timeline of one case."""
    case_id = _case_id(request)
    if isinstance(case_id, web.Response):
        return case_id
    try:
        timeline = await request.app[CASE_STORE].timeline(case_id)
    except CaseError as exc:
        return _from_case_error(exc)
    return web.json_response(timeline)


async def get_call_case(request: web.Request) -> web.Response:
    """Which case a call (by its SIP Call-ID or Twilio CallSid) landed on."""
    call_id = request.match_info["call_id"]
    try:
        case_id = await request.app[CASE_STORE].find_case_by_call(call_id)
    except CaseError as exc:
        return _from_case_error(exc)
    if case_id is None:
        return _error(404, "not_found", "no case for this call")
    return web.json_response({"case_id": case_id})


async def case_live(request: web.Request) -> web.StreamResponse:
    """Snapshot, then live events of one case, over a WebSocket.

    The subscription starts before the snapshot is read, so nothing falls between them; an
    event may repeat a segment already in the snapshot (clients de-duplicate by id). When the
    viewer falls behind, the oldest events are dropped and a {"type": "gap"} message says how
    many: reload the timeline.
    """
    case_id = _case_id(request)
    if isinstance(case_id, web.Response):
        return case_id
    async with request.app[CASE_EVENTS].subscribe(f"case:{case_id}") as events:
        try:
            timeline = await request.app[CASE_STORE].timeline(case_id)
        except CaseError as exc:
            return _from_case_error(exc)
        ws = web.WebSocketResponse(heartbeat=request.app[LIVE_HEARTBEAT])
        await ws.prepare(request)
        viewers = request.app[LIVE_VIEWERS]
        viewers.add(ws)
        pusher = asyncio.create_task(_push(ws, events, timeline))
        try:
            async for msg in ws:
                # Viewers only listen; anything they send is ignored, close ends the loop.
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            viewers.discard(ws)
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
            await ws.close()
    return ws


async def _push(ws: web.WebSocketResponse, events: Subscription, timeline: dict[str, object]) -> None:
    try:
        await ws.send_json({"type": "snapshot", "timeline": timeline})
        reported = 0
        async for event in events:
            if events.dropped > reported:
                await ws.send_json({"type": "gap", "dropped": events.dropped - reported})
                reported = events.dropped
            await ws.send_json(event)
    except ConnectionResetError:
        # The viewer went away mid-send; the reader loop sees the close and cleans up.
        return


async def _close_live_sockets(app: web.Application) -> None:
    await app[LIVE_VIEWERS].close_all()


def add_case_routes(
    app: web.Application,
    store: CaseStore,
    bus: EventBus,
    *,
    heartbeat: float = LIVE_HEARTBEAT_S,
) -> None:
    """Mount the case API on `app`, with `store` and `bus` under typed keys.

    `heartbeat` is the live WebSocket's ping interval in seconds. Open live sockets are
    closed when the application shuts down; `store` and `bus` stay the caller's to close.
    """
    app[CASE_STORE] = store
    app[LIVE_HEARTBEAT] = heartbeat
    app[CASE_EVENTS] = bus
    app[LIVE_VIEWERS] = LiveViewers()
    require(app, app.router.add_get("/api/cases/{id}", get_case), Role.AGENT)
    require(app, app.router.add_get("/api/cases/{id}/live", case_live), Role.AGENT)
    require(app, app.router.add_get("/api/calls/{call_id}/case", get_call_case), Role.AGENT)
    app.on_shutdown.append(_close_live_sockets)
