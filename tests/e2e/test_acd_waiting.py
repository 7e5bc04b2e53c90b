"""Waiting in an ACD queue with real SIP peers: what a pjsua2 caller hears while nobody takes
the call (announcements every `announce_every` seconds, in silence or over the music), where
the call goes after the maximum wait (another queue, or the flow's `on_timeout` label), an
agent who lets an offer ring out, and the wrap-up time between two calls of one agent.

Times on the caller's side come from the caller's recording, which starts when the call is
answered; times on the agents' side from the pjsua2 listener's `call_ended` lines (the moment
the line arrives minus the call's duration is when the agent answered) and from the server's
live board. A second caller is placed once the server has seen the first (a pjsua2 worker can
take seconds to start on a loaded machine). Upper bounds that a slow machine stretches (a
sentence synthesized for the first time, a phone slow to be rung) are loose; the lower bounds
are what prove the behaviour."""

from __future__ import annotations

import asyncio
import contextlib
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import (
    agent,
    agent_status,
    queue,
    set_state,
    start_acd,
    until_agent,
    until_waiting,
    user_of,
    wait_for,
)
from tests.e2e.api import get_json
from tests.e2e.audio import LOUD, MOH, bursts, music_windows, runs, tone_onset
from tests.helpers.server import ServerProcess
from tests.pjsua.audio import make_tone, read_wav
from voice.pjsua.client import PjsuaListener, place_call
from voice.pjsua.protocol import CallEnded, CallResult

pytestmark = pytest.mark.slow

AGENT_TONE = 1200.0
# Nobody ever rings this: an agent who stays offline still needs a contact.
NOWHERE = "sip:nobody@127.0.0.1:9"


def assert_every_five_seconds(starts: list[float], what: str) -> None:
    """Three announcements: the first on entry (within 1.5 s: the first synthesis of the words
    can take a moment on a loaded machine), then each 5 s (± 0.8) after the one before."""
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    assert len(starts) == 3 and 0.0 <= starts[0] <= 1.5 \
        and all(abs(gap - 5.0) <= 0.8 for gap in gaps), \
        f"{what}: {[round(s, 2) for s in starts]}, want the first by 1.5 s and 5 ± 0.8 s apart"


# -- agents' side ---------------------------------------------------------------------------------
class Timed:
    """A listener's `call_ended` lines with the monotonic time each one arrived."""

    def __init__(self, listener: PjsuaListener) -> None:
        self.listener = listener
        self.ended: list[tuple[float, CallEnded]] = []
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            event = await self.listener.next_call(timeout=600)
            self.ended.append((time.monotonic(), event))

    def answered_at(self, i: int) -> float:
        """When the listener answered its i-th call (monotonic)."""
        at, event = self.ended[i]
        return at - event.duration

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def figures(server: ServerProcess, name: str) -> dict[str, Any]:
    reply: dict[str, Any] = await get_json(server, f"/api/queues/{name}/figures")
    return reply


async def call(server: ServerProcess, user: str, seconds: float, record: Path | None,
               ) -> CallResult:
    result = await place_call(f"sip:100@{server.sip_target}", from_user=user, duration=seconds,
                              record=record)
    assert result.connected, result
    return result


# -- 1. announcements -----------------------------------------------------------------------------
async def test_announcements_every_five_seconds_in_silence(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    """Nobody logged in, no music: each caller hears an announcement on entry and every 5 s
    after it, and silence in between; the second caller is told they are number 2. (No wait
    estimate: with nobody staffed it is a sentence as long as the interval.)"""
    q = queue("q", announce_every=5, moh=None, announce_wait=False)
    server = await start_acd(server_factory, tmp_path, queues=[q],
                             agents=[agent("a", NOWHERE, ["q"])], entry_queue="q")
    first = asyncio.ensure_future(call(server, "c1", 14.0, tmp_path / "c1.wav"))
    await until_waiting(server, "q", 1)
    await call(server, "c2", 14.0, tmp_path / "c2.wav")
    await first
    heard = {c: bursts(read_wav(tmp_path / f"{c}.wav")) for c in ("c1", "c2")}
    for c, found in heard.items():
        assert_every_five_seconds([start for start, _ in found], f"{c}'s announcements start at")
        # Short announcements, then silence: no music in the gaps.
        assert all(end - start < 3.0 for start, end in found), (c, found)
        # The same words each time (give or take where the edges of speech are found).
        lengths = [end - start for start, end in found]
        assert max(lengths) - min(lengths) < 0.5, (c, found)
    one, two = heard["c1"][0], heard["c2"][0]
    # "You are caller number 2 in line." is longer than "You are next in line."
    assert (two[1] - two[0]) - (one[1] - one[0]) > 0.3, heard


async def test_music_between_announcements(server_factory: ServerFactory,
                                           tmp_path: Path) -> None:
    """With `moh: default` the gaps between the announcements are the music on hold."""
    q = queue("q", announce_every=5, moh="default", announce_wait=False)
    server = await start_acd(server_factory, tmp_path, queues=[q],
                             agents=[agent("a", NOWHERE, ["q"])], entry_queue="q")
    await call(server, "c1", 14.0, tmp_path / "c1.wav")
    heard = read_wav(tmp_path / "c1.wav")
    music = music_windows(heard, read_wav(MOH))
    step = 0.1
    loud = [bool(np.sqrt(np.mean(heard[i:i + 800]**2)) > LOUD)
            for i in range(0, len(heard) - 799, 800)]
    # Speech: loud and not the music, for more than a window or two (a window of music can
    # fail to match where it is quiet).
    speech = [(s, e) for s, e in runs([lo and not m for lo, m in zip(loud, music, strict=True)],
                                      step, bridge=0.5) if e - s > 0.5]
    assert_every_five_seconds([s for s, _ in speech], "announcements start at")
    # Music from the end of each announcement to the next one (and to the end of the call).
    ends = [e for _, e in speech]
    for start, stop in zip(ends, [s for s, _ in speech][1:] + [len(music) * step],
                           strict=True):
        span = music[round(start / step) + 3: round(stop / step) - 2]
        assert span and sum(span) / len(span) > 0.8, (start, stop, speech)


# -- 2. overflow ----------------------------------------------------------------------------------
async def test_overflow_to_another_queue_after_the_maximum_wait(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    """q1 has nobody; after its 3 s maximum wait the caller goes to q2, whose agent b answers."""
    tone = make_tone(tmp_path / "b.wav", AGENT_TONE, 6.0)
    async with PjsuaListener(play=tone, duration=3.0) as b_phone:
        b = Timed(b_phone)
        q1 = queue("q1", max_wait=3, overflow={"kind": "queue", "target": "q2"})
        q2 = queue("q2")
        server = await start_acd(
            server_factory, tmp_path, queues=[q1, q2], entry_queue="q1",
            agents=[agent("a", NOWHERE, ["q1"]), agent("b", b_phone.uri, ["q2"])])
        await set_state(server, "b", "available")
        result = await call(server, "c1", 10.0, tmp_path / "c1.wav")
        await wait_for(lambda: asyncio.sleep(0, b.ended), within=5, what="b's call ended")
        await b.stop()
    assert len(b.ended) == 1 and user_of(b.ended[0][1].from_) == "c1", b.ended
    # b hung up after 3 s of talk; the caller heard b's tone from 3 s on.
    assert result.remote_hangup, result
    # (The recording starts when the caller's media is up, a hair after the server started
    # the clock: 0.1 s of slack; the server's own figure below is exact. Up to 6 s: a loaded
    # machine may be slow to ring b.)
    onset = tone_onset(read_wav(tmp_path / "c1.wav"), AGENT_TONE)
    assert 2.9 <= onset <= 6.0, onset
    one, two = await figures(server, "q1"), await figures(server, "q2")
    assert (one["offered"], one["overflowed"], one["answered"]) == (1, 1, 0), one
    assert (two["offered"], two["answered"]) == (1, 1), two
    # q2 counts the wait from the caller's entry into q2 (b answers at once), not the 3 s
    # spent in q1 before.
    assert two["asa"] < 2.0, two


async def test_overflow_to_voicemail_goes_on_in_the_flow(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    """`overflow: voicemail` leaves the queue after 3 s for the flow's `on_timeout` label,
    which the caller hears ("Sorry, nobody could take your call.") before the flow hangs up."""
    q1 = queue("q1", max_wait=3, overflow={"kind": "voicemail"})
    server = await start_acd(server_factory, tmp_path, queues=[q1], entry_queue="q1",
                             agents=[agent("a", NOWHERE, ["q1"])])
    result = await call(server, "c1", 15.0, tmp_path / "c1.wav")
    assert result.remote_hangup and result.duration < 10.0, result
    found = bursts(read_wav(tmp_path / "c1.wav"))
    # From 3 s; up to 6 s: the sentence may be synthesized for the first time then.
    assert len(found) == 1 and 3.0 <= found[0][0] <= 6.0, found
    one = await figures(server, "q1")
    assert (one["offered"], one["overflowed"], one["answered"]) == (1, 1, 0), one


# -- 3. an offer nobody answers -------------------------------------------------------------------
async def test_agent_who_does_not_answer_is_skipped_and_set_not_ready(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    """a1 (idle longest) lets the offer ring for the queue's 3 s: the caller goes to a2, and
    a1 is put on a break with the reason `missed-offer`."""
    tone = make_tone(tmp_path / "a2.wav", AGENT_TONE, 6.0)
    async with contextlib.AsyncExitStack() as stack:
        a1_phone = await stack.enter_async_context(PjsuaListener(answer_after=30.0))
        a2_phone = await stack.enter_async_context(PjsuaListener(play=tone, duration=3.0))
        q = queue("q", offer_timeout=3)
        server = await start_acd(
            server_factory, tmp_path, queues=[q], entry_queue="q",
            agents=[agent("a1", a1_phone.uri, ["q"]), agent("a2", a2_phone.uri, ["q"])])
        await set_state(server, "a1", "available")
        await asyncio.sleep(0.3)
        await set_state(server, "a2", "available")
        result = await call(server, "c1", 12.0, tmp_path / "c1.wav")
        a1_status = await agent_status(server, "a1")
        a1_calls = [await a1_phone.next_call(timeout=5)]
        a2_calls = [await a2_phone.next_call(timeout=5)]
    assert (a1_status["state"], a1_status["reason"]) == ("break", "missed-offer"), a1_status
    assert user_of(a2_calls[0].from_) == "c1" and a2_calls[0].duration > 2.5, a2_calls
    # a1's phone rang and was never answered: CANCELled.
    assert len(a1_calls) == 1 and a1_calls[0].duration == 0.0, a1_calls
    assert a1_calls[0].status == 487 and user_of(a1_calls[0].from_) == "c1", a1_calls
    assert result.remote_hangup, result
    # a2 came on after a1's 3 s of ringing (0.1 s of slack for when the recording starts; up
    # to 6 s, a loaded machine may be slow to ring a2).
    onset = tone_onset(read_wav(tmp_path / "c1.wav"), AGENT_TONE)
    assert 2.9 <= onset <= 6.0, onset


# -- 4. wrap-up -----------------------------------------------------------------------------------
async def test_wrap_up_time_before_the_next_offer(server_factory: ServerFactory,
                                                  tmp_path: Path) -> None:
    """One agent, 4 s of wrap-up: a second caller, placed once the agent talks to the first,
    reaches the agent 4 s after the first call ended, and meanwhile the agent is in wrap-up."""
    async with PjsuaListener(duration=2.0) as phone:
        a = Timed(phone)
        q = queue("q", wrapup=4)
        server = await start_acd(server_factory, tmp_path, queues=[q], entry_queue="q",
                                 agents=[agent("a", phone.uri, ["q"])])
        await set_state(server, "a", "available")
        # The agent's states in turn, each with when it began on the server, in our clock: a
        # reply's arrival minus the reply's `since`. A late reply only makes that later, so a
        # stint keeps the earliest (to the 0.1 s that `since` is rounded to).
        stints: list[tuple[str, float]] = []

        async def watch() -> None:
            while True:
                status = await agent_status(server, "a")
                began = time.monotonic() - status["since"]
                if not stints or stints[-1][0] != status["state"]:
                    stints.append((status["state"], began))
                elif began < stints[-1][1]:
                    stints[-1] = (status["state"], began)
                await asyncio.sleep(0.1)

        watcher = asyncio.ensure_future(watch())
        first = asyncio.ensure_future(call(server, "c1", 15.0, None))
        await until_agent(server, "a", "on_call")
        second = await call(server, "c2", 15.0, None)
        await first
        await wait_for(lambda: asyncio.sleep(0, len(a.ended) == 2), within=5,
                       what="the agent's two calls ended")
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await a.stop()
    assert [user_of(e.from_) for _, e in a.ended] == ["c1", "c2"], a.ended
    assert second.remote_hangup, second
    # available → reserved → on call → wrap-up → (available) → reserved → on call → wrap-up
    seen = [s for s, _ in stints if s in ("on_call", "wrap_up")]
    assert seen[:4] == ["on_call", "wrap_up", "on_call", "wrap_up"], stints
    # The wrap-up on the server's clock, from the first call's end to the agent's next state
    # (available, or already reserved for c2): the 4 s configured, not the default 0.5 s.
    wrapup = next(i for i, (state, _) in enumerate(stints) if state == "wrap_up")
    held = stints[wrapup + 1][1] - stints[wrapup][1]
    assert 3.8 <= held <= 6.0, stints
    # And on the agent's phone, from the first call ending to answering the second. These are
    # the moments this process read the listener's lines, which a busy machine delays by an
    # unknown amount: only far from the default 0.5 s.
    gap = a.answered_at(1) - a.ended[0][0]
    assert 3.0 <= gap <= 6.5, gap
