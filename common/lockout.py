"""Lockouts for every place that checks a secret: SIP digest auth and the HTTP login.

`voice.sip.auth` (the registrar) and `web.auth.throttle` (POST /api/login) share this one
policy. An attempt to check a secret is *reserved* before it is verified and *settled* after:

    gate = Lockouts(clock.now, LockoutPolicy())
    attempt = gate.reserve(user, source)
    if isinstance(attempt, Refused):
        ...                       # answer 429 / 403 with attempt.retry_after
    elif password_ok:
        attempt.succeeded()       # releases the reservation, remembers (user, source)
    else:
        attempt.failed()          # the reservation becomes a failure

Reserving is synchronous, so on one event loop it is atomic: attempts still being verified
count toward every limit, and forty simultaneous guesses get no more tries than forty
consecutive ones (a slow hash between check and count would otherwise let them all through).

Three limits, each a sliding window of failures on the injected monotonic clock:

- per (user, source), `max_failures`: the lock an attacker meets first. Each repeated lockout
  of the same pair lasts twice as long as the one before (up to `max_lockout`); a quiet
  `strike_memory` forgets the count.
- per user across all sources, `user_max_failures` (higher): stops guessing spread over many
  addresses. It does not lock out a *known-good* source, one that signed in as that user within
  `known_good_ttl`, so nobody can lock the admin out of the admin's own desk.
- per source across users, `source_max_failures`: stops password spraying. One office behind a
  NAT shares an address, so it too lets known-good (user, source) pairs in; those still meet
  their own per-pair limit.

Memory is bounded (`max_tracked` keys per table, `max_known_good` pairs), so a flood of
invented usernames or addresses cannot grow it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Now = Callable[[], float]
K = TypeVar("K", bound=Hashable)

#: Retry-After for an attempt refused because earlier ones are still being checked: they
#: settle within a hash's time, after which the real verdict (locked or not) is known.
BUSY_RETRY = 1.0


@dataclass(frozen=True)
class LockoutPolicy:
    """Limits and durations (seconds of the injected monotonic clock)."""

    #: Failures per (user, source) within `failure_window` before that pair is locked.
    max_failures: int = 5
    #: Failures per user from all sources before unknown sources are locked out for the user.
    user_max_failures: int = 20
    #: Failures per source over all users before the source is locked (but for known-good pairs).
    source_max_failures: int = 20
    failure_window: float = 300.0
    #: The first lockout; each repeated one of the same key doubles it, up to `max_lockout`.
    lockout: float = 300.0
    max_lockout: float = 86_400.0
    #: A key's lockout count is forgotten after this long without a new lockout.
    strike_memory: float = 86_400.0
    #: How long a successful sign-in keeps its (user, source) pair known-good.
    known_good_ttl: float = 30 * 86_400.0
    max_known_good: int = 10_000
    #: Bound on the keys of each failure table.
    max_tracked: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_failures", "user_max_failures", "source_max_failures",
                     "max_known_good", "max_tracked"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"LockoutPolicy.{name} must be at least 1")
        for name in ("failure_window", "lockout", "max_lockout", "strike_memory",
                     "known_good_ttl"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"LockoutPolicy.{name} must be positive")


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    locked_until: float = -math.inf
    strikes: int = 0
    last_lock: float = -math.inf

    def last_activity(self) -> float:
        return max(self.failures[-1] if self.failures else -math.inf, self.last_lock)


class FailureTracker(Generic[K]):
    """One table of keys: failures in a sliding window, attempts in flight, lockouts."""

    def __init__(self, now: Now, policy: LockoutPolicy, limit: int) -> None:
        self._now = now
        self._policy = policy
        self.limit = limit
        self._entries: dict[K, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def wait(self, key: K) -> float | None:
        """Seconds until an attempt for `key` may be checked, or None if it may now.

        Failures in the window plus attempts in flight must stay below the limit.
        """
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._now()
        if entry.locked_until > now:
            return entry.locked_until - now
        self._trim(entry, now)
        if len(entry.failures) + entry.in_flight >= self.limit:
            return BUSY_RETRY
        return None

    def locked_for(self, key: K) -> float | None:
        """Seconds `key` stays locked, or None (attempts in flight do not lock)."""
        entry = self._entries.get(key)
        remaining = None if entry is None else entry.locked_until - self._now()
        return remaining if remaining is not None and remaining > 0 else None

    def reserve(self, key: K) -> None:
        """Count an attempt in flight for `key` (settle it with `release` or `fail`)."""
        self._entry(key).in_flight += 1

    def release(self, key: K) -> None:
        """An attempt in flight ended without a verdict, or succeeded."""
        entry = self._entries.get(key)
        if entry is not None and entry.in_flight > 0:
            entry.in_flight -= 1

    def fail(self, key: K) -> bool:
        """Turn an attempt in flight into a failure; True when it starts a lockout."""
        entry = self._entry(key)
        entry.in_flight = max(0, entry.in_flight - 1)
        now = self._now()
        entry.failures.append(now)
        self._trim(entry, now)
        if len(entry.failures) < self.limit or entry.locked_until > now:
            return False
        p = self._policy
        if now - entry.last_lock > p.strike_memory:
            entry.strikes = 0
        entry.strikes += 1
        entry.last_lock = now
        entry.locked_until = now + min(p.max_lockout, p.lockout * 2 ** min(entry.strikes - 1, 60))
        entry.failures.clear()
        return True

    def clear(self, key: K) -> None:
        """A success: forget the key's failures and lockout count (a running lockout stays)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.failures.clear()
            entry.strikes = 0

    def _trim(self, entry: _Entry, now: float) -> None:
        horizon = now - self._policy.failure_window
        while entry.failures and entry.failures[0] <= horizon:
            entry.failures.popleft()

    def _entry(self, key: K) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._policy.max_tracked:
                self._prune()
            entry = self._entries[key] = _Entry()
        return entry

    def _prune(self) -> None:
        now = self._now()
        p = self._policy
        for key in [k for k, e in self._entries.items() if self._idle(e, now)]:
            del self._entries[key]
        if len(self._entries) >= p.max_tracked:
            # Still full of live entries: drop half rather than grow without bound. Keep
            # attempts in flight and running lockouts longest, then the most recent activity.
            ranked = sorted(
                self._entries,
                key=lambda k: (
                    self._entries[k].in_flight > 0,
                    self._entries[k].locked_until > now,
                    self._entries[k].last_activity(),
                ),
            )
            for key in ranked[: len(ranked) // 2]:
                del self._entries[key]

    def _idle(self, entry: _Entry, now: float) -> bool:
        self._trim(entry, now)
        return (
            not entry.failures
            and entry.in_flight == 0
            and entry.locked_until <= now
            and now - entry.last_lock > self._policy.strike_memory
        )


class KnownGood:
    """(user, source) pairs that signed in recently: a bounded, expiring LRU set."""

    def __init__(self, now: Now, ttl: float, limit: int) -> None:
        self._now = now
        self._ttl = ttl
        self._limit = limit
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, user: str, source: str) -> None:
        key = (user, source)
        self._seen[key] = self._now()
        self._seen.move_to_end(key)
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)

    def fresh(self, user: str, source: str) -> bool:
        """Whether (user, source) signed in within the TTL."""
        key = (user, source)
        seen = self._seen.get(key)
        if seen is None:
            return False
        if self._now() - seen > self._ttl:
            del self._seen[key]
            return False
        return True


@dataclass(frozen=True)
class Refused:
    """An attempt that may not be checked now; retry after `retry_after` seconds."""

    retry_after: float
    #: Which limit refused it: "pair", "user" or "source" (for logs and tests, not clients).
    limit: str


class Attempt:
    """A reserved attempt: settle it exactly once with `succeeded`, `failed` or `release`."""

    def __init__(self, gate: Lockouts, user: str, source: str) -> None:
        self._gate = gate
        self.user = user
        self.source = source
        self.settled = False

    def succeeded(self) -> None:
        """The secret was right: release the reservation and trust this (user, source)."""
        if self._settle():
            self._gate._succeeded(self.user, self.source)

    def failed(self) -> bool:
        """The secret was wrong: count a failure everywhere; True if a lockout started."""
        return self._gate._failed(self.user, self.source) if self._settle() else False

    def release(self) -> None:
        """No verdict (the store was down, the request was cancelled): count nothing."""
        if self._settle():
            self._gate._release(self.user, self.source)

    def _settle(self) -> bool:
        if self.settled:
            return False
        self.settled = True
        return True


class Lockouts:
    """The per-(user, source), per-user and per-source limits, with known-good sources."""

    def __init__(self, now: Now, policy: LockoutPolicy | None = None) -> None:
        self.policy = p = policy or LockoutPolicy()
        self._pairs: FailureTracker[tuple[str, str]] = FailureTracker(now, p, p.max_failures)
        self._users: FailureTracker[str] = FailureTracker(now, p, p.user_max_failures)
        self._sources: FailureTracker[str] = FailureTracker(now, p, p.source_max_failures)
        self._known = KnownGood(now, p.known_good_ttl, p.max_known_good)

    def reserve(self, user: str, source: str) -> Attempt | Refused:
        """Reserve one attempt to check `user`'s secret from `source`, or refuse it."""
        waits = [("pair", self._pairs.wait((user, source)))]
        if not self._known.fresh(user, source):
            waits += [("user", self._users.wait(user)), ("source", self._sources.wait(source))]
        blocking = [(w, name) for name, w in waits if w is not None]
        if blocking:
            wait, name = max(blocking)
            return Refused(wait, name)
        self._pairs.reserve((user, source))
        self._users.reserve(user)
        self._sources.reserve(source)
        return Attempt(self, user, source)

    def known_good(self, user: str, source: str) -> bool:
        """Whether `source` signed in as `user` within the policy's `known_good_ttl`."""
        return self._known.fresh(user, source)

    def _succeeded(self, user: str, source: str) -> None:
        self._release(user, source)
        # Only the pair is cleared: the per-user and per-source windows keep counting, so a
        # success from one place does not buy guesses from elsewhere.
        self._pairs.clear((user, source))
        self._known.add(user, source)

    def _failed(self, user: str, source: str) -> bool:
        started = self._pairs.fail((user, source))
        started = self._users.fail(user) or started
        return self._sources.fail(source) or started

    def _release(self, user: str, source: str) -> None:
        self._pairs.release((user, source))
        self._users.release(user)
        self._sources.release(source)
