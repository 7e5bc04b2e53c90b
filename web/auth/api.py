"""The login and user-administration API, and the login page.

    POST   /api/login           {username, password} → session cookie; {user, role, csrf}
    POST   /api/logout          ends the session (any role)
    GET    /api/me              {user, role, via, csrf?} (any role)
    GET    /api/users           every user (admin)
    POST   /api/users           {name, password, role} → the user (admin)
    PATCH  /api/users/{name}    {role?, password?, disabled?} → the user; the user's sessions
                                end (admin)
    GET    /api/tokens          every bearer token's record, no secrets (admin)
    POST   /api/tokens          {name, role, agent?} → the record and the token, shown once
                                (admin); an agent token acts for the existing agent `agent`
    DELETE /api/tokens/{name}   revoke a token (admin)
    GET    /login, /login.js    the login page (anyone)

Login takes JSON only: an HTML form on another site cannot post JSON without a CORS
preflight we never grant, so nobody can be logged in to an attacker's account unawares.
Failed logins are throttled per username and per source address (`web.auth.throttle`).
Errors are JSON `{"error": {"code", "message", "where"?}}`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from aiohttp import hdrs, web

from common.languages import LANGUAGES
from web.auth.access import allow_anonymous, require
from web.auth.errors import AuthError, Conflict, InvalidInput, NotFound, StorageError
from web.auth.http import SESSION_COOKIE, json_error
from web.auth.login_page import LOGIN_HTML, LOGIN_JS, PAGE_HEADERS
from web.auth.passwords import MAX_PASSWORD_LENGTH
from web.auth.roles import Role
from web.auth.service import AUTH, principal
from web.auth.store import NAME_PATTERN, check_name
from web.auth.throttle import Refused
from web.jsonbody import JsonBodyError, read_json_object

log = logging.getLogger(__name__)


def _from_auth_error(exc: AuthError) -> web.Response:
    if isinstance(exc, InvalidInput):
        return json_error(400, "invalid_input", exc.what, where=exc.where)
    if isinstance(exc, NotFound):
        return json_error(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return json_error(409, exc.code, str(exc))
    if isinstance(exc, StorageError):
        log.warning("user store unavailable: %s", exc)
        return json_error(503, "storage_unavailable", "the user store is unavailable")
    raise exc


async def _json_object(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object body; `InvalidInput` for anything else or unknown keys."""
    try:
        body = await read_json_object(request)
    except JsonBodyError as exc:
        raise InvalidInput(exc.where, exc.message) from None
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(unknown[0], "unknown field")
    return body


def _role(value: object, where: str = "role") -> Role:
    try:
        return Role.parse(value)
    except ValueError as exc:
        raise InvalidInput(where, str(exc)) from None


def _secure(request: web.Request) -> bool:
    return request.secure or request.config_dict[AUTH].cookie_secure


async def login(request: web.Request) -> web.Response:
    """Check a username and password; on success start a session (cookie) and return CSRF."""
    auth = request.config_dict[AUTH]
    try:
        body = await _json_object(request, {"username", "password"})
    except InvalidInput as exc:
        return _from_auth_error(exc)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        return json_error(400, "invalid_input", "username is required", where="username")
    if not isinstance(password, str) or not password:
        return json_error(400, "invalid_input", "password is required", where="password")
    if len(password) > MAX_PASSWORD_LENGTH or not NAME_PATTERN.fullmatch(username):
        # No such account can exist; counted as a failure so probing costs the same.
        username = username[:64]
    source = request.remote or "unknown"
    # Reserved before the (slow) hash and settled after, in the same loop turn as the check:
    # attempts still being verified count, so concurrent guesses get no extra tries.
    attempt = auth.throttle.reserve(username, source)
    if isinstance(attempt, Refused):
        return json_error(
            429, "too_many_attempts", "too many failed logins; try again later",
            headers={hdrs.RETRY_AFTER: str(math.ceil(attempt.retry_after))},
        )
    user = None
    try:
        if len(password) <= MAX_PASSWORD_LENGTH:
            user = await auth.users.authenticate(username, password)
    except StorageError as exc:
        attempt.release()
        return _from_auth_error(exc)
    except BaseException:
        # Cancelled (the client left) or a bug: no verdict, and no reservation held for ever.
        attempt.release()
        raise
    if user is None:
        if attempt.failed():
            log.warning("login lockout started for source %s", source)
        # Neither the name nor the password is logged: people type one into the other.
        log.info("failed login from %s", source)
        return json_error(401, "invalid_credentials", "wrong username or password")
    attempt.succeeded()
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        auth.sessions.revoke(old)
    session_id, session = auth.sessions.create(user.name, user.role, user.updated_at)
    response = web.json_response(
        {"user": user.name, "role": user.role.label, "csrf": session.csrf}
    )
    response.set_cookie(
        SESSION_COOKIE, session_id, path="/", httponly=True, samesite="Strict",
        secure=_secure(request),
    )
    log.info("user %s logged in (%s)", user.name, user.role.label)
    return response


async def logout(request: web.Request) -> web.Response:
    """End the caller's session (a bearer token has none: nothing to end)."""
    who = principal(request)
    if who.session_id is not None:
        request.config_dict[AUTH].sessions.revoke(who.session_id)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/", samesite="Strict", secure=_secure(request))
    return response


async def me(request: web.Request) -> web.Response:
    """Who the caller is; a session also gets its CSRF token back (after a page reload)."""
    who = principal(request)
    body: dict[str, Any] = {"user": who.name, "role": who.role.label, "via": who.via}
    if who.session is not None:
        body["csrf"] = who.session.csrf
        body["language"] = await request.config_dict[AUTH].users.language(who.name)
    return web.json_response(body)


async def set_my_language(request: web.Request) -> web.Response:
    """{language: "en" | "es" | null}: the language of the signed-in user's pages (null:
    their browser's), kept in their settings (web.auth.page_language)."""
    who = principal(request)
    try:
        body = await _json_object(request, {"language"})  # a bad body is named first
        if who.via != "session":
            raise InvalidInput("language", "a token has no pages: sign in as a user")
        language = body.get("language")
        if language is not None and language not in LANGUAGES:
            raise InvalidInput("language", "language must be one of "
                               f"{', '.join(sorted(LANGUAGES))}, or null for the browser's")
        await request.config_dict[AUTH].users.set_language(who.name, language)
    except AuthError as exc:
        return _from_auth_error(exc)
    return web.json_response({"language": language})


async def list_users(request: web.Request) -> web.Response:
    """Every user, without password hashes."""
    try:
        found = await request.config_dict[AUTH].users.list_users()
    except AuthError as exc:
        return _from_auth_error(exc)
    return web.json_response({"users": [u.to_json() for u in found]})


async def add_user(request: web.Request) -> web.Response:
    """Create a user from {name, password, role}."""
    auth = request.config_dict[AUTH]
    try:
        body = await _json_object(request, {"name", "password", "role"})
        name = check_name(body.get("name"))
        role = _role(body.get("role"))
        password = body.get("password")
        if not isinstance(password, str):
            raise InvalidInput("password", "password is required")
        user = await auth.users.add_user(name, password, role)
    except AuthError as exc:
        return _from_auth_error(exc)
    log.info("user %s (%s) added by %s", user.name, user.role.label, principal(request).name)
    return web.json_response(user.to_json(), status=201)


async def update_user(request: web.Request) -> web.Response:
    """Change a user's role, password or disabled flag; their sessions end."""
    auth = request.config_dict[AUTH]
    name = request.match_info["name"]
    try:
        body = await _json_object(request, {"role", "password", "disabled"})
        if not body:
            raise InvalidInput("body", "give role, password or disabled")
        role = _role(body["role"]) if "role" in body else None
        password = body.get("password")
        if password is not None and not isinstance(password, str):
            raise InvalidInput("password", "must be text")
        disabled = body.get("disabled")
        if disabled is not None and not isinstance(disabled, bool):
            raise InvalidInput("disabled", "must be true or false")
        user = await auth.users.update_user(name, role=role, password=password, disabled=disabled)
    except AuthError as exc:
        return _from_auth_error(exc)
    ended = auth.sessions.revoke_user(name)
    log.info(
        "user %s changed (%s) by %s; %d sessions ended",
        name, ", ".join(sorted(body)), principal(request).name, ended,
    )
    return web.json_response(user.to_json())


async def list_tokens(request: web.Request) -> web.Response:
    """Every bearer token's record (name, role, who made it when), never the token."""
    try:
        found = await request.config_dict[AUTH].users.list_tokens()
    except AuthError as exc:
        return _from_auth_error(exc)
    return web.json_response({"tokens": [t.to_json() for t in found]})


async def add_token(request: web.Request) -> web.Response:
    """Make a bearer token from {name, role, agent?}; the answer is the only time it is shown.

    An agent token must name the existing agent user it acts for (`agent`); a supervisor or
    admin token acts as itself, "token:NAME" (`web.auth.tokens`).
    """
    auth = request.config_dict[AUTH]
    try:
        body = await _json_object(request, {"name", "role", "agent"})
        name = check_name(body.get("name"))
        role = _role(body.get("role"))
        agent = None if body.get("agent") is None else check_name(body["agent"], "agent")
        if role is Role.AGENT and agent is None:
            raise InvalidInput("agent", "an agent token acts for one agent: name that user")
        view, token = await auth.users.add_token(
            name, role, principal(request).name, agent=agent
        )
    except AuthError as exc:
        return _from_auth_error(exc)
    log.info("token %s (%s) made by %s", view.name, view.role.label, principal(request).name)
    return web.json_response({**view.to_json(), "token": token}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    """Revoke a bearer token by name."""
    try:
        await request.config_dict[AUTH].users.delete_token(request.match_info["name"])
    except AuthError as exc:
        return _from_auth_error(exc)
    return web.Response(status=204)


async def login_page(request: web.Request) -> web.Response:
    """The login form (HTML); its script is /login.js (the CSP allows no inline script)."""
    return web.Response(text=LOGIN_HTML, content_type="text/html", headers=PAGE_HEADERS)


async def login_script(request: web.Request) -> web.Response:
    """The login form's script."""
    return web.Response(text=LOGIN_JS, content_type="text/javascript", headers=PAGE_HEADERS)


def add_auth_routes(app: web.Application) -> None:
    """Mount the login, logout, me, users and tokens routes and the login page on `app`."""
    router = app.router
    allow_anonymous(app, router.add_post("/api/login", login))
    allow_anonymous(app, router.add_get("/login", login_page))
    allow_anonymous(app, router.add_get("/login.js", login_script))
    require(app, router.add_post("/api/logout", logout), Role.AGENT)
    require(app, router.add_get("/api/me", me), Role.AGENT)
    require(app, router.add_put("/api/me/language", set_my_language), Role.AGENT)
    require(app, router.add_get("/api/users", list_users), Role.ADMIN)
    require(app, router.add_post("/api/users", add_user), Role.ADMIN)
    require(app, router.add_patch("/api/users/{name}", update_user), Role.ADMIN)
    require(app, router.add_get("/api/tokens", list_tokens), Role.ADMIN)
    require(app, router.add_post("/api/tokens", add_token), Role.ADMIN)
    require(app, router.add_delete("/api/tokens/{name}", delete_token), Role.ADMIN)
