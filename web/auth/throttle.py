"""Login throttling: lock a username, and a source address, after repeated failures.

The same mechanism as SIP digest auth (`voice.sip.lockout.FailureTracker`): failures are
counted per username and per source address in a sliding window; reaching the limit locks the key for
`lockout` seconds, and while either key is locked every attempt is refused, a correct one
included, so guessing cannot go on at a slower pace. The per-source limit is higher: one
office behind a NAT shares an address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voice.sip.lockout import FailureTracker

Now = Callable[[], float]


@dataclass(frozen=True)
class ThrottlePolicy:
    """Limits; durations in seconds of the injected monotonic clock."""

    max_failures: int = 5
    source_max_failures: int = 20
    failure_window: float = 300.0
    lockout: float = 300.0
    #: Bound on tracked keys, so a flood of invented usernames cannot grow memory.
    max_tracked: int = 10_000


class LoginThrottle:
    """Decide whether a login attempt may be checked at all, and record its outcome."""

    def __init__(self, now: Now, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        p = self.policy
        self._users = FailureTracker(now, window=p.failure_window, lockout=p.lockout,
                                     max_tracked=p.max_tracked)
        self._sources = FailureTracker(now, window=p.failure_window, lockout=p.lockout,
                                       max_tracked=p.max_tracked)

    def locked_for(self, user: str, source: str) -> float | None:
        """Seconds until attempts for this user from this source may resume, or None."""
        waits = [w for w in (self._users.locked_for(user), self._sources.locked_for(source)) if w]
        return max(waits) if waits else None

    def failed(self, user: str, source: str) -> None:
        """A wrong password (or unknown user) for `user` from `source`."""
        self._users.fail(user, self.policy.max_failures)
        self._sources.fail(source, self.policy.source_max_failures)

    def succeeded(self, user: str) -> None:
        """A good login forgets the user's failures (the source's stay counted)."""
        self._users.clear(user)
