"""The auth middleware: every request is refused unless its route's declaration lets it in.

    declared PUBLIC                 → handled, no credentials looked at
    no credentials                  → 401 `unauthenticated` (pages: 302 to /login?next=...)
    bad bearer token                → 401 `invalid_token`
    route not declared              → 403 `forbidden`, to everyone (deny by default)
    role below the route's          → 403 `forbidden`
    session cookie, unsafe method,
      X-CSRF-Token missing or wrong → 403 `csrf_failed`
    session cookie, foreign Origin  → 403 `cross_origin` (unsafe methods and WebSockets;
                                      scheme, host and port must all be ours)

Unknown paths answer 401 to anonymous callers too, so the route table cannot be mapped
without logging in. Bearer tokens are not subject to CSRF checks: a browser never attaches
them on its own.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from web.auth.access import Access, access_of
from web.auth.errors import StorageError
from web.auth.http import CSRF_HEADER, json_error
from web.auth.service import AUTH, PRINCIPAL, BadCredentials, Principal, identify, is_websocket
from web.auth.tokens import same_secret

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})
LOGIN_PAGE = "/login"


def _looks_like_page(request: web.Request, access: Access | None) -> bool:
    if access is not None:
        return access.page
    # Undeclared or unknown: a browser navigating somewhere outside the API gets the login
    # page rather than a JSON error.
    return (
        request.method == hdrs.METH_GET
        and not request.path.startswith("/api/")
        and not is_websocket(request)
    )


def _unauthenticated(request: web.Request, access: Access | None, message: str) -> web.Response:
    if _looks_like_page(request, access):
        target = f"{LOGIN_PAGE}?next={quote(request.path_qs, safe='')}"
        return web.Response(status=302, headers={hdrs.LOCATION: target})
    return json_error(
        401, "unauthenticated", message, headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="centralita"'}
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, default ports filled in; None if it is not one."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _same_origin(request: web.Request) -> bool:
    """Whether the browser's Origin is this server as the browser reaches it: scheme, host and
    port. Behind a TLS-terminating proxy (`Auth.cookie_secure`) the browser's scheme is https
    whatever the proxy's connection to us is; `http://` then is another origin."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True
    secure = request.secure or request.config_dict[AUTH].cookie_secure
    ours = _origin(f"{'https' if secure else 'http'}://{request.host}")
    theirs = _origin(origin)
    return theirs is not None and theirs == ours


def _cookie_checks(request: web.Request, principal: Principal) -> web.Response | None:
    """CSRF and Origin checks for a request authenticated by the session cookie."""
    unsafe = request.method not in SAFE_METHODS
    if (unsafe or is_websocket(request)) and not _same_origin(request):
        return json_error(403, "cross_origin", "request from another origin refused")
    if unsafe:
        given = request.headers.get(CSRF_HEADER, "")
        assert principal.session is not None
        if not given or not same_secret(given, principal.session.csrf):
            return json_error(
                403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header (see POST /api/login)"
            )
    return None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate and authorise every request before its handler runs (see module doc)."""
    access = access_of(request)
    if access is not None and access.role is None:
        return await handler(request)
    try:
        principal = await identify(request, request.config_dict[AUTH])
    except BadCredentials as exc:
        return json_error(401, "invalid_token", str(exc))
    except StorageError:
        return json_error(503, "storage_unavailable", "the user store is unavailable")
    if principal is None:
        return _unauthenticated(request, access, "log in or send a bearer token")
    if access is None:
        if isinstance(request.match_info.http_exception, web.HTTPException):
            # aiohttp's own 404 / 405 for a logged-in caller.
            return await handler(request)
        log.error("refused %s %s: the route declares no role", request.method, request.path)
        return json_error(403, "forbidden", "this route declares no role; nobody may use it")
    assert access.role is not None
    if principal.role < access.role:
        return json_error(
            403, "forbidden", f"needs the {access.role.label} role; you are {principal.role.label}"
        )
    if principal.via == "session":
        refused = _cookie_checks(request, principal)
        if refused is not None:
            return refused
    request[PRINCIPAL] = principal
    return await handler(request)
