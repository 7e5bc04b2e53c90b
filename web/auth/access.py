"""Which role each HTTP route needs: every route declares it, or nobody may use it.

Routes are declared where they are added, on the application that holds them:

    from web.auth import Role, require, require_page

    require(app, app.router.add_get("/api/queues", list_queues), Role.SUPERVISOR)
    require(app, app.router.add_post("/api/agents", add_agent), Role.ADMIN)
    require_page(app, app.router.add_get("/agent", agent_page), Role.AGENT)
    require(app, app.router.add_static("/assets", path), Role.AGENT)   # a whole resource

`require` takes a route (what `add_get`/`add_post`/... return) or a resource (every route on
it). Declaring a GET also declares the HEAD route `add_get` adds beside it. The auth
middleware (`web.auth.middleware`) refuses any route that was not declared, even to an admin,
so a forgotten declaration fails closed; `tests/web` walks every route of the real server
and fails on an undeclared one. `allow_anonymous` is for the login page and `/healthz` only.

Pages (`require_page`) differ from API routes only in what an anonymous visitor gets: a
redirect to `/login` instead of a 401 JSON error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from aiohttp import hdrs, web

from web.auth.roles import Role


@dataclass(frozen=True)
class Access:
    """What a route needs: `role` None means anyone (no login); `page` is an HTML page."""

    role: Role | None
    page: bool = False


PUBLIC = Access(None)

T = TypeVar("T", web.AbstractRoute, web.AbstractResource)


class RouteAccess:
    """The declarations of one application, by route object."""

    def __init__(self) -> None:
        self._routes: dict[web.AbstractRoute, Access] = {}

    def declare(self, route: web.AbstractRoute, access: Access) -> None:
        previous = self._routes.get(route)
        if previous is not None and previous != access:
            raise ValueError(f"{route.method} {_path(route)} is already declared as {previous}")
        self._routes[route] = access

    def get(self, route: web.AbstractRoute) -> Access | None:
        """The route's declaration, or None when it has none."""
        return self._routes.get(route)


ROUTE_ACCESS: web.AppKey[RouteAccess] = web.AppKey("route_access", RouteAccess)


def _path(route: web.AbstractRoute) -> str:
    resource = route.resource
    return resource.canonical if resource is not None else "?"


def _registry(app: web.Application) -> RouteAccess:
    registry = app.get(ROUTE_ACCESS)
    if registry is None:
        registry = app[ROUTE_ACCESS] = RouteAccess()
    return registry


def _declare(
    app: web.Application, target: web.AbstractRoute | web.AbstractResource, access: Access
) -> None:
    registry = _registry(app)
    if isinstance(target, web.AbstractResource):
        for route in target:
            registry.declare(route, access)
        return
    registry.declare(target, access)
    resource = target.resource
    if target.method == hdrs.METH_GET and resource is not None:
        for sibling in resource:
            if sibling.method == hdrs.METH_HEAD and sibling.handler == target.handler:
                registry.declare(sibling, access)


def require(
    app: web.Application, target: T, role: Role
) -> T:
    """Declare that `target` (a route or a whole resource) needs at least `role`."""
    _declare(app, target, Access(role))
    return target


def require_page(
    app: web.Application, target: T, role: Role
) -> T:
    """As `require`, for an HTML page: anonymous visitors are sent to `/login`."""
    _declare(app, target, Access(role, page=True))
    return target


def allow_anonymous(
    app: web.Application, target: T
) -> T:
    """Open `target` to everyone. Only `/healthz` and the login page and API use this."""
    _declare(app, target, PUBLIC)
    return target


def access_of(request: web.Request) -> Access | None:
    """The declaration of the route `request` matched, looked up on the apps it went through.

    None for an undeclared route and for aiohttp's own 404/405 routes.
    """
    route = request.match_info.route
    for app in reversed(request.match_info.apps):
        registry = app.get(ROUTE_ACCESS)
        if registry is not None:
            access = registry.get(route)
            if access is not None:
                return access
    return None
