"""The review API of call recordings: find, read, play (with seeking), hold, delete.

    GET    /api/recordings?interaction=ID       the recordings you may see (newest first)
    GET    /api/recordings/{id}                 one recording's metadata, paused spans included
    GET    /api/recordings/{id}/audio           the file (Range: bytes=a-b for seeking;
                                                ?download=1 as an attachment)
    POST   /api/recordings/{id}/hold            legal hold on (supervisor, admin)
    DELETE /api/recordings/{id}/hold            legal hold off (supervisor, admin)
    DELETE /api/recordings/{id}                 file removed, row marked deleted (admin;
                                                409 while on hold)

Who sees what: an admin every recording; an agent those of the interactions they handled
(the interaction's `agent`); a supervisor their own and their teams' agents' (routing file
`teams:`; with no teams configured, every recording, as for cases: `web.case_access`).
Anyone else gets 403 `forbidden`; an unknown id 404.

Every request that names a recording or an interaction, allowed or refused, is written to
the audit (`recordings.audit`) before the answer goes out: who, role, action, what, result,
status. The routes are open to every signed-in role at the door (`require(..., AGENT)`) so
that a refused attempt reaches this module and is audited, rather than stopped unrecorded
by the auth middleware.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from recordings.audit import Access
from recordings.service import RecordingHeld, Recordings
from recordings.storage import RecordingRow
from web.auth.access import require
from web.auth.http import json_error
from web.auth.roles import Role
from web.auth.service import Principal, principal
from web.case_access import Teams

CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_ID = re.compile(r"[0-9a-f]{1,64}$")


class HandledBy(Protocol):
    """Who handled a recording's interaction (`centralita.recording.CaseInteractions`)."""

    async def agent_of(self, row: RecordingRow) -> str | None: ...


class RecordingsApi:
    """The handlers (see the module doc); `wall` is the audit's clock (UNIX seconds)."""

    def __init__(self, recordings: Recordings, handled: HandledBy, teams: Teams | None = None,
                 *, wall: Callable[[], float] = time.time) -> None:
        self.recordings = recordings
        self.index = recordings.index
        self.handled = handled
        self.teams = teams or Teams()
        self.wall = wall

    # -- access and audit ----------------------------------------------------------------------
    async def may_see(self, who: Principal, row: RecordingRow) -> bool:
        if who.role >= Role.ADMIN:
            return True
        agent = await self.handled.agent_of(row)
        if agent is not None and agent == who.name:
            return True
        if who.role < Role.SUPERVISOR:
            return False
        if not self.teams.configured:
            return True
        return agent is not None and agent in self.teams.agents_of.get(who.name, frozenset())

    async def audit(self, who: Principal, action: str, result: str, status: int, *,
                    recording: RecordingRow | None = None, recording_id: str | None = None,
                    interaction_id: int | None = None) -> None:
        await self.index.audit.write(Access(
            self.wall(), who.name, who.role.label, action, result, status,
            recording.id if recording is not None else recording_id,
            recording.interaction_id if recording is not None else interaction_id))

    async def _load(self, request: web.Request, action: str
                    ) -> tuple[Principal, RecordingRow | web.Response]:
        """The recording the URL names if the principal may see it, else the (audited)
        refusal to send."""
        who = principal(request)
        rid = request.match_info["id"]
        if not _ID.match(rid):
            await self.audit(who, action, "invalid", 400)
            return who, json_error(400, "invalid_id", "a recording id is 1-64 hex digits",
                                   where="path.id")
        row = await self.index.get(rid)
        if row is None:
            await self.audit(who, action, "not_found", 404, recording_id=rid)
            return who, json_error(404, "not_found", "no such recording", where="path.id")
        if not await self.may_see(who, row):
            await self.audit(who, action, "forbidden", 403, recording=row)
            return who, json_error(403, "forbidden", "this recording is not yours to see")
        return who, row

    # -- handlers ------------------------------------------------------------------------------
    async def list(self, request: web.Request) -> web.Response:
        who = principal(request)
        raw = request.query.get("interaction")
        interaction: int | None = None
        if raw is not None:
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
                await self.audit(who, "list", "invalid", 400)
                return json_error(400, "invalid_query", "interaction must be a positive integer",
                                  where="query.interaction")
            interaction = int(raw)
        agents: frozenset[str] | None = None
        if interaction is None and who.role < Role.ADMIN:
            if who.role >= Role.SUPERVISOR and not self.teams.configured:
                agents = None
            else:
                agents = frozenset({who.name}) | (
                    self.teams.agents_of.get(who.name, frozenset())
                    if who.role >= Role.SUPERVISOR else frozenset())
        rows = await self.index.find(interaction_id=interaction, agents=agents)
        visible = [r for r in rows if await self.may_see(who, r)]
        if rows and not visible:
            await self.audit(who, "list", "forbidden", 403, interaction_id=interaction)
            return json_error(403, "forbidden", "these recordings are not yours to see")
        await self.audit(who, "list", "ok", 200, interaction_id=interaction)
        return web.json_response({"recordings": [r.to_json() for r in visible]})

    async def get(self, request: web.Request) -> web.Response:
        who, row = await self._load(request, "read")
        if isinstance(row, web.Response):
            return row
        await self.audit(who, "read", "ok", 200, recording=row)
        return web.json_response(row.to_json())

    async def audio(self, request: web.Request) -> web.StreamResponse:
        download = request.query.get("download") == "1"
        action = "download" if download else "play"
        who, row = await self._load(request, action)
        if isinstance(row, web.Response):
            return row
        if row.deleted_wall is not None:
            await self.audit(who, action, "gone", 410, recording=row)
            return json_error(410, "deleted", "this recording was deleted")
        storage = self.recordings.storage
        try:
            size = await asyncio.to_thread(storage.size, row.location)
        except (OSError, ValueError):
            await self.audit(who, action, "error", 404, recording=row)
            return json_error(404, "no_file", "the recording's file is missing")
        start, end, status = 0, size - 1, 200
        header = request.headers.get("Range")
        if header is not None:
            parsed = _parse_range(header, size)
            if parsed is None:
                await self.audit(who, action, "invalid", 416, recording=row)
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            start, end = parsed
            status = 206
        await self.audit(who, action, "ok", status, recording=row)
        response = web.StreamResponse(status=status, headers={
            "Content-Type": "audio/ogg" if row.codec == "opus" else "audio/wav",
            "Accept-Ranges": "bytes", "Content-Length": str(end - start + 1),
            "Cache-Control": "private, no-store"})
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if download:
            ext = "opus" if row.codec == "opus" else "wav"
            response.headers["Content-Disposition"] = (
                f'attachment; filename="recording-{row.id}.{ext}"')
        await response.prepare(request)
        at = start
        while at <= end:
            block = await asyncio.to_thread(storage.read, row.location, at,
                                            min(CHUNK, end - at + 1))
            if not block:
                break
            await response.write(block)
            at += len(block)
        await response.write_eof()
        return response

    async def hold(self, request: web.Request) -> web.Response:
        held = request.method == "POST"
        action = "hold" if held else "release"
        who, row = await self._load(request, action)
        if isinstance(row, web.Response):
            return row
        if who.role < Role.SUPERVISOR:
            await self.audit(who, action, "forbidden", 403, recording=row)
            return json_error(403, "forbidden", "a legal hold needs a supervisor or an admin")
        done = await self.recordings.hold(row.id, held, by=who.name)
        await self.audit(who, action, "ok", 200, recording=row)
        return web.json_response((done or row).to_json())

    async def delete(self, request: web.Request) -> web.Response:
        who, row = await self._load(request, "delete")
        if isinstance(row, web.Response):
            return row
        if who.role < Role.ADMIN:
            await self.audit(who, "delete", "forbidden", 403, recording=row)
            return json_error(403, "forbidden", "only an admin deletes a recording")
        try:
            done = await self.recordings.delete(row.id, reason="admin")
        except RecordingHeld:
            await self.audit(who, "delete", "conflict", 409, recording=row)
            return json_error(409, "on_hold", "the recording is on legal hold")
        except ValueError as exc:
            await self.audit(who, "delete", "conflict", 409, recording=row)
            return json_error(409, "recording", str(exc))
        except OSError:
            await self.audit(who, "delete", "error", 500, recording=row)
            return json_error(500, "storage", "the recording's file could not be deleted")
        await self.audit(who, "delete", "ok", 200, recording=row)
        return web.json_response((done or row).to_json())


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`; None if unsatisfiable
    or malformed (several ranges are not served)."""
    m = _RANGE.match(header.strip())
    if m is None or size == 0 or (not m[1] and not m[2]):
        return None
    if not m[1]:
        n = int(m[2])
        return (max(0, size - n), size - 1) if n > 0 else None
    start = int(m[1])
    end = min(int(m[2]), size - 1) if m[2] else size - 1
    return (start, end) if start <= end and start < size else None


def add_recording_routes(app: web.Application, api: RecordingsApi) -> None:
    """The routes of the module doc; every one open to signed-in users (see why there)."""
    r = app.router
    require(app, r.add_get("/api/recordings", api.list), Role.AGENT)
    require(app, r.add_get("/api/recordings/{id}", api.get), Role.AGENT)
    require(app, r.add_get("/api/recordings/{id}/audio", api.audio), Role.AGENT)
    require(app, r.add_post("/api/recordings/{id}/hold", api.hold), Role.AGENT)
    require(app, r.add_delete("/api/recordings/{id}/hold", api.hold), Role.AGENT)
    require(app, r.add_delete("/api/recordings/{id}", api.delete), Role.AGENT)
