"""Privacy mode, a call-level state: the Call's one setter (validates, logs, emits, tells its
listeners), transcription of both parties dropping what it buffered, the IVR's sensitive step
pausing and resuming it, and the gap noted on the case (a real CaseStore on SQLite)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cases.store import CaseStore
from centralita.call_cases import PRIVACY_AUTHOR, CallInteractions, CaseCalls, PrivacyGap
from ivr.interpreter import Interpreter
from ivr.services import Services
from media.clock import FakeClock
from tests.helpers.databases import database_fixtures
from tests.ivr.fakes_flow import make_call
from tests.ivr.test_interpreter import flow
from tests.transcription.fakes import LOUD, QUIET, FakeEngine, FakeLeg, Interaction, MemoryStore
from tests.transcription.test_transcriber import Feeder, settle
from tests.voice.test_call import FakeLeg as CallFakeLeg
from tests.voice.test_transfer import call_with_leg
from voice.bridging import CallBridge
from voice.call import (
    Call,
    CallState,
    CallStateError,
    Direction,
    Privacy,
    PrivacyChange,
    PrivacyError,
)
from voice.transcription import CallTranscriber

pg_database, db_url = database_fixtures("centralita_privacy", "cases.db")


def active_call(call_id: str = "c-1") -> Call:
    call = Call(call_id, Direction.INBOUND, CallFakeLeg(), caller="+15550100")
    call._set_state(CallState.ACTIVE)
    return call


# -- the Call's state ---------------------------------------------------------------------------
async def test_privacy_moves_are_validated_logged_emitted_and_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = active_call()
    seen: list[PrivacyChange] = []
    call.on_privacy(seen.append)
    with caplog.at_level(logging.INFO, logger="voice.call"):
        call.pause_privacy("agent:ana")
    assert call.privacy is Privacy.PAUSED and call.privacy_by == "agent:ana"
    assert "privacy open -> paused (by agent:ana)" in caplog.text
    with pytest.raises(PrivacyError, match="already paused by agent:ana"):
        call.pause_privacy("ivr:card")
    call.resume_privacy("agent:ana")
    with pytest.raises(PrivacyError, match="already open"):
        call.resume_privacy("agent:ana")
    assert [(c.old, c.new, c.by) for c in seen] == [
        (Privacy.OPEN, Privacy.PAUSED, "agent:ana"), (Privacy.PAUSED, Privacy.OPEN, "agent:ana"),
    ]
    events = [await call.next_event() for _ in range(3)]
    assert [e.data for e in events if e.kind == "privacy"] == [
        {"old": "open", "new": "paused", "by": "agent:ana"},
        {"old": "paused", "new": "open", "by": "agent:ana"},
    ]


async def test_an_ended_call_cannot_pause_but_may_close_its_pause() -> None:
    call = active_call()
    call.pause_privacy("api:ops")
    call.ended("remote-bye")
    call.resume_privacy("hangup")  # the span ends with the call
    with pytest.raises(CallStateError, match="ENDED"):
        call.pause_privacy("api:ops")


async def test_a_failing_privacy_listener_does_not_keep_the_others_from_hearing() -> None:
    call = active_call()
    heard: list[Privacy] = []

    def broken(change: PrivacyChange) -> None:
        raise RuntimeError("bug")

    call.on_privacy(broken)
    unsubscribe = call.on_privacy(lambda c: heard.append(c.new))
    call.pause_privacy("ivr:card")
    unsubscribe()
    call.resume_privacy("ivr:card")
    assert heard == [Privacy.PAUSED]


# -- transcription ------------------------------------------------------------------------------
async def test_a_pause_drops_buffered_audio_of_both_parties_and_transcribes_nothing_in_it() -> None:
    clock = FakeClock(100.0)
    store = MemoryStore()
    store.interactions[7] = Interaction("+15550100", "c-1", "inbound", None)
    engine, caller, agent = FakeEngine(), FakeLeg(), FakeLeg()
    tx = CallTranscriber("c-1", 7, store, engine.stream, clock, clock.now())
    call = active_call()
    tx.follow(call)
    tx.attach(caller, "caller")  # type: ignore[arg-type]
    tx.attach(agent, "agent")  # type: ignore[arg-type]
    feed_caller, feed_agent = Feeder(clock, caller), Feeder(clock, agent)
    # The caller starts the card number: speech buffered in the stream, no final yet.
    await feed_caller.play(LOUD, 10)
    await settle()
    call.pause_privacy("ivr:card")
    paused_at = clock.now() - 100.0
    await feed_caller.play(LOUD, 40)  # the rest of it, and the agent reading it back
    await feed_agent.play(LOUD, 20)
    await feed_caller.play(QUIET, 5)
    await settle()
    call.resume_privacy("ivr:card")
    resumed_at = clock.now() - 100.0
    await feed_caller.play(QUIET, 5)
    await feed_caller.play(LOUD, 10)  # after the pause: "thank you"
    await feed_caller.play(QUIET, 3)
    await feed_agent.play(LOUD, 10)
    await feed_agent.play(QUIET, 3)
    await tx.close()
    segments = store.interactions[7].segments
    # Only what was said after the pause: the half-said number was dropped, never ended.
    assert sorted((s.speaker, s.text) for s in segments) == [("agent", "u1"), ("caller", "u1")]
    assert all(s.start >= resumed_at for s in segments), (paused_at, resumed_at, segments)
    first_caller, first_agent = engine.streams[0], engine.streams[1]
    assert first_caller.closed and not first_caller.ended and first_caller.frames == 10
    assert first_agent.closed and not first_agent.ended and first_agent.frames == 0
    assert tx.withheld_frames == 40 + 20 + 5 and tx.pauses == 1
    assert len(engine.streams) == 4  # one fresh stream per party after the pause


async def test_speech_after_a_short_pause_is_never_timed_inside_it() -> None:
    # Shorter than the timeline's jitter tolerance (0.5 s): without a fresh anchor the audio
    # after the pause would be timed as if it followed the audio before it, inside the gap.
    clock = FakeClock(100.0)
    store = MemoryStore()
    store.interactions[7] = Interaction("+15550100", "c-1", "inbound", None)
    engine, caller = FakeEngine(), FakeLeg()
    tx = CallTranscriber("c-1", 7, store, engine.stream, clock, clock.now())
    call = active_call()
    tx.follow(call)
    tx.attach(caller, "caller")  # type: ignore[arg-type]
    feed = Feeder(clock, caller)
    await feed.play(QUIET, 10)
    call.pause_privacy("api:ops")
    await feed.play(LOUD, 10)  # 0.2 s
    call.resume_privacy("api:ops")
    resumed_at = clock.now() - 100.0
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 3)
    await tx.close()
    (segment,) = store.interactions[7].segments
    assert segment.start >= resumed_at - 0.001, (segment.start, resumed_at)


async def test_a_party_attached_while_paused_is_not_heard_until_the_pause_ends() -> None:
    clock = FakeClock(100.0)
    store = MemoryStore()
    store.interactions[7] = Interaction("+15550100", "c-1", "inbound", None)
    engine, agent = FakeEngine(), FakeLeg()
    tx = CallTranscriber("c-1", 7, store, engine.stream, clock, clock.now())
    call = active_call()
    call.pause_privacy("agent:ana")
    tx.follow(call)
    tx.attach(agent, "agent")  # type: ignore[arg-type]
    await Feeder(clock, agent).play(LOUD, 10)
    await Feeder(clock, agent).play(QUIET, 3)
    await tx.close()
    assert store.interactions[7].segments == [] and tx.withheld_frames == 13


# -- the IVR's sensitive step -------------------------------------------------------------------
SENSITIVE = """
    name: pci
    numbers: ["100"]
    steps:
      - set: {a: "1"}
      - label: card
        set: {card: "4111111111111111"}
        sensitive: true
      - set: {b: "2"}
"""


async def test_a_sensitive_step_pauses_privacy_for_its_span_only() -> None:
    call = make_call()
    seen: list[tuple[str, str]] = []
    call.on_privacy(lambda c: seen.append((c.new.value, c.by)))
    await Interpreter(None, Services(), clock=FakeClock()).run(call, flow(SENSITIVE))
    assert seen == [("paused", "ivr:card"), ("open", "ivr:card")]
    assert call.privacy is Privacy.OPEN


async def test_a_pause_held_by_someone_else_outlives_the_sensitive_step() -> None:
    call = make_call()
    call.pause_privacy("agent:ana")
    await Interpreter(None, Services(), clock=FakeClock()).run(call, flow(SENSITIVE))
    assert call.privacy is Privacy.PAUSED and call.privacy_by == "agent:ana"


# -- the gap on the case ------------------------------------------------------------------------
async def test_the_case_notes_each_gap_with_its_times_and_who_never_content(
    db_url: str,
) -> None:
    store = await CaseStore.open(db_url)
    clock = FakeClock(50.0)
    interactions = CallInteractions(store, clock)
    call = Call("gap-1", Direction.INBOUND, CallFakeLeg(), caller="+15550177", dialed="100")

    async def handler(c: Call) -> None:
        await c.answer()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        clock.advance(3.0)
        c.pause_privacy("ivr:card")
        clock.advance(4.5)
        c.resume_privacy("ivr:card")
        clock.advance(1.0)
        c.pause_privacy("agent:ana")
        clock.advance(2.0)
        c.hangup("remote-bye")  # still paused: the gap ends with the call

    try:
        await CaseCalls(handler, interactions)(call)
        case_id = await store.find_case_by_call("gap-1")
        assert case_id is not None
        timeline = await store.timeline(case_id)
    finally:
        await store.close()
    notes = [n for n in timeline["notes"] if n["author"] == PRIVACY_AUTHOR]
    gaps = sorted((PrivacyGap.parse(n["text"]) for n in notes), key=lambda g: g.start if g else 0)
    assert gaps == [
        PrivacyGap("gap-1", 3.0, 7.5, "ivr:card", "ivr:card"),
        PrivacyGap("gap-1", 8.5, 10.5, "agent:ana", "hangup"),
    ]
    assert "+15550177" not in repr(notes)


# -- across a bridge ----------------------------------------------------------------------------
async def test_privacy_crosses_the_bridge_both_ways_and_ends_with_its_source() -> None:
    caller, _ = call_with_leg("caller-1")
    agent, _ = call_with_leg("agent-1")
    bridge = CallBridge(FakeClock(), caller, agent).start()
    caller.pause_privacy("ivr:card")
    assert agent.privacy is Privacy.PAUSED and agent.privacy_by == "bridge:caller-1"
    caller.resume_privacy("ivr:card")
    assert agent.privacy is Privacy.OPEN
    # The agent's own pause reaches the caller; a pause the agent already held is theirs.
    agent.pause_privacy("agent:ana")
    assert caller.privacy_by == "bridge:agent-1"
    agent.resume_privacy("agent:ana")
    assert caller.privacy is Privacy.OPEN
    agent.pause_privacy("agent:ana")
    caller.resume_privacy("bridge:agent-1")  # the caller's side may be opened on its own
    caller.pause_privacy("api:ops")
    caller.resume_privacy("api:ops")
    assert agent.privacy_by == "agent:ana"  # not resumed by the caller's pause ending
    agent.resume_privacy("agent:ana")
    # A pause in force when the bridge starts is mirrored; stopping the bridge ends the mirror.
    bridge.stop()
    caller.pause_privacy("api:ops")
    assert agent.privacy is Privacy.OPEN  # no bridge, no mirror
    bridge = CallBridge(FakeClock(), caller, agent).start()
    assert agent.privacy_by == "bridge:caller-1"
    bridge.stop()
    assert agent.privacy is Privacy.OPEN and caller.privacy_by == "api:ops"
