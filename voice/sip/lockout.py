"""Failures per key (a username, a source address) in a sliding window, with lockouts.

One mechanism for every place that checks a secret: SIP digest auth (`voice.sip.auth`) and
the HTTP login (`web.auth.throttle`). Reaching `limit` failures within `window` seconds locks
the key for `lockout` seconds. Both tables are bounded by `max_tracked`, so a flood of
invented usernames cannot grow memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class FailureTracker:
    """Sliding-window failure counts and lockouts on an injected monotonic clock."""

    def __init__(
        self, now: Callable[[], float], *, window: float, lockout: float, max_tracked: int
    ) -> None:
        self._now = now
        self._window = window
        self._lockout = lockout
        self._max_tracked = max_tracked
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def locked_for(self, key: str) -> float | None:
        """Seconds `key` stays locked, or None."""
        until = self._locked_until.get(key)
        if until is None:
            return None
        remaining = until - self._now()
        if remaining <= 0:
            del self._locked_until[key]
            return None
        return remaining

    def fail(self, key: str, limit: int) -> bool:
        """Record a failure; True when it reaches `limit` and starts a lockout."""
        now = self._now()
        window = self._failures.get(key)
        if window is None:
            if len(self._failures) >= self._max_tracked:
                self._prune(now)
            window = self._failures[key] = deque()
        window.append(now)
        while window and window[0] <= now - self._window:
            window.popleft()
        if len(window) < limit:
            return False
        if len(self._locked_until) >= self._max_tracked:
            self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        self._locked_until[key] = now + self._lockout
        del self._failures[key]
        return True

    def clear(self, key: str) -> None:
        """A success: forget the key's failures (a running lockout stays)."""
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        horizon = now - self._window
        for key in [k for k, w in self._failures.items() if not w or w[-1] <= horizon]:
            del self._failures[key]
        if len(self._failures) >= self._max_tracked:
            # Still full of live entries: drop the oldest half rather than grow without bound.
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]
