"""`WallboardFeed`: one board for every supervisor, pushed as deltas.

The board is built once per change, not once per page (nor every agent to every page on every
change, as the desk's directory is): something happened (`poke()`: an agent's state, a call's
phase, a caller queued) or the refresh interval passed (the lines of the queues change without
an event), the feed waits `settle` seconds so that a burst of events makes one board, builds it
through `source`, diffs it against the last one (`web.supervisor.board.diff`) and hands the
same delta to every viewer. A viewer gets a snapshot first, then deltas numbered on from it.

Backpressure: each viewer's queue holds `VIEWER_QUEUE` messages. A viewer that falls behind is
not allowed to hold the others up or to grow memory: its queue is emptied and its next message
is a fresh snapshot (a page that missed deltas must start again from a whole board).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from web.supervisor.board import Board, diff, snapshot

log = logging.getLogger(__name__)

BoardSource = Callable[[], Awaitable[Board]]

# A page reads a delta in well under a millisecond; 32 waiting means it is gone or stuck.
VIEWER_QUEUE = 32
REFRESH_S = 1.0
SETTLE_S = 0.1


class Viewer:
    """One page's stream of messages: a snapshot, then deltas (a snapshot again after it fell
    behind)."""

    def __init__(self, feed: WallboardFeed) -> None:
        self._feed = feed
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(VIEWER_QUEUE)
        self._resync = asyncio.Event()
        self._resync.set()  # the first message is a snapshot
        self.dropped = 0

    def _offer(self, message: dict[str, Any]) -> None:
        if self._resync.is_set():
            return  # a snapshot comes next: it holds this change
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            self._resync.set()

    async def next(self) -> dict[str, Any]:
        """The next message for the page."""
        if self._resync.is_set():
            self._resync.clear()
            return await self._feed.snapshot()
        get = asyncio.ensure_future(self._queue.get())
        resync = asyncio.ensure_future(self._resync.wait())
        try:
            await asyncio.wait({get, resync}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (get, resync):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if get.done() and not get.cancelled():
            return get.result()
        return await self.next()


class WallboardFeed:
    """Builds the board on changes and fans its deltas out to the viewers."""

    def __init__(self, source: BoardSource, *, refresh: float = REFRESH_S,
                 settle: float = SETTLE_S, wall: Callable[[], float] | None = None) -> None:
        self._source = source
        self._wall = wall
        self._refresh = refresh
        self._settle = settle
        self._board: Board | None = None
        self._seq = 0
        self._viewers: set[Viewer] = set()
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False  # `close` was called: the loop ends at its next turn
        self._lock = asyncio.Lock()
        self.builds = 0  # boards built (for tests and metrics)

    def poke(self) -> None:
        """Something on the board may have changed (safe to call from any sync callback)."""
        self._poked.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wallboard-feed")

    async def close(self) -> None:
        # The flag, not only the cancel: on Python 3.11 `wait_for` swallows a cancel that
        # lands as the event it waits on is set (a poke at shutdown), and the loop would
        # wait on for ever (seen: a server's stop hung in its on_shutdown).
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            self._poked.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[Viewer]:
        """A viewer for one page, for as long as the page is open."""
        viewer = Viewer(self)
        self._viewers.add(viewer)
        try:
            yield viewer
        finally:
            self._viewers.discard(viewer)

    async def snapshot(self) -> dict[str, Any]:
        """The whole board now, numbered: the deltas that follow it carry the next numbers."""
        async with self._lock:
            if self._board is None:
                await self._update()
            assert self._board is not None
            return snapshot(self._board, self._seq,
                            None if self._wall is None else round(self._wall(), 3))

    async def build_now(self) -> None:
        """Build the board and send its delta now, as the feed's task does after a poke (for
        benches and tests that drive the feed step by step)."""
        async with self._lock:
            await self._update()

    async def _update(self) -> None:
        board = await self._source()
        self.builds += 1
        if self._board is None:
            self._board = board
            return
        delta = diff(self._board, board)
        self._board = board
        if not delta:
            return
        self._seq += 1
        message = delta.to_json(self._seq)
        for viewer in list(self._viewers):
            viewer._offer(message)

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self._refresh)
            if self._closing:
                return
            if not self._viewers:
                self._poked.clear()
                self._board = None  # nobody watches: build afresh for the next one
                continue
            await asyncio.sleep(self._settle)
            self._poked.clear()
            try:
                async with self._lock:
                    await self._update()
            except Exception:
                # A failed build (the store away) must not end the feed: the next one may work.
                log.exception("wallboard: building the board failed")
