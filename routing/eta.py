"""Estimated wait time, and the words the caller hears about it and about their place in line.

The estimate comes from the queue's recent handle times (`HandleTimes`) and its staffing at
the moment of asking (`estimate_wait`); `spoken_wait` and `spoken_position` turn numbers into
the sentences the queue verb says (TTS). Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["HandleTimes", "estimate_wait", "spoken_position", "spoken_wait"]


class HandleTimes:
    """The last `size` handle times of a queue, in seconds (talk + wrap-up of one call).

    A bounded window: the oldest time falls out when a new one comes in, so the average
    follows the queue as its calls change through the day.
    """

    def __init__(self, size: int = 50) -> None:
        if size < 1:
            raise ValueError(f"handle time window size must be at least 1, not {size}")
        self._times: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        """Record one call's handle time; negative or non-finite times are refused."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"handle time must be a finite number of seconds >= 0: {seconds}")
        self._times.append(float(seconds))

    def average(self, default: float) -> float:
        """The mean of the window, or `default` (the queue's configured handle time) while it
        is empty."""
        if not self._times:
            return default
        return math.fsum(self._times) / len(self._times)

    def __len__(self) -> int:
        return len(self._times)


def estimate_wait(position: int, *, average_handle: float, staffed: int, available: int) -> float:
    """Expected seconds until the caller at `position` (1 = next) reaches an agent.

    `staffed` counts the agents logged in to the queue and not on a break (the available ones
    included); `available` those of them free right now.

    - ``available >= position``: 0, an agent is free for this caller.
    - ``staffed == 0``: ``math.inf``, nobody will free up; say "we can't estimate".
    - otherwise ``(position - available) * average_handle / staffed``.

    Why: the first `available` callers are taken at once, so this caller needs
    ``k = position - available`` more agents to free up. With every staffed agent busy, calls
    end at a rate of ``staffed / average_handle`` per second; with exponentially distributed
    handle times (Erlang C's assumption, under which a busy agent's remaining time is a whole
    average handle time whatever they have done so far) the time to the next end is
    ``average_handle / staffed``, and the k-th end comes after k of those. This is Erlang C's
    expected wait for a caller who finds ``k - 1`` others ahead with all agents busy. Callers
    ahead who give up or take a callback make the real wait shorter, so the estimate leans
    long, the kinder side to err on.

    Raises ValueError for position < 1, negative counts, ``available > staffed`` or a negative
    or non-finite handle time.
    """
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    if available < 0 or staffed < 0 or available > staffed:
        raise ValueError(f"need 0 <= available <= staffed, got {available} of {staffed}")
    if not math.isfinite(average_handle) or average_handle < 0:
        raise ValueError(f"average handle time must be finite and >= 0: {average_handle}")
    if available >= position:
        return 0.0
    if staffed == 0:
        return math.inf
    return (position - available) * average_handle / staffed


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def spoken_wait(seconds: float) -> str:
    """The sentence announcing a wait estimate, rounded the way a person would say it.

    "Your estimated wait time is ..." followed by:

    - under 60 s: "less than a minute."
    - under 10.5 min: the nearest minute, halves up ("about 1 minute.", "about 7 minutes.")
    - under 57.5 min: the nearest 5 minutes ("about 15 minutes.", "about 55 minutes.")
    - from 57.5 min: the nearest hour ("about 1 hour.", "about 3 hours.")

    and for an infinite wait (nobody staffed): "We can't estimate your wait time right now."

    Finer figures than these would promise a precision the estimate does not have.
    """
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"a wait is a number of seconds >= 0, not {seconds}")
    if math.isinf(seconds):
        return "We can't estimate your wait time right now."
    minutes = seconds / 60
    if minutes < 1:
        return "Your estimated wait time is less than a minute."
    if minutes < 10.5:
        amount = _plural(_round_half_up(minutes), "minute")
    elif minutes < 57.5:
        amount = _plural(5 * _round_half_up(minutes / 5), "minute")
    else:
        amount = _plural(_round_half_up(minutes / 60), "hour")
    return f"Your estimated wait time is about {amount}."


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def spoken_position(position: int) -> str:
    """The sentence announcing a caller's place in line: "You are next in line." for 1,
    "You are caller number N in line." after that."""
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    if position == 1:
        return "You are next in line."
    return f"You are caller number {position} in line."
