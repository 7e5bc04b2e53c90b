"""One fan-out for every consumer of a leg's audio: transcribers, the debug capture, bridges,
in-band DTMF, the recorder and supervisors attach here as taps.

    fanout = TapFanout("in")
    fanout.attach(transcriber.on_frame)
    fanout.deliver(frame)               # on the 20 ms tick: every tap gets the frame

A tap is a plain function of one `AudioFrame`, called on the media tick: it must not block or
await, and its work stays per-frame (copy the frame into a bounded ring, feed a queue that
drops the oldest). A tap that raises is detached there and then, counted (per fan-out and in
the process-wide `TAP_STATS`), and logged once per kind of tap, with the exception's class
and the tap's name only: the message of an exception raised over audio may quote what was
said. The leg, and every other tap, go on: one broken consumer must never take a call off
the media clock (media/ticker.py drops a *leg* whose tick raises; the fan-out keeps that from
ever being a consumer's doing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from media.frames import AudioFrame

log = logging.getLogger(__name__)

Tap = Callable[[AudioFrame], None]
"""A consumer of 20 ms frames, called on the media tick; must not block."""


@dataclass
class TapStats:
    """Failed taps over the whole process, for metrics (`failures` counts detachments)."""

    failures: int = 0
    by_tap: dict[str, int] = field(default_factory=dict)


TAP_STATS = TapStats()
# Kinds of tap already logged: a consumer broken on every call logs once, not once a call.
_LOGGED: set[str] = set()
# Bounds `_LOGGED` (and `by_tap`) should tap names ever be generated.
_MAX_KINDS = 256


def tap_name(tap: Tap) -> str:
    """A stable, data-free name for a tap: its function's qualified name."""
    func = getattr(tap, "__func__", tap)
    name = getattr(func, "__qualname__", None) or type(tap).__qualname__
    module = getattr(func, "__module__", None) or type(tap).__module__
    return f"{module}.{name}"


class TapFanout:
    """Delivers each frame to every attached tap; a tap that raises is detached and counted.

    Attach and detach may happen from inside a tap (or while a frame is delivered): taps are
    kept as an immutable tuple that each delivery reads once, so a change applies from the
    next frame. `failures` counts the taps this fan-out detached for raising.
    """

    __slots__ = ("name", "taps", "failures")

    def __init__(self, name: str = "audio") -> None:
        self.name = name
        # Read-only outside: the hot path tests `fanout.taps` (a slot) before delivering,
        # which is cheaper per tick than a call to __bool__.
        self.taps: tuple[Tap, ...] = ()
        self.failures = 0

    def __len__(self) -> int:
        return len(self.taps)

    def __bool__(self) -> bool:
        return bool(self.taps)

    def __contains__(self, tap: object) -> bool:
        return tap in self.taps

    def attach(self, tap: Tap) -> None:
        """Add `tap`: it gets every frame from the next delivery on."""
        self.taps = (*self.taps, tap)

    def detach(self, tap: Tap) -> bool:
        """Remove `tap` (compared with ==, so a bound method detaches as itself); False if it
        was not attached."""
        taps = self.taps
        for i, attached in enumerate(taps):
            if attached == tap:
                self.taps = taps[:i] + taps[i + 1 :]
                return True
        return False

    def clear(self) -> None:
        self.taps = ()

    def deliver(self, frame: AudioFrame) -> None:
        """Hand `frame` to every tap. Never raises because of a tap."""
        for tap in self.taps:
            try:
                tap(frame)
            except Exception as exc:  # noqa: BLE001 - any consumer bug: detach it, keep the leg
                self._failed(tap, exc)

    def _failed(self, tap: Tap, exc: Exception) -> None:
        self.detach(tap)
        self.failures += 1
        name = tap_name(tap)
        TAP_STATS.failures += 1
        if name in TAP_STATS.by_tap or len(TAP_STATS.by_tap) < _MAX_KINDS:
            TAP_STATS.by_tap[name] = TAP_STATS.by_tap.get(name, 0) + 1
        if name not in _LOGGED and len(_LOGGED) < _MAX_KINDS:
            _LOGGED.add(name)
            # The class only: an exception's message about audio may quote personal data.
            log.warning("audio tap %s (%s) raised %s: detached; the leg goes on "
                        "(further failures of this tap are only counted)",
                        name, self.name, type(exc).__name__)
