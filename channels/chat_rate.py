"""A token bucket per chat visitor: a burst of `capacity` lines, refilled at `capacity` per
`per_seconds`, on an injected monotonic clock (STYLE.md §9).

5 lines in 10 s lets a visitor paste a few short lines in a row and answer quickly, but stops
a script from filling the case; a refused line gets `retry_after`, the seconds until one
token is back, so the widget can say when to try again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

Monotonic = Callable[[], float]


class TokenBucket:
    """`take()` spends a token if there is one; otherwise says how long until there is."""

    def __init__(self, capacity: int, per_seconds: float, now: Monotonic) -> None:
        if capacity < 1 or per_seconds <= 0:
            raise ValueError("a bucket holds at least 1 token, refilled over a positive time")
        self.capacity = capacity
        self.rate = capacity / per_seconds
        self._now = now
        self._tokens = float(capacity)
        self._at = now()

    def _refill(self) -> None:
        now = self._now()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self) -> float:
        """0.0 if a token was spent, else the seconds until one is available (none spent)."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    @property
    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.capacity


class RateLimits:
    """One bucket per visitor id, the least recently used forgotten past `max_visitors` (a
    forgotten visitor starts with a full bucket, which is what they would have by then)."""

    def __init__(self, capacity: int, per_seconds: float, now: Monotonic,
                 *, max_visitors: int = 100_000) -> None:
        self.capacity = capacity
        self.per_seconds = per_seconds
        self._now = now
        self._max = max_visitors
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, visitor_id: str) -> float:
        """`TokenBucket.take` on the visitor's bucket."""
        bucket = self._buckets.get(visitor_id)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.per_seconds, self._now)
            self._buckets[visitor_id] = bucket
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(visitor_id)
        return bucket.take()
