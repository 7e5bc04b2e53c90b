"""voicemail: beep, record until silence or '#', WAV saved, transcript on the interaction."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np

from cases.store import CaseStore
from ivr.media.recorder import VoicemailBox
from ivr.media.tts import EspeakTts
from ivr.services import Services
from ivr.verbs.voicemail import VERB as VOICEMAIL
from tests.ivr.media.fakes import (
    FakeAsrStream,
    FakeLeg,
    FakeSession,
    feed_audio,
    new_call,
    step,
)


async def test_voicemail_recorded_and_transcribed_onto_case(leg: FakeLeg, tmp_path: Path) -> None:
    speech = await EspeakTts(tmp_path / "tts").synthesize("please call me back about my bill")
    store = await CaseStore.open(f"sqlite:///{tmp_path}/cases.db")
    try:
        ref = await store.start_voice_interaction(caller="+15550100199", call_id="call-1")
        services = Services(store=store, recorder=VoicemailBox(tmp_path / "recordings"),
                            asr=lambda rate: FakeAsrStream("please call me back", after=10**9))
        session = FakeSession(new_call(leg), services, tmp_path, ref.interaction_id)
        # Caller audio starts after the beep's 20 frames: silence, speech, then silence.
        feed_audio(leg, np.zeros(8000, np.int16))
        feed_audio(leg, np.asarray(speech))
        feed_audio(leg, np.zeros(8000 * 3, np.int16))
        params = {"silence_seconds": 1.0, "max_seconds": 30}
        assert await VOICEMAIL.run(step("voicemail", params), session) is None
        kind, value, _ = session.inputs[0]
        assert kind == "voicemail"
        path = Path(value["path"])
        assert path.parent == tmp_path / "recordings"
        assert await asyncio.to_thread(path.exists)
        with wave.open(str(path)) as w:
            assert w.getframerate() == 8000
            assert abs(w.getnframes() / 8000 - value["seconds"]) < 0.05
        assert len(speech) / 8000 < value["seconds"] < len(speech) / 8000 + 3.5
        timeline = await store.timeline(ref.case_id)
        segments = timeline["interactions"][0]["segments"]
        assert [(s["speaker"], s["text"], s["engine"]) for s in segments] == [
            ("caller", "please call me back", "fake")
        ]
        assert timeline["interactions"][0]["ivr_events"][0]["kind"] == "voicemail"
    finally:
        await store.close()


async def test_voicemail_stops_on_hash(leg: FakeLeg, tmp_path: Path) -> None:
    session = FakeSession(new_call(leg), Services(recorder=VoicemailBox(tmp_path)), tmp_path)
    asyncio.get_running_loop().call_later(0.2, session.call.digit, "#", 100, "rfc4733")
    assert await VOICEMAIL.run(step("voicemail", {"max_seconds": 60}), session) is None
    assert session.inputs[0][1]["seconds"] < 10
