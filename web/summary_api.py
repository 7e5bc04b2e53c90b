"""HTTP API of interaction summaries and case facts (`cases.summary`, `cases.facts`).

    GET /api/cases/{id}/facts                          {"facts": [...]} with their sources
    GET /api/cases/{id}/interactions/{iid}/summary     {"summary": {...} | null}
    PUT /api/cases/{id}/interactions/{iid}/summary     {"text"?, "next_steps"?, "outcome"?}:
                                                       the agent's edit before sending it on

Whoever may read the case may read and edit its summaries (`web.case_http.readable`: an
agent gets 404 for a case they may not read, like for none). Errors are the case API's JSON
`{"error": {"code", "message", "where"?}}`: 400 with `where` naming the bad field, 404 for an
interaction that is not the case's. An edit is masked like the summary (a card number typed
into it keeps only its last four digits) and kept when the summary is remade.
"""

from __future__ import annotations

import logging

from aiohttp import web

from cases.errors import CaseError
from cases.summary import EDITABLE
from web.auth import Role, require
from web.case_http import CASE_STORE, body_fields, error, from_case_error, public_view, readable

log = logging.getLogger(__name__)


def _interaction_id(request: web.Request) -> int | web.Response:
    raw = request.match_info["iid"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return error(400, "invalid_id", f"not an interaction id: {raw[:40]!r}", "iid")
    return int(raw)


async def get_facts(request: web.Request) -> web.Response:
    """The case's facts, oldest first."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    try:
        facts = await request.app[CASE_STORE].facts(case_id)
    except CaseError as exc:
        return from_case_error(exc)
    return web.json_response({"facts": public_view(facts, case_id, public_id)})


async def get_summary(request: web.Request) -> web.Response:
    """One interaction's stored summary (null until one is made)."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    iid = _interaction_id(request)
    if isinstance(iid, web.Response):
        return iid
    try:
        summary = await request.app[CASE_STORE].interaction_summary(case_id, iid)
    except CaseError as exc:
        return from_case_error(exc)
    return web.json_response({"summary": summary})


async def put_summary(request: web.Request) -> web.Response:
    """The agent's edit of a summary: any of `text`, `next_steps`, `outcome`."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    iid = _interaction_id(request)
    if isinstance(iid, web.Response):
        return iid
    body = await body_fields(request, EDITABLE)
    if isinstance(body, web.Response):
        return body
    try:
        summary = await request.app[CASE_STORE].edit_summary(case_id, iid, body, by=viewer.name)
    except CaseError as exc:
        return from_case_error(exc)
    log.info("summary of interaction %d on case %s edited by %s", iid, public_id, viewer.name)
    return web.json_response({"summary": summary})


def add_summary_routes(app: web.Application) -> None:
    """Mount the routes on `app`, which already has the case API (`add_case_routes`: the
    case store and access rules under their keys)."""
    require(app, app.router.add_get("/api/cases/{id}/facts", get_facts), Role.AGENT)
    require(app, app.router.add_get(
        "/api/cases/{id}/interactions/{iid}/summary", get_summary), Role.AGENT)
    require(app, app.router.add_put(
        "/api/cases/{id}/interactions/{iid}/summary", put_summary), Role.AGENT)
