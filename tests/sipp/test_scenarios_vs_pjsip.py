"""Our SIPp scenarios against PJSIP (pjsua2), an independent mature SIP stack.

If a scenario passes here and fails against Centralita, the difference is the server's.
PJSIP answers sendonly with recvonly, sends 487 after CANCEL, hangs up on `duration`,
reports RFC 4733 digits and records what it hears, which also checks this suite's audio
alignment code against a known-good receiver.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.server import free_media_port
from tests.helpers.sipp import SippResult
from tests.sipp.conftest import Sipp, SpeechAudio
from tests.sipp.debug_api import assert_exact_audio_in_order, frame_rms, read_wav_mono

pjsua_client = pytest.importorskip("voice.pjsua.client")
pytestmark = pytest.mark.slow


async def _against_pjsip(
    sipp: Sipp, listener: dict[str, Any], args: list[str], **run: Any
) -> tuple[SippResult, Any]:
    async with pjsua_client.PjsuaListener(0, **listener) as peer:
        result = await sipp.run(
            [*args, "-m", "1", "-timeout", "20s", "-recv_timeout", "8000"],
            target=f"127.0.0.1:{peer.port}", kill_after=40, **run,
        )
        ended = await peer.next_call(timeout=10)
    return result, ended


async def test_cancel(sipp: Sipp) -> None:
    result, ended = await _against_pjsip(
        sipp, {"answer_after": 3.0}, [], scenario_name="uac_cancel"
    )
    result.assert_calls(successful=1)
    assert ended.status == 487


async def test_bye_from_callee(sipp: Sipp) -> None:
    result, ended = await _against_pjsip(
        sipp, {"duration": 1.5}, [], scenario_name="uac_server_bye"
    )
    result.assert_calls(successful=1)
    assert not ended.remote_hangup


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_hold_unhold(sipp: Sipp, transport: str) -> None:
    result, _ = await _against_pjsip(
        sipp, {"transport": transport}, ["-t", "u1" if transport == "udp" else "t1"],
        scenario_name="uac_hold",
    )
    result.assert_calls(successful=1)


async def test_rfc4733_pcap_digits(sipp: Sipp) -> None:
    result, ended = await _against_pjsip(
        sipp, {}, ["-mp", str(free_media_port())], scenario_name="uac_dtmf_rfc4733"
    )
    result.assert_calls(successful=1)
    assert ended.dtmf == "123#"


async def test_rtp_stream_speech_and_alignment(
    sipp: Sipp, speech_audio: SpeechAudio, tmp_path: Path
) -> None:
    heard = tmp_path / "pjsip-heard.wav"
    scenario_file = sipp.render(
        "uac_rtp_stream", AUDIO_FILE=str(speech_audio.ulaw_raw),
        PLAY_MS=str(int(speech_audio.seconds * 1000) + 800),
    )
    result, _ = await _against_pjsip(
        sipp, {"record": str(heard)}, [], scenario_file=scenario_file
    )
    result.assert_calls(successful=1)
    reference, _ = read_wav_mono(speech_audio.reference_wav)
    recorded, rate = read_wav_mono(heard)
    assert rate == 8000
    # PJSIP's adaptive jitter buffer may slip a frame under load: piece by piece.
    assert_exact_audio_in_order(reference, recorded)


async def test_rtp_echo_returns_the_callee_prompt(sipp: Sipp, tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.wav"
    heard = tmp_path / "pjsip-heard.wav"
    t = np.arange(int(1.5 * 8000)) / 8000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    silence = np.zeros(int(2.5 * 8000), dtype="<i2")
    with wave.open(str(prompt), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.concatenate([tone, silence]).tobytes())
    scenario_file = sipp.render("uac_rtp_echo", LISTEN_MS="3500")
    result, _ = await _against_pjsip(
        sipp, {"play": str(prompt), "record": str(heard)},
        ["-rtp_echo", "-mp", str(free_media_port())], scenario_file=scenario_file,
    )
    result.assert_calls(successful=1)
    levels = frame_rms(read_wav_mono(heard)[0])
    assert (levels > 300).sum() >= 50, "the echoed prompt did not come back"
