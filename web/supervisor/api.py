"""Routes of the supervisor's page.

    GET /supervisor                  the page (supervisor role; anonymous visitors go to /login)
    GET /supervisor/static/{file}    its modules and style sheet (supervisor)
    GET /api/supervisor/ws           the live wallboard (supervisor): {"type": "snapshot", seq,
                                     board} then {"type": "delta", seq, changed, removed} as
                                     things change (`web.supervisor.feed`)
    GET /api/supervisor/history      ?since=&until= (UNIX s or ISO-8601) figures per queue,
                                     agent, hour and day as JSON; `&format=csv` as CSV (supervisor)

Listening, whispering and barging go through `web.monitor_api`; a call's live transcript is
the case's live socket (`/api/cases/{id}/live`). The socket re-checks its login like the
desk's (`web.socket_login`) and is closed when the application shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from web.auth import Role, principal, require, require_page
from web.auth.http import json_error
from web.case_http import OpenSockets
from web.common import add_common_static
from web.desk.api import PAGE_HEADERS
from web.socket_login import LOGGED_OUT, RECHECK_S, login_check, watch_login
from web.supervisor.feed import WallboardFeed

STATIC_DIR = Path(__file__).parent / "static"
HEARTBEAT_S = 20.0

History = Callable[[float | None, float | None], Awaitable[dict[str, Any]]]

FEED: web.AppKey[WallboardFeed] = web.AppKey("wallboard_feed")
HISTORY: web.AppKey[History] = web.AppKey("supervisor_history")
PAGE: web.AppKey[bytes] = web.AppKey("supervisor_page", bytes)
VIEWERS: web.AppKey[OpenSockets] = web.AppKey("wallboard_viewers", OpenSockets)
RECHECK: web.AppKey[float] = web.AppKey("wallboard_recheck", float)


async def page(request: web.Request) -> web.Response:
    return web.Response(body=request.app[PAGE], content_type="text/html", charset="utf-8",
                        headers=PAGE_HEADERS)


async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    """A snapshot, then deltas (see the module doc); the page sends nothing but pings."""
    app = request.app
    who = principal(request)
    check = login_check(request, who)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    viewers = app[VIEWERS]
    viewers.add(ws)

    async def logged_out() -> None:
        await ws.close(code=LOGGED_OUT, message=b"logged out")

    async with app[FEED].watch() as viewer:
        async def push() -> None:
            with contextlib.suppress(ConnectionResetError):
                while not ws.closed:
                    message = await viewer.next()
                    if check is not None and not await check(fresh=False):
                        await logged_out()
                        return
                    await ws.send_json(message)

        tasks = [asyncio.create_task(push(), name="wallboard-push")]
        if check is not None:
            tasks.append(asyncio.create_task(watch_login(
                check, logged_out, interval=app[RECHECK], what="wallboard viewer")))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and _is_ping(msg.data):
                    await ws.send_json({"type": "pong"})
                elif msg.type == WSMsgType.ERROR:
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


def _is_ping(data: str) -> bool:
    try:
        message = json.loads(data)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"


class _BadQuery(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} must be a UNIX time or an ISO-8601 date")
        self.where = f"query.{name}"


def _when(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise _BadQuery(name) from None


async def history(request: web.Request) -> web.StreamResponse:
    try:
        since, until = _when(request, "since"), _when(request, "until")
    except _BadQuery as exc:
        return json_error(400, "invalid_parameter", str(exc), where=exc.where)
    figures = await request.app[HISTORY](since, until)
    if request.query.get("format") != "csv":
        return web.json_response(figures)
    return web.Response(text=to_csv(figures), content_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="centralita-figures.csv"'})


CSV_FIELDS = ("offered", "answered", "abandoned", "asa", "aht", "abandonment_rate",
              "service_level")


def to_csv(figures: dict[str, Any]) -> str:
    """One line per queue, agent, queue-hour and queue-day: `scope, key, <figures>`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("scope", "key", *CSV_FIELDS))
    for scope in ("queues", "agents", "hours", "days"):
        for key, row in figures.get(scope, {}).items():
            writer.writerow((scope[:-1], key, *(_cell(row.get(f)) for f in CSV_FIELDS)))
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


async def _start(app: web.Application) -> None:
    await app[FEED].start()


async def _shutdown(app: web.Application) -> None:
    await app[VIEWERS].close_all()
    await app[FEED].close()


def add_supervisor_routes(app: web.Application, feed: WallboardFeed, figures: History, *,
                          recheck: float = RECHECK_S) -> None:
    """Mount the supervisor page, its static files, the wallboard socket and the history
    figures on `app`; the feed runs from start-up to shutdown."""
    app[FEED] = feed
    app[HISTORY] = figures
    app[PAGE] = (STATIC_DIR / "supervisor.html").read_bytes()
    app[VIEWERS] = OpenSockets()
    app[RECHECK] = recheck
    require_page(app, app.router.add_get("/supervisor", page), Role.SUPERVISOR)
    require(app, app.router.add_static("/supervisor/static", STATIC_DIR), Role.SUPERVISOR)
    add_common_static(app)  # /common/static: the modules every page shares
    require(app, app.router.add_get("/api/supervisor/ws", wallboard_socket), Role.SUPERVISOR)
    require(app, app.router.add_get("/api/supervisor/history", history), Role.SUPERVISOR)
    app.on_startup.append(_start)
    app.on_shutdown.append(_shutdown)
