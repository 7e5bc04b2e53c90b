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
from ivr.verbs.voicemail import LIVE_TRANSCRIPTS
from ivr.verbs.voicemail import VERB as VOICEMAIL
from media.clock import LoopClock
from tests.helpers.databases import database_fixtures
from tests.ivr.media.fakes import (
    FakeAsrStream,
    FakeLeg,
    FakeSession,
    feed_audio,
    new_call,
    step,
)
from voice.transcription_service import TranscriptionService

pg_database, db_url = database_fixtures("centralita_voicemail", "cases.db")


async def test_voicemail_recorded_and_transcribed_onto_case(
    leg: FakeLeg, tmp_path: Path, db_url: str
) -> None:
    speech = await EspeakTts(tmp_path / "tts").synthesize("please call me back about my bill")
    store = await CaseStore.open(db_url)
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


class CountingAsrStream(FakeAsrStream):
    """The fake stream with the load-shedding counter a live transcriber reads."""

    dropped_frames = 0


class LiveTranscripts:
    """What the server announces (centralita.speech.SpeechStack.covers)."""

    def __init__(self, service: TranscriptionService) -> None:
        self.service = service

    def covers(self, call_id: str) -> bool:
        return self.service.get(call_id) is not None


async def test_voicemail_on_a_live_transcribed_call_is_transcribed_once(
    leg: FakeLeg, tmp_path: Path, db_url: str
) -> None:
    speech = await EspeakTts(tmp_path / "tts").synthesize("please call me back about my bill")
    store = await CaseStore.open(db_url)
    streams: list[CountingAsrStream] = []

    def asr(rate: int) -> CountingAsrStream:
        streams.append(CountingAsrStream("please call me back", after=10**9))
        return streams[-1]

    service = TranscriptionService(store, asr, LoopClock())
    try:
        call = new_call(leg)
        # The server's TranscribedCalls: the caller's leg transcribed live from the answer.
        tx = await service.start_call(call.id, "+15550100199", leg)  # type: ignore[arg-type]
        services = Services(store=store, recorder=VoicemailBox(tmp_path / "recordings"),
                            asr=asr, extra={LIVE_TRANSCRIPTS: LiveTranscripts(service)})
        session = FakeSession(call, services, tmp_path, tx.interaction_id)
        feed_audio(leg, np.zeros(8000, np.int16))
        feed_audio(leg, np.asarray(speech))
        feed_audio(leg, np.zeros(8000 * 3, np.int16))
        params = {"silence_seconds": 1.0, "max_seconds": 30}
        assert await VOICEMAIL.run(step("voicemail", params), session) is None
        await service.end_call(tx)
        case_id = await store.find_case_by_call(call.id)
        assert case_id is not None
        timeline = await store.timeline(case_id)
        segments = timeline["interactions"][0]["segments"]
        # Once: before, the verb stored the recording's transcript beside the live one.
        assert [(s["speaker"], s["text"]) for s in segments] == [("caller", "please call me back")]
        assert len(streams) == 1  # the live transcriber's; the verb made none
        assert session.inputs[0][1]["transcript"] == "live"
    finally:
        await store.close()
