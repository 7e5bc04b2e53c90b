"""The HTTP side of the server (aiohttp): health, login, and when enabled the debug call list.

Every route declares the role it needs (`web.auth.require`); the auth middleware refuses the
rest, so only `/healthz` and the login page and API answer without credentials. Every
response carries the security headers of `web.auth.http` (CSP, nosniff, no framing). Handlers stay
thin (STYLE.md §13): they read from services put under typed `AppKey`s by the composition root
and serialise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from web.auth import AUTH, Auth, Role, add_auth_routes, allow_anonymous, auth_middleware, require
from web.auth.http import security_headers
from web.auth.page_language import page_language
from web.openapi import add_openapi_route

HealthCheck = Callable[[], dict[str, bool]]
CallsView = Callable[[], list[dict[str, Any]]]

HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")
DEBUG_CALLS: web.AppKey[CallsView] = web.AppKey("debug_calls")


async def _security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Every response (pages, static files, JSON, the middleware's and aiohttp's own errors)
    gets the security headers of `web.auth.http`; a handler's own (the desk page's richer
    policy) stand."""
    for name, value in security_headers(response.content_type).items():
        response.headers.setdefault(name, value)


async def healthz(request: web.Request) -> web.Response:
    parts = request.app[HEALTH]()
    ok = all(parts.values())
    return web.json_response({"ok": ok, **parts}, status=200 if ok else 503)


async def debug_calls(request: web.Request) -> web.Response:
    return web.json_response(request.app[DEBUG_CALLS]())


def build_app(health: HealthCheck, calls: CallsView | None, auth: Auth) -> web.Application:
    """The aiohttp application behind login; `calls` is None unless the debug API was asked for."""
    # The user's own language goes on the pages they open (inside auth: it reads who it is).
    app = web.Application(client_max_size=1 << 20,
                          middlewares=[auth_middleware, page_language])
    app.on_response_prepare.append(_security_headers)
    app[HEALTH] = health
    app[AUTH] = auth
    allow_anonymous(app, app.router.add_get("/healthz", healthz))
    add_auth_routes(app)
    add_openapi_route(app)  # GET /api/openapi.json: every route of this app (agent role)
    if calls is not None:
        app[DEBUG_CALLS] = calls
        require(app, app.router.add_get("/api/debug/calls", debug_calls), Role.ADMIN)
    return app
