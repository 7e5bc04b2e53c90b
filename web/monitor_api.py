"""Supervisor monitoring and conference parties of a call in progress, over HTTP.

    POST   /api/calls/{call_id}/monitor   {mode: listen|whisper|barge, sdp: <offer>}
                                           -> 201 {sdp: <answer>, mode}   (supervisor)
    PATCH  /api/calls/{call_id}/monitor   {mode}   -> 200 {mode}           (supervisor)
    DELETE /api/calls/{call_id}/monitor             -> 204                  (supervisor)
    POST   /api/calls/{call_id}/parties   {agent: id} | {number: "+34..."} | {queue: name}
                                           -> 201 {party, mode: "both"}
                                           (the call's own agent, or a supervisor: 403
                                           `not_your_call` for another agent)

The supervisor's browser posts its complete WebRTC offer (ICE gathered, as the desk does) and
gets the answer back; its leg joins the call once its media flows. The service behind these
routes is `voice.conference_monitor.Monitors` (wired in the composition root); its refusals
come back as `{"error": {code, message, where}}` with their status.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from web.auth.access import require
from web.auth.http import json_error
from web.auth.roles import Role
from web.auth.service import principal
from web.jsonbody import JsonBodyError, read_json_object


class MonitorRefused(Protocol):
    status: int
    code: str
    message: str
    where: str | None


class MonitorService(Protocol):
    """What the routes need (`voice.conference_monitor.Monitors`)."""

    async def join(self, call_id: str, supervisor: str, mode: object, sdp: object) -> str: ...

    async def set_mode(self, call_id: str, supervisor: str, mode: object) -> None: ...

    async def leave(self, call_id: str, supervisor: str) -> None: ...

    async def add_agent(self, call_id: str, agent_id: str, *, by: str | None = None) -> None: ...

    async def add_number(self, call_id: str, number: str, *, by: str | None = None) -> None: ...

    async def add_queue(self, call_id: str, queue: str, *, by: str | None = None) -> None: ...


class MonitorApi:
    def __init__(self, service: MonitorService, refused: type[Exception]) -> None:
        self.service = service
        self.refused = refused

    async def _body(self, request: web.Request) -> dict[str, Any]:
        """The JSON object posted, bounded in size and depth (`web.jsonbody`)."""
        try:
            return await read_json_object(request)
        except JsonBodyError as exc:
            raise _Bad(exc.code, exc.message, exc.where) from exc

    def _error(self, exc: Exception) -> web.Response:
        if isinstance(exc, _Bad):
            return json_error(400, exc.code, exc.message, where=exc.where)
        err: MonitorRefused = exc  # type: ignore[assignment]
        return json_error(err.status, err.code, err.message, where=err.where)

    async def join(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            answer = await self.service.join(request.match_info["call_id"],
                                             principal(request).name, body.get("mode"),
                                             body.get("sdp"))
        except (_Bad, self.refused) as exc:
            return self._error(exc)
        return web.json_response({"sdp": answer, "mode": body.get("mode")}, status=201)

    async def switch(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            await self.service.set_mode(request.match_info["call_id"],
                                        principal(request).name, body.get("mode"))
        except (_Bad, self.refused) as exc:
            return self._error(exc)
        return web.json_response({"mode": body.get("mode")})

    async def leave(self, request: web.Request) -> web.Response:
        try:
            await self.service.leave(request.match_info["call_id"], principal(request).name)
        except self.refused as exc:
            return self._error(exc)
        return web.Response(status=204)

    async def add_party(self, request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        who = principal(request)
        # An agent adds to their own call only; a supervisor or an admin to any.
        by = who.name if who.role < Role.SUPERVISOR else None
        try:
            body = await self._body(request)
            given = [key for key in ("agent", "number", "queue") if body.get(key) is not None]
            if len(given) != 1:
                raise _Bad("bad_party", "give exactly one of agent, number or queue", "agent")
            key = given[0]
            value = body[key]
            if not isinstance(value, str) or not value.strip():
                raise _Bad("bad_party", f"{key} must be text", key)
            if key == "agent":
                await self.service.add_agent(call_id, value, by=by)
                party = f"agent:{value}"
            elif key == "number":
                await self.service.add_number(call_id, value, by=by)
                party = "number"
            else:
                await self.service.add_queue(call_id, value, by=by)
                party = f"queue:{value}"
        except (_Bad, self.refused) as exc:
            return self._error(exc)
        return web.json_response({"party": party, "mode": "both"}, status=201)


class _Bad(Exception):
    def __init__(self, code: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where


def add_monitor_routes(app: web.Application, api: MonitorApi) -> None:
    r = app.router
    require(app, r.add_post("/api/calls/{call_id}/monitor", api.join), Role.SUPERVISOR)
    require(app, r.add_patch("/api/calls/{call_id}/monitor", api.switch), Role.SUPERVISOR)
    require(app, r.add_delete("/api/calls/{call_id}/monitor", api.leave), Role.SUPERVISOR)
    require(app, r.add_post("/api/calls/{call_id}/parties", api.add_party), Role.AGENT)
