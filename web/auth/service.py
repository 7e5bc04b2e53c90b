"""Who is asking: the principal behind a request, from a bearer token or a session cookie.

    Authorization: Bearer <token>     integrations; tokens from the database or the config
    ?access_token=<token>             the same, on WebSocket handshakes only (browsers cannot
                                      set headers there; the query never reaches our logs)
    Cookie: centralita_session=<id>   browsers, after POST /api/login

A token acts as the agent it is bound to (an agent token) or as "token:NAME" (any other),
never as whoever its name happens to match (`web.auth.tokens`). A request that presents an
Authorization header is judged by it alone: a bad token is refused even if a good cookie came
along, so a misconfigured integration never borrows a session.

A session is checked against its user's stored record (re-read at most every
`UserVersions.ttl` seconds): a user changed since the login (password, role, disabled; from
the API, or the CLI in another process) or deleted is logged out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import hdrs, web

from web.auth.http import SESSION_COOKIE
from web.auth.roles import Role
from web.auth.sessions import Session, SessionStore
from web.auth.store import UserStore, UserView
from web.auth.throttle import LoginThrottle
from web.auth.tokens import digest, own_principal

Via = Literal["session", "token"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user (session) or an integration (token)."""

    name: str
    role: Role
    via: Via
    session: Session | None = None
    session_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConfigToken:
    """A bearer token from the config file: its name, role and SHA-256 digest."""

    name: str
    role: Role
    digest: str


class ConfigTokens:
    """Config-file tokens by digest (the tokens themselves are never kept)."""

    def __init__(self, tokens: Iterable[ConfigToken] = ()) -> None:
        self._by_digest: Mapping[str, ConfigToken] = {t.digest: t for t in tokens}

    def find(self, token: str) -> ConfigToken | None:
        return self._by_digest.get(digest(token))


@dataclass
class UserVersions:
    """Users' stored records as sessions see them: read again at most every `ttl` seconds, so
    a change made in another process reaches every session within `ttl`."""

    users: UserStore
    ttl: float = 2.0
    now: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[float, UserView | None]] = field(default_factory=dict, repr=False)

    async def current(self, name: str) -> UserView | None:
        at = self.now()
        seen = self._seen.get(name)
        if seen is not None and at - seen[0] < self.ttl:
            return seen[1]
        user = await self.users.get_user(name)
        self._seen[name] = (at, user)
        return user

    async def still_valid(self, session: Session) -> bool:
        """Whether `session`'s user is as it was at login (a session without a recorded
        version predates the check and is taken as it is)."""
        if session.user_version is None:
            return True
        user = await self.current(session.user)
        return (user is not None and not user.disabled and user.role is session.role
                and user.updated_at == session.user_version)


@dataclass
class Auth:
    """The services the auth middleware and API use, under `AUTH` on the application."""

    users: UserStore
    sessions: SessionStore
    throttle: LoginThrottle
    config_tokens: ConfigTokens = field(default_factory=ConfigTokens)
    #: Always mark the session cookie Secure (behind a TLS-terminating proxy); over direct
    #: HTTPS it is Secure anyway.
    cookie_secure: bool = False
    versions: UserVersions | None = None  # default: over `users`

    def __post_init__(self) -> None:
        if self.versions is None:
            self.versions = UserVersions(self.users)


AUTH: web.AppKey[Auth] = web.AppKey("auth", Auth)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


class BadCredentials(Exception):
    """Credentials were presented and are wrong (401 `invalid_token`)."""


def is_websocket(request: web.Request) -> bool:
    """A WebSocket handshake."""
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


async def identify(request: web.Request, auth: Auth) -> Principal | None:
    """The principal behind `request`, or None when it carries no credentials.

    `BadCredentials` when a token was presented and is not valid; a stale or unknown cookie
    counts as no credentials (the browser is simply logged out).
    """
    token = presented_token(request)
    if token is not None:
        return await _token_principal(auth, token)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = await auth.sessions.fetch(session_id)
    if session is None:
        return None
    assert auth.versions is not None
    if not await auth.versions.still_valid(session):
        auth.sessions.revoke(session_id)
        return None
    return Principal(session.user, session.role, "session", session, session_id)


def presented_token(request: web.Request) -> str | None:
    """The bearer token `request` carries (header, or `access_token` on a WebSocket
    handshake), None if none; `BadCredentials` for a malformed Authorization header."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise BadCredentials("Authorization must be 'Bearer <token>'")
        return value.strip()
    if is_websocket(request) and "access_token" in request.query:
        return request.query["access_token"]
    return None


async def _token_principal(auth: Auth, token: str) -> Principal:
    """Who `token` acts as (`web.auth.tokens`): an agent token as its agent, checked on
    every use; any other as "token:NAME", which no user can be."""
    configured = auth.config_tokens.find(token)
    if configured is not None:
        return Principal(own_principal(configured.name), configured.role, "token")
    stored = await auth.users.find_token(token)
    if stored is None:
        raise BadCredentials("unknown bearer token, or its agent is no longer an enabled agent")
    return Principal(stored.principal, stored.role, "token")


def principal(request: web.Request) -> Principal:
    """The authenticated principal of a request that passed the auth middleware."""
    return request[PRINCIPAL]
