"""Long-lived sockets re-check the login they were opened with.

A WebSocket is authenticated once, at its handshake; the desk and the case-live socket then
stay open for hours. `login_check` gives each one a check of its credentials (its login
session still live and its user unchanged, or its stored bearer token not revoked) and
`watch_login` runs it on a server-side timer, so a socket whose user was logged out, disabled
or given a new password, or whose token was revoked, is closed with `LOGGED_OUT` (4401)
within `RECHECK_S` plus the user cache's `ttl` (`web.auth.service.UserVersions`, 2 s),
whether or not the client sends anything. Sockets also check before every push.

A session check is cheap (the in-memory session store and the cached user record); a token
check is one indexed lookup. Before a push a token's last good answer is reused for
`RECHECK_S` (a burst of transcript segments costs one lookup); the timer and the client's
own messages always look again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from web.auth import AUTH, Principal
from web.auth.service import presented_token

log = logging.getLogger(__name__)

# How often an open socket re-checks its login when nothing else makes it.
RECHECK_S = 1.5
LOGGED_OUT = 4401  # close code: the socket's login ended, log in again



class Authorized(Protocol):
    """Whether a socket's login still holds; `fresh` False lets a token's recent good answer
    stand (before a push)."""

    def __call__(self, *, fresh: bool = True) -> Awaitable[bool]: ...


def login_check(
    request: web.Request, who: Principal, *, remember: float = RECHECK_S,
) -> Authorized | None:
    """A check of the credentials `request` was authenticated with; None when nothing can
    end them (no auth on the app, a token from the config file: it lasts as long as the
    process). A token's answer is reused for `remember` seconds (the event loop's clock)."""
    if AUTH not in request.config_dict:
        return None
    auth = request.config_dict[AUTH]
    if who.via == "token":
        token = presented_token(request)
        if token is None or auth.config_tokens.find(token) is not None:
            return None
        loop = asyncio.get_running_loop()
        checked: list[tuple[float, bool]] = []

        async def token_kept(*, fresh: bool = True) -> bool:
            if not fresh and checked and checked[0][1] and loop.time() - checked[0][0] < remember:
                return True
            kept = await auth.users.find_token(token) is not None
            checked[:] = [(loop.time(), kept)]
            return kept

        return token_kept
    if who.session_id is None:
        return None
    session_id = who.session_id

    async def session_kept(*, fresh: bool = True) -> bool:
        session = await auth.sessions.fetch(session_id)
        return session is not None and (
            auth.versions is None or await auth.versions.still_valid(session))

    return session_kept


async def watch_login(
    check: Authorized, ended: Callable[[], Awaitable[None] | None], *,
    interval: float = RECHECK_S, what: str = "socket",
) -> None:
    """Run `check` every `interval` seconds; call `ended` once it fails, then return.

    Owned by the socket's handler, which cancels it when the socket closes. A check that
    raises (the user store is down) counts as still authorized: the next tick tries again.
    """
    while True:
        await asyncio.sleep(interval)
        try:
            ok = await check()
        except Exception:
            log.warning("%s: its login could not be checked; trying again", what, exc_info=True)
            continue
        if not ok:
            log.info("%s: its login ended; closing it", what)
            result = ended()
            if result is not None:
                await result
            return
