"""Even RTP port allocation from a configured range (RTCP uses port + 1)."""

from __future__ import annotations

from collections import deque


class PortsExhaustedError(RuntimeError):
    """Every even port of the range is handed out."""


class PortAllocator:
    """Hands out even ports from `[start, end)` and takes them back.

    Ports are reused least-recently-freed first, so a new call does not receive the previous
    call's straggling packets on a port just freed.
    """

    def __init__(self, start: int = 10000, end: int = 20000) -> None:
        first = start + (start % 2)
        if first + 1 >= end or end > 65536 or first <= 0:
            raise ValueError(f"no even port pair in [{start}, {end})")
        # The last pair must fit: port + 1 (RTCP) is still below `end`.
        self._free: deque[int] = deque(range(first, end - 1, 2))
        self._used: set[int] = set()
        self.start = first
        self.end = end

    @property
    def available(self) -> int:
        return len(self._free)

    def allocate(self) -> int:
        """The next free even port; raise `PortsExhaustedError` when none is left."""
        if not self._free:
            raise PortsExhaustedError(f"all RTP ports in [{self.start}, {self.end}) are in use")
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        """Give a port back; releasing a port not handed out is an error (a double free)."""
        if port not in self._used:
            raise ValueError(f"port {port} was not allocated")
        self._used.remove(port)
        self._free.append(port)
