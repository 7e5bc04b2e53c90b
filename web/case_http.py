"""What every case route shares: the case's app keys, the JSON error shape, and the one
"may this viewer read this case" gate (`readable`) over `web.case_access`.

The case API (`web.cases_api`) and the channels' case routes (`web.twilio_api`,
`web.email_api`, `web.chat_api`) all answer through these, so a case is refused the same way
everywhere: 400 for a malformed id, 404 for an unknown one and for one an agent may not read,
403 for a supervisor outside the team, 503 when the database fails.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import Any

from aiohttp import WSCloseCode, web

from cases.errors import CaseError, InvalidInput, NotFound
from cases.store import CaseStore
from web.auth.service import PRINCIPAL
from web.case_access import CaseAccess, Verdict, Viewer
from web.jsonbody import JsonBodyError, read_json_object

log = logging.getLogger(__name__)

CASE_STORE: web.AppKey[CaseStore] = web.AppKey("case_store", CaseStore)
CASE_ACCESS: web.AppKey[CaseAccess] = web.AppKey("case_access", CaseAccess)
# Public ids are 16 URL-safe characters; anything else cannot name a case.
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class OpenSockets:
    """Open WebSockets of one kind, so shutdown can close them (no module-global set)."""

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


def error(status: int, code: str, message: str, where: str | None = None) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message}
    if where is not None:
        body["where"] = where
    return web.json_response({"error": body}, status=status)


def from_case_error(exc: CaseError) -> web.Response:
    if isinstance(exc, NotFound):
        return error(404, "not_found", str(exc))
    if isinstance(exc, InvalidInput):
        return error(400, "invalid_input", exc.what, exc.where)
    log.warning("case store unavailable: %s", exc)
    return error(503, "storage_unavailable", "the case store is unavailable")


def viewer_of(request: web.Request) -> Viewer | None:
    who = request.get(PRINCIPAL)
    return None if who is None else Viewer(who.name, who.role)


def refused(verdict: Verdict, what: str) -> web.Response:
    if verdict is Verdict.FORBIDDEN:
        return error(403, "forbidden", f"{what} is not one of your teams' cases")
    return error(404, "not_found", f"{what} not found")


async def readable(
    request: web.Request, public_id: str
) -> tuple[int, Viewer] | web.Response:
    """The internal id of the case `public_id` names, if the viewer may read it; else the
    answer to give (an agent gets the same 404 for a case they may not see as for none)."""
    viewer = viewer_of(request)
    if viewer is None:  # no auth on this app: fail closed
        return error(401, "unauthorized", "log in first")
    if not PUBLIC_ID.match(public_id):
        return error(400, "invalid_id", f"not a case id: {public_id[:80]!r}", "id")
    try:
        case_id = await request.app[CASE_STORE].case_by_public_id(public_id)
        verdict = await request.app[CASE_ACCESS].check(viewer, case_id)
    except NotFound:
        return error(404, "not_found", f"case {public_id} not found")
    except CaseError as exc:
        return from_case_error(exc)
    if verdict is not Verdict.ALLOWED:
        return refused(verdict, f"case {public_id}")
    return case_id, viewer


def public_view(value: Any, case_id: int, public_id: str) -> Any:
    """`value` (a timeline or an event) with the case's internal id replaced by its public
    one wherever it names the case."""
    if isinstance(value, dict):
        out = {k: public_id if k == "case_id" and v == case_id else public_view(v, case_id, public_id)
               for k, v in value.items()}
        case = out.get("case")
        if isinstance(case, dict) and case.get("id") == case_id:
            out["case"] = {**case, "id": public_id}
        return out
    if isinstance(value, list):
        return [public_view(v, case_id, public_id) for v in value]
    return value


async def body_fields(request: web.Request, fields: Collection[str]) -> dict[str, Any] | web.Response:
    """The request's JSON object, holding none but `fields`; else the 400 to answer (bounded
    size and depth: `web.jsonbody`)."""
    try:
        body = await read_json_object(request)
    except JsonBodyError as exc:
        return exc.response()
    unknown = sorted(set(body) - set(fields))
    if unknown:
        return error(400, "invalid_input", "unknown field", unknown[0])
    return body
