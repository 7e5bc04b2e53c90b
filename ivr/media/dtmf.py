"""DTMF collection as a small state machine (pipecat-style aggregation: timeout + terminator).

    agg = DtmfAggregator(DtmfRules(max_digits=4, terminator="#"))
    agg.press("1") ... -> None while collecting, a `Collected` once done
    agg.expire()       -> the `Collected` when the timer runs out

It knows no clock: the caller (the `gather` verb) asks `deadline()` how long to wait and calls
`expire()` when that passes. Digits are personal data: `Collected`'s repr masks them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Outcome(enum.Enum):
    MATCH = "match"  # enough digits, pattern (if any) satisfied
    INVALID = "invalid"  # something entered, but too few digits or not the pattern
    TIMEOUT = "timeout"  # nothing entered before the first-digit timeout


class Ended(enum.Enum):
    TERMINATOR = "terminator"
    MAX_DIGITS = "max_digits"
    INTER_DIGIT_TIMEOUT = "inter_digit_timeout"
    NO_INPUT = "no_input"


@dataclass(frozen=True)
class DtmfRules:
    """How to collect: seconds to the first digit and between digits, the key that ends
    entry (not part of the result; "" for none), digit counts and an optional regex the
    whole entry must match."""

    timeout: float = 5.0
    inter_digit_timeout: float = 3.0
    terminator: str = "#"
    min_digits: int = 1
    max_digits: int = 20
    pattern: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_digits <= self.max_digits:
            raise ValueError("need 1 <= min_digits <= max_digits")
        if self.timeout <= 0 or self.inter_digit_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if len(self.terminator) > 1:
            raise ValueError("terminator is one key")


@dataclass(frozen=True)
class Collected:
    """What came of one collection."""

    digits: str
    outcome: Outcome
    ended: Ended

    def __repr__(self) -> str:
        return f"Collected(<{len(self.digits)} digits>, {self.outcome.value}, {self.ended.value})"


class DtmfAggregator:
    """Collects one entry under `rules`."""

    def __init__(self, rules: DtmfRules) -> None:
        self.rules = rules
        self._digits: list[str] = []
        self._pattern = re.compile(rules.pattern) if rules.pattern else None
        self.result: Collected | None = None

    @property
    def digits(self) -> str:
        return "".join(self._digits)

    def deadline(self) -> float:
        """Seconds to wait for the next key before `expire()`."""
        return self.rules.inter_digit_timeout if self._digits else self.rules.timeout

    def press(self, digit: str) -> Collected | None:
        """Take one key; returns the result once the entry is complete."""
        if self.result is not None:
            raise RuntimeError("collection already finished")
        if self.rules.terminator and digit == self.rules.terminator:
            return self._finish(Ended.TERMINATOR)
        self._digits.append(digit)
        if len(self._digits) >= self.rules.max_digits:
            return self._finish(Ended.MAX_DIGITS)
        return None

    def expire(self) -> Collected:
        """The wait from `deadline()` ran out."""
        return self._finish(Ended.INTER_DIGIT_TIMEOUT if self._digits else Ended.NO_INPUT)

    def _finish(self, ended: Ended) -> Collected:
        digits = self.digits
        if not digits:
            # A lone terminator is an empty entry, which counts as no input at all.
            outcome = Outcome.TIMEOUT
        elif len(digits) < self.rules.min_digits or (
            self._pattern is not None and self._pattern.fullmatch(digits) is None
        ):
            outcome = Outcome.INVALID
        else:
            outcome = Outcome.MATCH
        self.result = Collected(digits, outcome, ended)
        return self.result


def mask(digits: str) -> str:
    """What a sensitive entry looks like anywhere it is stored or shown."""
    return "****" if digits else ""
