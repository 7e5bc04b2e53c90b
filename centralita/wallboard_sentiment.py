"""The sentiment of each call in progress, for the supervisor's wallboard (issue 16 item 5).

`CallSentiment` follows the case of every call the board shows. It subscribes to the case's
live events (`case:{id}` on the event bus, the topic the case's live socket reads; every
segment arrives scored by `cases.insights`), then reads the segments the call's interaction
holds already (a page opened mid-call sees the trend from the start), and pokes the feed on
each new segment so that the change goes out as a delta like any other. The call's row on the
board gets, once a segment is scored:

    "sentiment": {"label": "negative", "score": -0.41, "count": 7,
                  "trend": [{"speaker": "caller", "start": 3.2, "sentiment": -0.62}, ...],
                  "topics": ["delivery", "complaint"]}

the roll-up of `cases.insights.interaction_insights` over the call's segments, its trend cut
to the last `TREND_POINTS` (a delta carries the whole trend: it stays small however long the
call) and its first `TOPICS` topics. A call's follower ends when the call leaves the ACD
(`keep`, on routing's events, even when no page is open) or the board, and at shutdown.
No text of what was said is kept or logged: scores, speakers, times and topic names only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from cases.events import EventBus
from cases.insights import ScoredSegment, interaction_insights

log = logging.getLogger(__name__)

TREND_POINTS = 20
TOPICS = 3


class CaseReader(Protocol):
    """What the follower reads from the case store (`cases.store.CaseStore`)."""

    async def find_interaction_by_call(self, call_id: str) -> tuple[int, Any] | None: ...

    async def timeline(self, case_id: int) -> dict[str, Any]: ...


class _Follower:
    """One call: its case, its interaction once known, its scored segments by id."""

    def __init__(self, call_id: str, case_id: int) -> None:
        self.call_id = call_id
        self.case_id = case_id
        self.interaction_id: int | None = None
        self.segments: dict[object, ScoredSegment] = {}
        self.view: dict[str, Any] | None = None
        self.task: asyncio.Task[None] | None = None


class CallSentiment:
    """Follows the calls' cases (see the module doc); `poke` is called when a view changed."""

    def __init__(self, cases: CaseReader, bus: EventBus, poke: Callable[[], None]) -> None:
        self._cases = cases
        self._bus = bus
        self._poke = poke
        self._followers: dict[str, _Follower] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self.failed = 0  # followers that ended on an error (metrics, tests)

    def view(self, call_id: str) -> dict[str, Any] | None:
        """The sentiment of `call_id` for its board row; None before a segment is scored."""
        follower = self._followers.get(call_id)
        return None if follower is None else follower.view

    def follow(self, calls: Mapping[str, int]) -> None:
        """Follow these calls (call id -> case id), and no others."""
        self.keep(calls.keys())
        for call_id, case_id in calls.items():
            if call_id not in self._followers:
                follower = _Follower(call_id, case_id)
                follower.task = asyncio.create_task(
                    self._run(follower), name=f"wallboard-sentiment-{call_id}"
                )
                self._followers[call_id] = follower

    def keep(self, call_ids: Collection[str]) -> None:
        """Stop following every call not in `call_ids` (safe from a sync callback)."""
        for call_id in [c for c in self._followers if c not in call_ids]:
            task = self._followers.pop(call_id).task
            if task is not None and not task.done():
                task.cancel()
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Stop every follower and wait until each is gone."""
        self.keep(())
        tasks = list(self._stopping)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, follower: _Follower) -> None:
        try:
            async with self._bus.subscribe(f"case:{follower.case_id}") as events:
                # Subscribed first, then read: a segment stored in between comes both ways
                # and is counted once (by id).
                await self._load(follower)
                async for payload in events:
                    segment = payload.get("segment")
                    if payload.get("type") != "segment" or not isinstance(segment, dict):
                        continue
                    if follower.interaction_id is None:
                        await self._load(follower)  # the call's interaction came after
                    if segment.get("interaction_id") == follower.interaction_id:
                        self._add(follower, [segment])
        except Exception as exc:
            # The board goes on without this call's sentiment.
            self.failed += 1
            log.warning(
                "wallboard: following the sentiment of a call failed: %s", type(exc).__name__
            )

    async def _load(self, follower: _Follower) -> None:
        found = await self._cases.find_interaction_by_call(follower.call_id)
        if found is None:
            return
        follower.interaction_id = found[0]
        timeline = await self._cases.timeline(follower.case_id)
        for interaction in timeline.get("interactions", []):
            if interaction.get("id") == follower.interaction_id:
                self._add(follower, interaction.get("segments") or [])

    def _add(self, follower: _Follower, segments: list[dict[str, Any]]) -> None:
        for seg in segments:
            score = seg.get("sentiment")
            follower.segments[seg.get("id")] = ScoredSegment(
                speaker=str(seg.get("speaker")),
                start=float(seg.get("start") or 0.0),
                sentiment=float(score) if isinstance(score, int | float) else None,
                topics=tuple(seg.get("topics") or ()),
            )
        view = board_view(follower.segments.values())
        if view != follower.view:
            follower.view = view
            self._poke()


def board_view(segments: Collection[ScoredSegment]) -> dict[str, Any] | None:
    """The board's sentiment of a call with these segments (see the module doc)."""
    insights = interaction_insights(list(segments))
    if insights is None:
        return None
    trend = insights["trend"]
    return {
        "label": insights["label"],
        "score": round(insights["sentiment"], 3),
        "count": len(trend),
        "trend": [
            {"speaker": p["speaker"], "start": p["start"], "sentiment": round(p["sentiment"], 3)}
            for p in trend[-TREND_POINTS:]
        ],
        "topics": [t["topic"] for t in insights["topics"][:TOPICS]],
    }
