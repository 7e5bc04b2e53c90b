"""JSON errors and cookie names shared by the auth middleware and the auth API."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

SESSION_COOKIE = "centralita_session"
CSRF_HEADER = "X-CSRF-Token"


def json_error(
    status: int,
    code: str,
    message: str,
    *,
    where: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """`{"error": {"code", "message", "where"?}}` with `status`."""
    body: dict[str, str] = {"code": code, "message": message}
    if where is not None:
        body["where"] = where
    return web.json_response({"error": body}, status=status, headers=headers)
