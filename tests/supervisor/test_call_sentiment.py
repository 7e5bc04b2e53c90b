"""Each call's sentiment for the wallboard (`centralita.wallboard_sentiment`), over the real
case store and event bus: a call followed mid-way starts from the segments it has, a new
segment moves the view and pokes the feed, another call's segments on the same case do not
count, and a call no longer kept is unsubscribed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cases.events import InProcessBus
from cases.insights import ScoredSegment
from cases.store import CaseStore
from centralita.wallboard_sentiment import TREND_POINTS, CallSentiment, board_view

CALLER = "+34612000111"


@pytest.fixture
async def cases(tmp_path: Path) -> AsyncIterator[tuple[CaseStore, InProcessBus]]:
    bus = InProcessBus()
    store = await CaseStore.open(f"sqlite:///{tmp_path / 'cases.db'}", bus=bus)
    try:
        yield store, bus
    finally:
        await store.close()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out: {what}")


async def say(store: CaseStore, interaction_id: int, start: float, text: str) -> None:
    await store.add_segment(
        interaction_id,
        speaker="caller",
        start=start,
        end=start + 2,
        text=text,
        confidence=0.9,
        engine="test",
        language="en",
    )


async def test_a_negative_utterance_moves_the_calls_view(
    cases: tuple[CaseStore, InProcessBus],
) -> None:
    store, bus = cases
    call = await store.start_voice_interaction(caller=CALLER, call_id="c1")
    await say(store, call.interaction_id, 1.0, "Thank you, that is great.")
    pokes: list[int] = []
    sentiment = CallSentiment(store, bus, lambda: pokes.append(1))
    try:
        sentiment.follow({"c1": call.case_id})
        await until(lambda: sentiment.view("c1") is not None, "the stored segment")
        first = sentiment.view("c1")
        assert first is not None and first["label"] == "positive" and first["count"] == 1, first
        poked = len(pokes)

        # Another call of the same customer, on the same case, at the same time: not ours.
        other = await store.start_voice_interaction(caller=CALLER, call_id="c2")
        assert other.case_id == call.case_id
        await say(store, other.interaction_id, 1.0, "This is terrible and I am furious.")

        await say(
            store,
            call.interaction_id,
            4.0,
            "This is terrible, my order never arrived and I am very angry.",
        )
        await until(lambda: (sentiment.view("c1") or {}).get("count") == 2, "the new segment")
        now = sentiment.view("c1")
        assert now is not None
        assert [p["speaker"] for p in now["trend"]] == ["caller", "caller"]
        assert now["trend"][0]["sentiment"] > 0.05 > -0.05 > now["trend"][1]["sentiment"], now
        assert now["score"] < first["score"]
        assert len(pokes) > poked
        assert set(now) == {"label", "score", "count", "trend", "topics"}
        assert "delivery" in now["topics"], now  # "order never arrived"
        assert sentiment.failed == 0

        sentiment.keep(())  # the call ended
        assert sentiment.view("c1") is None
        await until(
            lambda: bus.subscriber_count(f"case:{call.case_id}") == 0, "the case unsubscribed"
        )
    finally:
        await sentiment.close()
    assert bus.subscriber_count(f"case:{call.case_id}") == 0


async def test_a_call_whose_interaction_comes_later_is_followed_from_its_first_segment(
    cases: tuple[CaseStore, InProcessBus],
) -> None:
    store, bus = cases
    earlier = await store.start_voice_interaction(caller=CALLER, call_id="before")
    sentiment = CallSentiment(store, bus, lambda: None)
    try:
        sentiment.follow({"late": earlier.case_id})  # no interaction of "late" yet
        await until(lambda: bus.subscriber_count(f"case:{earlier.case_id}") == 1, "subscribed")
        late = await store.start_voice_interaction(caller=CALLER, call_id="late")
        await say(store, late.interaction_id, 0.5, "I am very angry, this is awful.")
        await until(lambda: sentiment.view("late") is not None, "the late call's segment")
        view = sentiment.view("late")
        assert view is not None and view["label"] == "negative", view
    finally:
        await sentiment.close()


def test_the_trend_on_the_board_is_the_latest_points() -> None:
    segments = [
        ScoredSegment("caller", float(i), -0.5 if i % 2 else 0.5, ())
        for i in range(TREND_POINTS + 5)
    ]
    view = board_view(segments)
    assert view is not None
    assert view["count"] == TREND_POINTS + 5 and len(view["trend"]) == TREND_POINTS
    assert view["trend"][-1]["start"] == TREND_POINTS + 4
    assert board_view([ScoredSegment("caller", 0.0, None, ())]) is None
