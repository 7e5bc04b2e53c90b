"""HTTP API of the journey figures (`cases.journey`): how cases went across channels.

    GET /api/journey?since=&until=&queue=      supervisor

`since` / `until`: UNIX seconds or ISO-8601 with its UTC offset; the cases whose first
contact started in [since, until) (either end open). `queue`: only the cases with a contact
through that queue. The answer is the figures (no customer, number or text in it) with the
period and queue echoed:

    {"period": {"since", "until"}, "queue", "cases", "contacts", "contacts_per_case",
     "contacts_by_channel", "resolved", "first_contact_resolution": {"cases", "rate"},
     "time_to_resolution": {"mean_s", "median_s"}, "by_first_channel",
     "asked_again": {"asks", "repeated", "contacts", "share"}}

Errors are the case API's JSON `{"error": {"code", "message", "where"}}`: 400
`invalid_parameter` naming `query.since` and the like.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from aiohttp import web

from cases.errors import CaseError
from web.auth import Role, require
from web.case_http import CASE_STORE, error, from_case_error

# Queue names as routing spells them (routing.config.NAME_RE).
_QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


class _BadParameter(Exception):
    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


def _time(request: web.Request, key: str) -> datetime | None:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return None
    where = f"query.{key}"
    try:
        seconds = float(raw)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise _BadParameter("expected UNIX seconds or an ISO-8601 time", where) from None
        if moment.tzinfo is None:
            raise _BadParameter("an ISO-8601 time needs its UTC offset (Z or +hh:mm)",
                                where) from None
        return moment.astimezone(UTC)
    if not math.isfinite(seconds) or not 0 <= seconds < 253402300800:  # year 10000
        raise _BadParameter("expected UNIX seconds", where)
    return datetime.fromtimestamp(seconds, UTC)


async def get_journey(request: web.Request) -> web.Response:
    """The journey figures of the period's cases."""
    try:
        since, until = _time(request, "since"), _time(request, "until")
    except _BadParameter as exc:
        return error(400, "invalid_parameter", str(exc), exc.where)
    if since is not None and until is not None and until < since:
        return error(400, "invalid_parameter", "until is before since", "query.until")
    queue = request.query.get("queue") or None
    if queue is not None and not _QUEUE.match(queue):
        return error(400, "invalid_parameter", "not a queue name", "query.queue")
    try:
        found = await request.app[CASE_STORE].journey(since=since, until=until, queue=queue)
    except CaseError as exc:
        return from_case_error(exc)
    period = {"since": since.isoformat() if since else None,
              "until": until.isoformat() if until else None}
    return web.json_response({"period": period, "queue": queue, **found})


def add_journey_routes(app: web.Application) -> None:
    """Mount the route on `app`, which already has the case API (its store's key)."""
    require(app, app.router.add_get("/api/journey", get_journey), Role.SUPERVISOR)
