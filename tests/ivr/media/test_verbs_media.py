"""The media verbs on a fake leg: TTS cache, barge-in, gather rules, speech phrases with a
fake recogniser, DTMF fallback, menu retries, sensitive gathers masked in logs and store."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest

from cases.store import CaseStore
from ivr.media.events import CallInput
from ivr.media.tts import EspeakTts, write_wav
from ivr.services import Services
from ivr.verbs.base import HANGUP
from ivr.verbs.gather import VERB as GATHER
from ivr.verbs.menu import VERB as MENU
from ivr.verbs.play import VERB as PLAY
from ivr.verbs.say import VERB as SAY
from media.player import ToneGenerator
from tests.helpers.databases import database_fixtures
from tests.ivr.media.fakes import (
    FakeAsrStream,
    FakeLeg,
    FakeSession,
    new_call,
    step,
)

pg_database, db_url = database_fixtures("centralita_ivr_media", "cases.db")


@pytest.fixture
def tts(tmp_path: Path) -> EspeakTts:
    return EspeakTts(tmp_path / "tts")


def session_for(leg: FakeLeg, tmp_path: Path, **services: object) -> FakeSession:
    return FakeSession(new_call(leg), Services(**services), tmp_path)  # type: ignore[arg-type]


def press_later(session: FakeSession, digits: str, delay: float = 0.05) -> asyncio.Task[None]:
    async def press() -> None:
        for d in digits:
            await asyncio.sleep(delay)
            session.call.digit(d, 100, "rfc4733")
    return asyncio.create_task(press())


async def test_tts_cache_hit_and_sensitive_never_cached(tts: EspeakTts) -> None:
    first = await tts.synthesize("Welcome to Centralita")
    again = await tts.synthesize("Welcome to Centralita")
    assert again is first and (tts.misses, tts.hits) == (1, 1)
    assert len(first) > 8000 * 0.5 and not first.flags.writeable
    assert len(list(tts.cache_dir.iterdir())) == 1
    await tts.synthesize("Your card ends in 4242", cache=False)
    assert len(list(tts.cache_dir.iterdir())) == 1


async def test_say_renders_and_plays(leg: FakeLeg, tmp_path: Path, tts: EspeakTts) -> None:
    session = session_for(leg, tmp_path, tts=tts)
    session.vars["name"] = "Alice"
    assert await SAY.run(step("say", {"text": "Hello ${name}"}), session) is None
    assert leg.frames_played > 20
    assert tts.cached_path("Hello Alice").exists()


async def test_play_barge_in_stops_prompt_and_digit_reaches_gather(
    leg: FakeLeg, tmp_path: Path
) -> None:
    tone = ToneGenerator((440.0,), 8000, duration_ms=10_000)
    samples = np.concatenate([f.samples for f in iter(tone.next_frame, None)])
    write_wav(tmp_path / "long.wav", samples, 8000)
    session = session_for(leg, tmp_path)
    pressing = press_later(session, "7", delay=0.05)
    await PLAY.run(step("play", {"file": "long.wav", "interrupt": "dtmf"}), session)
    await pressing
    assert leg.frames_played < 200  # of 500: stopped at the key, not played out
    result = await GATHER.run(step("gather", {"variable": "x", "max_digits": 1}), session)
    assert result is None and session.vars["x"] == "7"


@pytest.mark.parametrize(
    ("params", "keys", "expected", "var"),
    [
        ({"terminator": "#"}, "123#", "ok", "123"),
        ({"max_digits": 3}, "4567", "ok", "456"),
        ({"min_digits": 4, "on_invalid": "bad"}, "12#", "bad", None),
        ({"pattern": "^1[0-9]*$", "on_invalid": "bad"}, "21#", "bad", None),
        ({"timeout": 0.1, "on_timeout": "none"}, "", "none", None),
        ({"inter_digit_timeout": 0.1, "on_match": "go"}, "42", "go", "42"),
    ],
)
async def test_gather_dtmf_rules(
    leg: FakeLeg, tmp_path: Path, params: dict[str, object], keys: str, expected: str,
    var: str | None,
) -> None:
    session = session_for(leg, tmp_path)
    pressing = press_later(session, keys, delay=0.01)
    result = await GATHER.run(step("gather", {"variable": "v", **params}), session)
    await pressing
    assert (result or "ok") == expected
    assert session.vars.get("v") == var


PHRASES = {"billing": ["billing", "invoice", "payment"],
           "support": ["support", "help", "technical"]}


@pytest.mark.parametrize(
    ("said", "choice"),
    [("I need help with my billing", "billing"), ("technical support please", "support"),
     ("my invoice is wrong", "billing")],
)
async def test_gather_speech_with_fake_asr(
    leg: FakeLeg, tmp_path: Path, said: str, choice: str
) -> None:
    streams: list[FakeAsrStream] = []

    def factory(rate: int) -> FakeAsrStream:
        streams.append(FakeAsrStream(said, after=10))
        return streams[-1]

    session = session_for(leg, tmp_path, asr=factory)
    params = {"input": "both", "variable": "topic", "phrases": PHRASES}
    assert await GATHER.run(step("gather", params), session) is None
    assert session.vars["topic"] == choice
    assert streams[0].closed
    assert session.inputs[0][0] == "speech" and session.inputs[0][1]["match"] == choice


async def test_gather_dtmf_fallback_when_speech_says_nothing(
    leg: FakeLeg, tmp_path: Path
) -> None:
    session = session_for(leg, tmp_path, asr=lambda rate: FakeAsrStream("x", after=10**9))
    pressing = press_later(session, "2", delay=0.05)
    params = {"input": "both", "variable": "topic", "phrases": PHRASES, "max_digits": 1}
    assert await GATHER.run(step("gather", params), session) is None
    await pressing
    assert session.vars["topic"] == "2"


async def test_menu_retries_then_succeeds(leg: FakeLeg, tmp_path: Path) -> None:
    session = session_for(leg, tmp_path)
    params = {
        "choices": [{"digits": "1", "goto": "billing"}, {"digits": "2", "goto": "support"}],
        "timeout": 0.3, "retries": 2, "variable": "choice",
    }

    async def caller() -> None:
        await asyncio.sleep(0.03)
        session.call.digit("9", 100, "rfc4733")  # invalid
        while len(session.inputs) < 2:  # noqa: ASYNC110 - the second try times out
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # well inside the third try
        session.call.digit("2", 100, "rfc4733")

    acting = asyncio.create_task(caller())
    assert await MENU.run(step("menu", params), session) == "support"
    await acting
    outcomes = [v["outcome"] for _, v, _ in session.inputs]
    assert outcomes == ["invalid", "timeout", "match"]
    assert session.vars["choice"] == "2"


async def test_menu_failure_after_retries(leg: FakeLeg, tmp_path: Path) -> None:
    session = session_for(leg, tmp_path)
    params = {"choices": [{"digits": "1", "goto": "a"}], "timeout": 0.05, "retries": 1,
              "on_failure": "operator"}
    assert await MENU.run(step("menu", params), session) == "operator"
    assert len(session.inputs) == 2


async def test_hangup_during_gather(leg: FakeLeg, tmp_path: Path) -> None:
    session = session_for(leg, tmp_path)
    asyncio.get_running_loop().call_later(0.05, session.call.hangup)
    assert await GATHER.run(step("gather", {"timeout": 5}), session) == HANGUP


async def test_sensitive_gather_masked_in_logs_and_store(
    leg: FakeLeg, tmp_path: Path, caplog: pytest.LogCaptureFixture, db_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    store = await CaseStore.open(db_url)
    try:
        ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
        session = FakeSession(new_call(leg), Services(store=store), tmp_path, ref.interaction_id)
        card = "4111111111111111"
        pressing = press_later(session, card + "#", delay=0.005)
        params = {"variable": "card", "min_digits": 12, "max_digits": 19}
        assert await GATHER.run(step("gather", params, sensitive=True), session) is None
        await pressing
        assert session.vars["card"] == card  # the flow still has it, in memory
        timeline = await store.timeline(ref.case_id)
        events = timeline["interactions"][0]["ivr_events"]
        assert events[0]["value"]["digits"] == "****" and events[0]["sensitive"]
        assert card not in str(timeline)
        assert card[:4] not in caplog.text and card[-4:] not in caplog.text
        await CallInput.of(session.call).close()
    finally:
        await store.close()
