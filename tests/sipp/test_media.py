"""Media through SIPp: caller speech by rtp_stream, the prompt echoed back, RFC 4733 digits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.server import ServerProcess, free_media_port
from tests.sipp.conftest import Sipp, SpeechAudio
from tests.sipp.debug_api import (
    assert_exact_audio_in_order,
    frame_rms,
    read_wav_mono,
    wait_for_call,
)


@pytest.mark.slow
async def test_caller_speech_decoded_by_server(
    server: ServerProcess, sipp: Sipp, speech_audio: SpeechAudio
) -> None:
    """SIPp plays espeak-ng speech as PCMU; the server's decoded audio must be that speech.

    SIPp's rtp_stream sends a file's bytes verbatim (a WAV header would go out as audio), so
    it is given the raw mu-law payload of the 8 kHz mu-law WAV; the reference is that WAV
    decoded back to linear by sox. G.711 decoding is exact, so through a correct receive path
    (jitter buffer, decoder, no lost or reordered frames) each piece of the speech correlates
    almost perfectly.
    """
    play_ms = int(speech_audio.seconds * 1000) + 800
    scenario_file = sipp.render(
        "uac_rtp_stream", AUDIO_FILE=str(speech_audio.ulaw_raw), PLAY_MS=str(play_ms)
    )
    result = await sipp.run(
        ["-m", "1", "-timeout", "30s", "-recv_timeout", "8000", "-cid_str", "speech-%u-%p@%s"],
        target=server.sip_target, scenario_file=scenario_file, kill_after=45,
    )
    result.assert_calls(successful=1)
    call = await wait_for_call(server, "speech-1-", ended=True)
    assert call.get("decoded_audio_wav"), f"no decoded audio in the debug record: {call}"
    decoded, rate = read_wav_mono(Path(call["decoded_audio_wav"]))
    reference, ref_rate = read_wav_mono(speech_audio.reference_wav)
    assert (rate, ref_rate) == (8000, 8000), f"decoded audio at {rate} Hz"
    # Piece by piece (see assert_exact_audio_in_order): the media clock skips ticks when the
    # loop runs late, and a long stall makes the jitter buffer drop its oldest packet.
    try:
        assert_exact_audio_in_order(reference, decoded)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; decoded {len(decoded)} samples, reference "
                             f"{len(reference)}; rtp_stats={call.get('rtp_stats')}") from None


@pytest.mark.slow
async def test_prompt_reaches_the_caller_rtp_echo(server: ServerProcess, sipp: Sipp) -> None:
    """The demo prompt (speech, then silence) reaches the caller's RTP port.

    SIPp cannot record what it receives; with `-rtp_echo` it sends every packet back to
    where it came from, so the server's own decoded caller audio carries its prompt: loud
    for a while near the start, quiet at the end. (That the prompt is the *right* audio is
    checked by the pjsua2 tests, which record it.) The call lasts 8 s: the shipped welcome
    prompt is 5.7 s long, and the last half second must be silence after it.
    """
    media_port = free_media_port()
    scenario_file = sipp.render("uac_rtp_echo", LISTEN_MS="8000")
    result = await sipp.run(
        ["-m", "1", "-rtp_echo", "-mp", str(media_port), "-timeout", "30s",
         "-recv_timeout", "8000", "-cid_str", "echo-%u-%p@%s"],
        target=server.sip_target, scenario_file=scenario_file, kill_after=45,
    )
    result.assert_calls(successful=1)
    call = await wait_for_call(server, "echo-1-", ended=True)
    assert call.get("decoded_audio_wav"), f"no decoded audio in the debug record: {call}"
    decoded, _rate = read_wav_mono(Path(call["decoded_audio_wav"]))
    levels = frame_rms(decoded)
    loud = levels > 300.0
    assert loud.sum() >= 50, (
        f"only {int(loud.sum())} loud 20 ms frames came back (want >= 1 s of prompt); "
        f"{len(levels)} frames decoded; rtp_stats={call.get('rtp_stats')}"
    )
    first_loud = int(np.argmax(loud))
    assert first_loud < 100, f"the prompt came back only after {first_loud * 20} ms"
    assert levels[-25:].max() < 300.0, "still loud at the end: the prompt never went silent"


@pytest.mark.skipif(os.geteuid() != 0, reason="SIPp plays pcap audio only as root")
async def test_rfc4733_digits_from_pcap(server: ServerProcess, sipp: Sipp) -> None:
    result = await sipp.run(
        ["-m", "1", "-mp", str(free_media_port()), "-timeout", "30s",
         "-recv_timeout", "8000", "-cid_str", "dtmf-%u-%p@%s"],
        target=server.sip_target, scenario_name="uac_dtmf_rfc4733", kill_after=45,
    )
    result.assert_calls(successful=1)
    call = await wait_for_call(server, "dtmf-1-", ended=True)
    assert call.get("digits") == "123#", (
        f"digits {call.get('digits')!r} (sources {call.get('digit_sources')}); "
        f"rtp_stats={call.get('rtp_stats')}"
    )
