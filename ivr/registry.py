"""`FlowRegistry`: the flows of a directory, by dialed number, reloaded when files change.

    registry = FlowRegistry(flows_dir, clock=clock)
    registry.load()          # or: registry.start() to also poll every `interval` seconds
    flow = registry.flow_for(call.dialed)

Polling rides the injected clock's timers (no thread, no task: `stop()` cancels the timer), and
compares each file's (mtime, size): cheap, and tests move it with `FakeClock.advance()`.

A file that fails validation is rejected: its problems are logged as `file:line:column: message`
and kept in `errors`, and its last good version keeps serving. A call holds the `FlowDoc` it
started with, so reloads never change a call in progress.
"""

from __future__ import annotations

import logging
import pathlib
from typing import TYPE_CHECKING

from ivr.flow import FlowDoc
from ivr.validator import check_numbers, flow_files, load_flow
from ivr.verbs.base import Problems

if TYPE_CHECKING:
    from media.clock import Clock, TimerHandle

log = logging.getLogger(__name__)

Stamp = tuple[int, int]


class FlowRegistry:
    """Flows by dialed number, with a default flow for the rest."""

    def __init__(self, directory: pathlib.Path, *, clock: Clock, interval: float = 1.0) -> None:
        self.directory = directory
        self.clock = clock
        self.interval = interval
        self.flows: dict[pathlib.Path, FlowDoc] = {}
        self.errors: dict[pathlib.Path, list[str]] = {}
        self.reloads = 0
        self._stamps: dict[pathlib.Path, Stamp] = {}
        self._by_number: dict[str, FlowDoc] = {}
        self._default: FlowDoc | None = None
        self._timer: TimerHandle | None = None

    # -- serving --------------------------------------------------------------------------------
    def flow_for(self, dialed: str) -> FlowDoc | None:
        """The current flow for `dialed`, else the default flow, else None."""
        return self._by_number.get(dialed, self._default)

    # -- loading --------------------------------------------------------------------------------
    def load(self) -> bool:
        """Look for changed, new and removed files and reload them; True if anything changed."""
        stamps = self._scan()
        changed = [p for p, s in stamps.items() if self._stamps.get(p) != s]
        removed = [p for p in self._stamps if p not in stamps]
        if not changed and not removed:
            return False
        self._stamps = stamps
        for path in removed:
            self.errors.pop(path, None)
            if self.flows.pop(path, None) is not None:
                log.info("flow file %s removed", path)
        for path in changed:
            self._reload(path)
        self._index()
        self.reloads += 1
        return True

    def _scan(self) -> dict[pathlib.Path, Stamp]:
        stamps: dict[pathlib.Path, Stamp] = {}
        for path in flow_files([self.directory]):
            try:
                stat = path.stat()
            except OSError:
                continue  # removed between the listing and the stat: next poll sees it gone
            stamps[path] = (stat.st_mtime_ns, stat.st_size)
        return stamps

    def _reload(self, path: pathlib.Path) -> None:
        problems = Problems()
        flow = load_flow(path, problems)
        if flow is not None:
            others = [f for p, f in sorted(self.flows.items()) if p != path]
            check_numbers([*others, flow], problems)
        if problems:
            self.errors[path] = problems.lines()
            kept = self.flows.get(path)
            for line in self.errors[path]:
                log.error("flow rejected: %s", line)
            if kept is not None:
                log.warning("flow %s: keeping version %s", kept.name, kept.version)
            return
        assert flow is not None
        self.errors.pop(path, None)
        old = self.flows.get(path)
        self.flows[path] = flow
        if old is None:
            log.info("flow %s loaded (version %s)", flow.name, flow.version)
        elif old.version != flow.version:
            log.info("flow %s reloaded: version %s -> %s", flow.name, old.version, flow.version)

    def _index(self) -> None:
        by_number: dict[str, FlowDoc] = {}
        default: FlowDoc | None = None
        for _, flow in sorted(self.flows.items()):
            for number in flow.numbers:
                by_number.setdefault(number, flow)
            if flow.default and default is None:
                default = flow
        self._by_number, self._default = by_number, default

    # -- polling --------------------------------------------------------------------------------
    def start(self) -> None:
        """Load now, then poll every `interval` seconds on the clock until `stop()`."""
        if self._timer is not None:
            return
        self.load()
        self._timer = self.clock.call_later(self.interval, self._tick)

    def stop(self) -> None:
        """Stop polling (loaded flows keep serving)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        try:
            self.load()
        except OSError as exc:
            # A directory briefly unreadable (being replaced) must not stop reloads for good.
            log.error("flows directory %s: %s", self.directory, exc.strerror)
        if self._timer is not None:
            self._timer = self.clock.call_later(self.interval, self._tick)
