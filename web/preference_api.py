"""HTTP API of a customer's preferred channel (`cases.preferences`), by their case.

    GET /api/cases/{id}/preferred_channel    {"channel", "source", "since"}           agent
    PUT /api/cases/{id}/preferred_channel    {"channel": sms|whatsapp|email|chat|voice  agent
                                             | null}: what the customer told the agent
                                             (null forgets it: inferred again)

`source` is "explicit" (the customer chose: by reply or through an agent), "inferred" (the
channel of most of their recent inbound contacts) or "none". The desk offers the preferred
channel first when it hands a case over. Whoever may read the case may read and set it
(`web.case_http.readable`: 404 for a case the agent may not read). Errors are the case API's
JSON `{"error": {"code", "message", "where"?}}`.
"""

from __future__ import annotations

import logging

from aiohttp import web

from cases.errors import CaseError
from cases.preferences import PreferenceStore
from web.auth import Role, require
from web.case_http import body_fields, error, from_case_error, readable

log = logging.getLogger(__name__)

PREFERENCES: web.AppKey[PreferenceStore] = web.AppKey("preferences", PreferenceStore)


async def get_preference(request: web.Request) -> web.Response:
    found = await readable(request, request.match_info["id"])
    if isinstance(found, web.Response):
        return found
    case_id, _ = found
    try:
        preference = await request.app[PREFERENCES].of_case(case_id)
    except CaseError as exc:
        return from_case_error(exc)
    return web.json_response(preference.to_dict())


async def put_preference(request: web.Request) -> web.Response:
    found = await readable(request, request.match_info["id"])
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    body = await body_fields(request, {"channel"})
    if isinstance(body, web.Response):
        return body
    if "channel" not in body:
        return error(400, "invalid_input", "missing", "channel")
    channel = body["channel"]
    if channel is not None and not isinstance(channel, str):
        return error(400, "invalid_input", "a channel name or null", "channel")
    try:
        preference = await request.app[PREFERENCES].choose_for_case(case_id, channel)
    except CaseError as exc:
        return from_case_error(exc)
    log.info("case %d: preferred channel set to %s by %s", case_id, channel, viewer.name)
    return web.json_response(preference.to_dict())


def add_preference_routes(app: web.Application, store: PreferenceStore) -> None:
    """Mount the routes on `app`, which already has the case API (`add_case_routes`)."""
    app[PREFERENCES] = store
    require(app, app.router.add_get("/api/cases/{id}/preferred_channel", get_preference),
            Role.AGENT)
    require(app, app.router.add_put("/api/cases/{id}/preferred_channel", put_preference),
            Role.AGENT)
