"""pjsua2 (PJSIP, an independent stack) against the real server, both directions.

Inbound: `centralita call`'s engine dials the server, records the demo prompt and sends
RFC 4733 and in-band digits that the server must report. Outbound: the server dials a pjsua2
listener (the UAC path) and the prompt arrives in the listener's recording.
"""

from __future__ import annotations

import wave
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from centralita.server import default_prompt
from media.codecs.g711 import ulaw_decode, ulaw_encode
from media.player import read_wav
from tests.conftest import ServerFactory
from tests.helpers.server import ServerOptions
from tests.pjsua.audio import read_wav as read_float
from tests.sipp.debug_api import assert_exact_audio_in_order, wait_for_call
from voice.pjsua.client import PjsuaListener, place_call

pytestmark = pytest.mark.slow

DTMF_FREQS = {
    "1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "#": (941, 1477),
    "0": (941, 1336), "4": (770, 1209), "7": (852, 1209), "*": (941, 1209),
}


def prompt_reference(start_s: float, seconds: float) -> np.ndarray:
    """A stretch of the demo prompt as it sounds after the µ-law round trip, as float."""
    pcm, rate = read_wav(default_prompt())
    assert rate == 8000
    pcm = ulaw_decode(ulaw_encode(pcm))
    chunk = pcm[int(start_s * rate) : int((start_s + seconds) * rate)]
    return chunk.astype(np.float64)


def assert_prompt_heard(heard: np.ndarray) -> None:
    """1.5 s of the prompt arrived, in order: of its 0.25 s pieces, each aligned on its own,
    at least two thirds correlate >= 0.9 at lags that agree.

    Piece by piece: a jitter buffer (ours under load, or pjsua2's adaptive one) may slip a
    20 ms frame, which is no fault of the audio path but would misalign one long window, and
    the piece it falls in.
    """
    assert_exact_audio_in_order(prompt_reference(0.3, 1.5), heard, exact=0.9, piece_s=0.25)


def write_inband_digits(path: Path, digits: str, snr_db: float = 20.0) -> Path:
    """8 kHz 16-bit WAV: 1.5 s of noise (a caller listening to the greeting), then each digit
    a 100 ms dual tone with 150 ms gaps, white noise throughout. (0.5 s before the digits was
    too little on a loaded CI machine: a server stalled ~1 s at the call's start drops that
    stale audio, and the first three digits with it.)"""
    rate = 8000
    rng = np.random.default_rng(7)
    parts = [np.zeros(int(1.5 * rate))]
    t = np.arange(int(0.1 * rate)) / rate
    for digit in digits:
        low, high = DTMF_FREQS[digit]
        parts.append(4000 * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t)))
        parts.append(np.zeros(int(0.15 * rate)))
    signal = np.concatenate(parts)
    tone_power = 2 * (4000**2) / 2
    noise = rng.normal(0, np.sqrt(tone_power / 10 ** (snr_db / 10)), len(signal))
    pcm = np.clip(signal + noise, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


async def test_pjsua_caller_hears_prompt_and_server_reports_rfc4733_digits(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await server_factory(ServerOptions(demo_hangup_after=15))
    record = tmp_path / "heard.wav"
    result = await place_call(
        f"sip:100@{server.sip_target}", record=record, dtmf="159#", dtmf_delay=1.0, duration=4.0
    )
    assert result.connected, result
    assert result.dtmf_sent == "159#"

    heard = read_float(record)
    assert_prompt_heard(heard)

    calls = await server.debug_calls()
    assert len(calls) == 1
    record_ = await wait_for_call(server, calls[0]["call_id"], ended=True)
    assert record_["digits"] == "159#"
    assert set(record_["digit_sources"]) == {"rfc4733"}
    assert record_["rtp_stats"]["packets_received"] > 100


async def test_server_detects_inband_digits_in_noisy_g711(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await server_factory(ServerOptions(demo_hangup_after=15))
    digits = "4709*"
    wav = write_inband_digits(tmp_path / "digits.wav", digits)
    result = await place_call(f"sip:100@{server.sip_target}", play=wav, duration=4.5)
    assert result.connected, result
    calls = await server.debug_calls()
    record_ = await wait_for_call(server, calls[0]["call_id"], ended=True)
    assert record_["digits"] == digits
    assert set(record_["digit_sources"]) == {"inband"}


async def test_server_dials_pjsua_listener_and_its_prompt_arrives(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await server_factory(ServerOptions(demo_hangup_after=15))
    record = tmp_path / "listener.wav"
    async with PjsuaListener(record=record, max_calls=1) as listener:
        async with aiohttp.ClientSession(headers=server.auth_headers) as http:
            resp = await http.post(
                f"{server.http_base}/api/debug/dial",
                json={"uri": listener.uri, "hangup_after": 3},
            )
            body = await resp.json()
            assert resp.status == 200, body
        ended = await listener.next_call(timeout=15)
        assert ended.duration > 2.0, ended
        assert ended.from_.startswith("sip:centralita@") or "centralita" in ended.from_
    heard = read_float(record)
    assert_prompt_heard(heard)
    record_ = await wait_for_call(server, body["call_id"], ended=True)
    assert record_["direction"] == "outbound"
    assert record_["end_cause"] in ("local-bye", "timeout")


async def test_debug_dial_rejects_bad_bodies_and_unreachable_targets(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(ServerOptions(demo_hangup_after=15))
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:
        url = f"{server.http_base}/api/debug/dial"
        resp = await http.post(url, data=b"not json")
        assert resp.status == 400 and "JSON" in (await resp.json())["error"]
        resp = await http.post(url, json={"uri": 5})
        assert resp.status == 400 and "'uri'" in (await resp.json())["error"]
        resp = await http.post(url, json={"uri": "http://nope"})
        assert resp.status == 400 and "scheme" in (await resp.json())["error"]
        resp = await http.get(f"{server.http_base}/healthz")
        assert resp.status == 200
