"""pjsua2 caller -> pjsua2 listener over 127.0.0.1: two real worker processes.

These check the worker itself against a second, identical but independent
PJSIP instance, so Centralita's own tests can trust it as a peer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.pjsua.audio import (
    dominant_frequency,
    loud_part,
    make_speech,
    make_tone,
    read_wav,
    rms,
)
from tests.sipp.debug_api import assert_exact_audio_in_order
from voice.pjsua.client import PjsuaListener, PjsuaTimeoutError, place_call

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30)]


async def test_tone_and_dtmf_reach_listener(tmp_path: Path) -> None:
    tone = make_tone(tmp_path / "tone.wav", 1000, 1.5)
    heard = tmp_path / "heard.wav"
    async with PjsuaListener(record=heard) as listener:
        # DTMF after the tone: RFC 4733 events replace the audio while they last.
        result = await place_call(
            listener.uri, play=tone, dtmf="159#", dtmf_delay=1.8, duration=3.0
        )
        ended = await listener.next_call(timeout=10)

    assert result.connected, result
    assert (result.status, result.error, result.dtmf_sent) == (200, None, "159#")
    assert not result.remote_hangup
    assert 2.8 <= result.duration <= 4.0

    assert ended.dtmf == "159#"
    assert ended.remote_hangup
    assert ended.recorded == str(heard)
    assert "sip:caller@127.0.0.1" in ended.from_

    recorded = read_wav(heard)
    tone_part = loud_part(recorded)
    assert len(tone_part) >= 1.2 * 8000, "less than 1.2 s of the 1.5 s tone arrived"
    assert abs(dominant_frequency(tone_part) - 1000) < 10
    # vol 0.5 sine: RMS 11585 before G.711; allow for companding and gain.
    assert rms(tone_part) > 8000


async def test_speech_survives_the_call(tmp_path: Path) -> None:
    speech = make_speech(tmp_path / "speech.wav", "Thank you for calling. Please hold.")
    reference = read_wav(speech)
    heard = tmp_path / "heard.wav"
    async with PjsuaListener(record=heard) as listener:
        result = await place_call(listener.uri, play=speech, duration=len(reference) / 8000 + 1.0)
        await listener.next_call(timeout=10)
    assert result.connected, result
    # G.711 keeps the waveform: a wrong codec, resampler or lost packets would not. Piece
    # by piece: PJSIP's adaptive jitter buffer may slip a 20 ms frame under load.
    lags = assert_exact_audio_in_order(reference, read_wav(heard), exact=0.9)
    assert max(lags) < 0.5 * 8000, f"the speech arrived late: lags {lags}"


async def test_prompt_at_answer_is_recorded_by_caller(tmp_path: Path) -> None:
    prompt = make_tone(tmp_path / "prompt.wav", 440, 1.0)
    heard = tmp_path / "caller-heard.wav"
    async with PjsuaListener(play=prompt) as listener:
        result = await place_call(listener.uri, record=heard, duration=2.0)
        ended = await listener.next_call(timeout=10)
    assert result.connected, result
    assert ended.recorded is None
    recorded = read_wav(heard)
    # The prompt starts at answer: its onset must be in the first 300 ms.
    first = recorded[: int(0.3 * 8000)]
    assert rms(first) > 3000, "the start of the prompt was not recorded"
    tone_part = loud_part(recorded)
    assert len(tone_part) >= 0.8 * 8000
    assert abs(dominant_frequency(tone_part) - 440) < 10


async def test_remote_hangup_is_reported(tmp_path: Path) -> None:
    async with PjsuaListener(duration=1.0) as listener:
        result = await place_call(listener.uri, duration=10.0)
        ended = await listener.next_call(timeout=10)
    assert result.connected and result.remote_hangup, result
    assert 0.8 <= result.duration <= 2.5
    assert not ended.remote_hangup


async def test_rejected_call(tmp_path: Path) -> None:
    async with PjsuaListener(reject=486) as listener:
        result = await place_call(listener.uri, duration=2.0)
        ended = await listener.next_call(timeout=10)
    assert not result.connected
    assert (result.status, result.reason) == (486, "Busy Here")
    assert (ended.status, ended.recorded, ended.duration) == (486, None, 0.0)


async def test_unanswered_call_is_cancelled(tmp_path: Path) -> None:
    async with PjsuaListener(answer_after=10.0) as listener:
        result = await place_call(listener.uri, answer_timeout=1.0, duration=2.0)
        ended = await listener.next_call(timeout=10)
    assert not result.connected
    assert result.status == 487
    assert result.error is not None and "no answer" in result.error
    assert ended.remote_hangup and ended.duration == 0.0


async def test_tcp_transport(tmp_path: Path) -> None:
    tone = make_tone(tmp_path / "tone.wav", 1000, 1.0)
    heard = tmp_path / "heard.wav"
    async with PjsuaListener(record=heard, transport="tcp") as listener:
        result = await place_call(listener.uri, play=tone, transport="tcp", duration=1.5)
        await listener.next_call(timeout=10)
    assert result.connected, result
    assert abs(dominant_frequency(loud_part(read_wav(heard))) - 1000) < 10


async def test_listener_exit_hangs_up_and_reports(tmp_path: Path) -> None:
    heard = tmp_path / "call{n}.wav"
    async with PjsuaListener(record=heard) as listener:
        call = asyncio.create_task(place_call(listener.uri, duration=15.0))
        try:
            await asyncio.sleep(2.0)
            assert not call.done()
        except BaseException:
            call.cancel()
            raise
    # Leaving the context sent SIGTERM: the listener hung up, reported, and exited.
    result = await asyncio.wait_for(call, 10)
    assert result.connected and result.remote_hangup, result
    assert [e.recorded for e in listener.events] == [str(tmp_path / "call1.wav")]
    assert read_wav(tmp_path / "call1.wav").size > 0


async def test_listener_exits_cleanly_after_max_calls(tmp_path: Path) -> None:
    async with PjsuaListener(max_calls=1, record=tmp_path / "heard.wav") as listener:
        result = await place_call(listener.uri, duration=1.0)
        await listener.next_call(timeout=10)
        # The worker exits on its own; its teardown must not crash PJSIP.
        await asyncio.sleep(0.5)
    assert result.connected, result
    assert listener.returncode == 0


async def test_place_call_timeout_kills_worker(tmp_path: Path) -> None:
    async with PjsuaListener(answer_after=20.0) as listener:
        with pytest.raises(PjsuaTimeoutError, match="still running"):
            await place_call(listener.uri, answer_timeout=20.0, timeout=1.5)
        ended = await listener.next_call(timeout=10)
    assert ended.remote_hangup  # the SIGTERMed caller cancelled its INVITE


async def test_concurrent_calls_record_separately(tmp_path: Path) -> None:
    low = make_tone(tmp_path / "low.wav", 600, 1.0)
    high = make_tone(tmp_path / "high.wav", 1400, 1.0)
    async with PjsuaListener(record=tmp_path / "call{n}.wav") as listener:
        results = await asyncio.gather(
            place_call(listener.uri, play=low, duration=2.0, from_user="low"),
            place_call(listener.uri, play=high, duration=2.0, from_user="high"),
        )
        ended = [await listener.next_call(timeout=10) for _ in results]
    assert all(r.connected for r in results), results
    heard = {}
    for event in ended:
        assert event.recorded is not None
        heard[event.from_] = dominant_frequency(loud_part(read_wav(Path(event.recorded))))
    assert abs(heard["<sip:low@127.0.0.1>"] - 600) < 10, heard
    assert abs(heard["<sip:high@127.0.0.1>"] - 1400) < 10, heard
