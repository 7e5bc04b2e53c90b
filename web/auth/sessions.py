"""Server-side login sessions: a random id in the cookie, everything else here.

The cookie carries only the session id (256 random bits); the store keys sessions by the id's
SHA-256, so a dump of the store does not yield usable cookies. A session ends after
`idle_timeout` without a request, after `max_age` whatever happens, on logout, and when an
admin changes or disables its user (`revoke_user`). A session also remembers its user's
`updated_at` at login (`user_version`): a change made elsewhere (`centralita users passwd` in
another process) ends it too, once `web.auth.service.identify` sees the newer version.

In memory: sessions do not survive a restart, and a cluster needs sticky HTTP sessions until
a shared store (Redis, as DESIGN.md plans for live state) takes this one's place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from web.auth.roles import Role
from web.auth.tokens import digest, new_secret

Now = Callable[[], float]


@dataclass
class Session:
    """One logged-in browser. `csrf` is the synchronizer token its unsafe requests echo."""

    user: str
    role: Role
    csrf: str
    created: float
    last_seen: float
    user_version: datetime | None = None  # the user's `updated_at` when they logged in


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes in seconds of the injected monotonic clock, and memory bounds."""

    idle_timeout: float = 8 * 3600.0
    max_age: float = 12 * 3600.0
    max_sessions: int = 10_000
    max_per_user: int = 20


class SessionStore:
    """Sessions by id digest; `now` is a monotonic clock (STYLE.md §9)."""

    def __init__(self, now: Now, policy: SessionPolicy | None = None) -> None:
        self._now = now
        self.policy = policy or SessionPolicy()
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(
        self, user: str, role: Role, user_version: datetime | None = None
    ) -> tuple[str, Session]:
        """A new session for `user`: (the id for the cookie, the session)."""
        now = self._now()
        if len(self._sessions) >= self.policy.max_sessions:
            self._prune(now)
        mine = sorted(
            (key for key, s in self._sessions.items() if s.user == user),
            key=lambda key: self._sessions[key].last_seen,
        )
        for key in mine[: max(0, len(mine) - self.policy.max_per_user + 1)]:
            del self._sessions[key]
        session_id = new_secret()
        session = Session(user, role, new_secret(), now, now, user_version)
        self._sessions[digest(session_id)] = session
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id (its idle timer restarts), or None."""
        key = digest(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._now()
        if self._expired(session, now):
            del self._sessions[key]
            return None
        session.last_seen = now
        return session

    async def fetch(self, session_id: str) -> Session | None:
        """`get` for the request path: a store shared between nodes
        (`web.auth.redis_sessions`) looks at the shared copy too."""
        return self.get(session_id)

    def revoke(self, session_id: str) -> None:
        """End one session (logout). Unknown ids are ignored."""
        self._sessions.pop(digest(session_id), None)

    def revoke_user(self, user: str) -> int:
        """End every session of `user`; how many there were."""
        keys = [key for key, s in self._sessions.items() if s.user == user]
        for key in keys:
            del self._sessions[key]
        return len(keys)

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen >= self.policy.idle_timeout
            or now - session.created >= self.policy.max_age
        )

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]
        if len(self._sessions) >= self.policy.max_sessions:
            # Still full of live sessions: the least recently used tenth goes.
            oldest = sorted(self._sessions, key=lambda k: self._sessions[k].last_seen)
            for key in oldest[: max(1, len(oldest) // 10)]:
                del self._sessions[key]
