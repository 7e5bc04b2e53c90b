"""Login, users and roles for every HTTP route (web desk and integrations).

Declare each route's minimum role where it is added (see `web.auth.access`):

    require(app, app.router.add_get("/api/queues", handler), Role.SUPERVISOR)
    require_page(app, app.router.add_get("/agent", page), Role.AGENT)

and read the caller in a handler with `principal(request)`. The middleware refuses every
undeclared route. Modules: roles, passwords (argon2id), tokens (secrets and digests), tables
and store (users, bearer tokens), sessions, throttle, service (who is asking), access (route
declarations), middleware, api (login, users, tokens), bootstrap (first admin), cli.
"""

from web.auth.access import allow_anonymous, require, require_page
from web.auth.api import add_auth_routes
from web.auth.middleware import auth_middleware
from web.auth.roles import Role
from web.auth.service import AUTH, Auth, ConfigToken, ConfigTokens, Principal, principal

__all__ = [
    "AUTH",
    "Auth",
    "ConfigToken",
    "ConfigTokens",
    "Principal",
    "Role",
    "add_auth_routes",
    "allow_anonymous",
    "auth_middleware",
    "principal",
    "require",
    "require_page",
]
