"""HTTP and WebSocket API of the shared case.

    GET /api/cases/{id}           the case timeline (customer, identities, interactions with
                                  their transcript segments, notes) as JSON
    GET /api/cases/{id}/live      WebSocket: a "snapshot" message with the timeline, then every
                                  event published on the case (segments as they are stored)
    GET /api/calls/{call_id}/case {"case_id": "<public id>"} for the case a call landed on
    GET    /api/cases/{id}/shares          {"shares": [{user, shared_by, at}]}
    POST   /api/cases/{id}/shares          {"user": name}: share the case (201, or 200 if shared)
    DELETE /api/cases/{id}/shares/{user}   withdraw (its user, who shared it, a supervisor)

`{id}` and every `case_id` these routes answer with is the case's random public id
(`cases.models.new_public_id`), never its sequential key: one case's address says nothing
about another's, and the integer ids of old links no longer resolve.

Errors are JSON `{"error": {"code", "message", "where"?}}`: 400 for a malformed id, 404 for an
unknown one and for one the viewer may not read (`web.case_access`: agents see the cases of
their offers, calls and recent contacts; supervisors their teams'; admins all), 403 for a
supervisor asking for a case outside their teams, 503 when the database fails. Handlers stay
thin (STYLE.md §13): they parse, ask `CaseAccess` and the `CaseStore`, serialise.

Every route needs the agent role (`web.auth`); the live WebSocket authenticates like the
rest (session cookie, bearer token, or `?access_token=` on the handshake), and re-checks
that login every `recheck` seconds and before every push (`web.socket_login`): once it ended
(logged out, user disabled or changed, token revoked) the socket is closed with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSMsgType, web

from cases.errors import CaseError
from cases.events import EventBus, Subscription
from cases.store import CaseStore
from web.auth import Role, require
from web.auth.service import AUTH, PRINCIPAL
from web.case_access import CaseAccess, Verdict
from web.case_http import (
    CASE_ACCESS,
    CASE_STORE,
    OpenSockets,
    body_fields,
    error,
    from_case_error,
    public_view,
    readable,
    refused,
    viewer_of,
)
from web.socket_login import LOGGED_OUT, RECHECK_S, Authorized, login_check, watch_login

log = logging.getLogger(__name__)

CASE_EVENTS: web.AppKey[EventBus] = web.AppKey("case_events")
LIVE_RECHECK: web.AppKey[float] = web.AppKey("case_live_recheck", float)

LIVE_VIEWERS: web.AppKey[OpenSockets] = web.AppKey("case_live_viewers", OpenSockets)

# aiohttp pings at this interval and drops a viewer that does not answer within half of it:
# a browser tab that went away stops holding a subscription within half a minute.
LIVE_HEARTBEAT_S = 20.0
LIVE_HEARTBEAT: web.AppKey[float] = web.AppKey("case_live_heartbeat", float)


async def get_case(request: web.Request) -> web.Response:
    """The timeline of one case."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    try:
        timeline = await request.app[CASE_STORE].timeline(case_id)
    except CaseError as exc:
        return from_case_error(exc)
    return web.json_response(public_view(timeline, case_id, public_id))


async def list_shares(request: web.Request) -> web.Response:
    """Who the case is shared with (anyone who may read the case may ask)."""
    found = await readable(request, request.match_info["id"])
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    try:
        shared = await request.app[CASE_STORE].case_shares(case_id)
    except CaseError as exc:
        return from_case_error(exc)
    return web.json_response({"shares": [s.to_json() for s in shared]})


async def add_share(request: web.Request) -> web.Response:
    """Share the case with another user, {"user": name}: whoever may read a case may bring a
    colleague in (201; 200 if it was shared already). The user must exist and be enabled."""
    found = await readable(request, request.match_info["id"])
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    body = await body_fields(request, {"user"})
    if isinstance(body, web.Response):
        return body
    user = body.get("user")
    if not isinstance(user, str) or not user:
        return error(400, "invalid_input", "the user to share the case with is required", "user")
    auth = request.config_dict.get(AUTH)
    target = await auth.users.get_user(user) if auth is not None else None
    if target is None or target.disabled:
        return error(400, "invalid_input", "no such enabled user", "user")
    try:
        share, new = await request.app[CASE_STORE].share_case(case_id, user, by=viewer.name)
    except CaseError as exc:
        return from_case_error(exc)
    if new:
        log.info("case %s shared with %s by %s", request.match_info["id"], user, viewer.name)
    return web.json_response(share.to_json(), status=201 if new else 200)


async def remove_share(request: web.Request) -> web.Response:
    """Withdraw a share: its user, whoever shared it, or a supervisor or admin (204)."""
    found = await readable(request, request.match_info["id"])
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    user = request.match_info["user"]
    store = request.app[CASE_STORE]
    try:
        shared = {s.user: s for s in await store.case_shares(case_id)}
        share = shared.get(user)
        if share is None:
            return error(404, "not_found", "the case is not shared with this user")
        if viewer.role < Role.SUPERVISOR and viewer.name not in (user, share.shared_by):
            return error(403, "forbidden",
                          "only its user, who shared it, or a supervisor may withdraw a share")
        await store.unshare_case(case_id, user)
    except CaseError as exc:
        return from_case_error(exc)
    return web.Response(status=204)


async def get_call_case(request: web.Request) -> web.Response:
    """Which case a call (by its SIP Call-ID or Twilio CallSid) landed on, if the viewer may
    read it (else 404, as for a call with no case)."""
    viewer = viewer_of(request)
    if viewer is None:
        return error(401, "unauthorized", "log in first")
    call_id = request.match_info["call_id"]
    store = request.app[CASE_STORE]
    try:
        case_id = await store.find_case_by_call(call_id)
        if case_id is None:
            return error(404, "not_found", "no case for this call")
        verdict = await request.app[CASE_ACCESS].check(viewer, case_id)
        if verdict is not Verdict.ALLOWED:
            return refused(verdict, "the case of this call") if verdict is Verdict.FORBIDDEN \
                else error(404, "not_found", "no case for this call")
        public_id = await store.public_id(case_id)
    except CaseError as exc:
        return from_case_error(exc)
    return web.json_response({"case_id": public_id})


async def case_live(request: web.Request) -> web.StreamResponse:
    """Snapshot, then live events of one case, over a WebSocket.

    The subscription starts before the snapshot is read, so nothing falls between them; an
    event may repeat a segment already in the snapshot (clients de-duplicate by id). When the
    viewer falls behind, the oldest events are dropped and a {"type": "gap"} message says how
    many: reload the timeline.
    """
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    app = request.app
    check = login_check(request, request[PRINCIPAL])
    async with app[CASE_EVENTS].subscribe(f"case:{case_id}") as events:
        try:
            timeline = await app[CASE_STORE].timeline(case_id)
        except CaseError as exc:
            return from_case_error(exc)
        ws = web.WebSocketResponse(heartbeat=app[LIVE_HEARTBEAT])
        await ws.prepare(request)
        viewers = app[LIVE_VIEWERS]
        viewers.add(ws)

        async def logged_out() -> None:
            await ws.close(code=LOGGED_OUT, message=b"logged out")

        tasks = [asyncio.create_task(
            _push(ws, events, public_view(timeline, case_id, public_id), case_id, public_id, check))]
        if check is not None:
            tasks.append(asyncio.create_task(watch_login(
                check, logged_out, interval=app[LIVE_RECHECK], what=f"case {public_id} viewer")))
        try:
            async for msg in ws:
                # Viewers only listen; anything they send is ignored, close ends the loop.
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            viewers.discard(ws)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ws.close()
    return ws


async def _push(
    ws: web.WebSocketResponse, events: Subscription, timeline: dict[str, object],
    case_id: int, public_id: str, check: Authorized | None,
) -> None:
    async def send(message: object) -> bool:
        if check is not None and not await check(fresh=False):
            await ws.close(code=LOGGED_OUT, message=b"logged out")
            return False
        await ws.send_json(message)
        return True

    try:
        if not await send({"type": "snapshot", "timeline": timeline}):
            return
        reported = 0
        async for event in events:
            if events.dropped > reported:
                if not await send({"type": "gap", "dropped": events.dropped - reported}):
                    return
                reported = events.dropped
            if not await send(public_view(event, case_id, public_id)):
                return
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
    access: CaseAccess | None = None,
    recheck: float = RECHECK_S,
) -> None:
    """Mount the case API on `app`, with `store` and `bus` under typed keys.

    `access` decides who reads which case (default: `CaseAccess(store)`, no teams and no
    live offers, so agents see only the cases they worked on). `heartbeat` is the live
    WebSocket's ping interval and `recheck` how often it re-checks its login, in seconds.
    Open live sockets are closed when the application shuts down; `store` and `bus` stay
    the caller's to close.
    """
    app[CASE_STORE] = store
    app[CASE_ACCESS] = access if access is not None else CaseAccess(store)
    app[LIVE_RECHECK] = recheck
    app[LIVE_HEARTBEAT] = heartbeat
    app[CASE_EVENTS] = bus
    app[LIVE_VIEWERS] = OpenSockets()
    require(app, app.router.add_get("/api/cases/{id}", get_case), Role.AGENT)
    require(app, app.router.add_get("/api/cases/{id}/live", case_live), Role.AGENT)
    require(app, app.router.add_get("/api/calls/{call_id}/case", get_call_case), Role.AGENT)
    require(app, app.router.add_get("/api/cases/{id}/shares", list_shares), Role.AGENT)
    require(app, app.router.add_post("/api/cases/{id}/shares", add_share), Role.AGENT)
    require(app, app.router.add_delete("/api/cases/{id}/shares/{user}", remove_share),
            Role.AGENT)
    app.on_shutdown.append(_close_live_sockets)
