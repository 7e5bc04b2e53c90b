"""SIGTERM/SIGINT as a flag the worker's poll loop checks between ticks.

The handler only sets a flag: Python runs it on the main thread between
``libHandleEvents`` ticks, and the loop then hangs calls up and tears the
library down in order, instead of dying inside PJSIP.
"""

from __future__ import annotations

import signal
from types import FrameType


class StopFlag:
    """Set once a termination signal arrived (or :meth:`set` was called)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """Ask the worker to finish."""
        self._set = True

    def is_set(self) -> bool:
        """Whether the worker was asked to finish."""
        return self._set

    def install(self) -> StopFlag:
        """Route SIGTERM and SIGINT to this flag; return self."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        return self
