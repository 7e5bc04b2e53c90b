"""The media seam on a real SIP call: a pjsua2 caller dials the in-process SIP stack
(`SipUserAgent` + `CallManager` + the process `MediaTicker`), the handler attaches a tap that
raises on every frame next to a counting one, and plays a tone. The broken tap is detached
and counted; the call stays on the media clock: the counting tap keeps getting the caller's
audio and the caller keeps hearing the tone to the end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from media.clock import LoopClock
from media.frames import AudioFrame
from media.player import ToneGenerator
from media.rtp.ports import PortAllocator
from media.taps import TAP_STATS
from media.ticker import MediaTicker
from tests.helpers.server import random_rtp_block
from tests.pjsua.audio import dominant_frequency, make_tone, read_wav, rms
from voice.call import Call
from voice.calls import CallManager
from voice.leg_media import LegMedia
from voice.pjsua.client import place_call
from voice.sip.ua import SipUserAgent, UaConfig

TONE_HZ = 440  # what the server plays
CALLER_HZ = 1000  # what the caller sends
PLAY_MS = 3000


class Probe:
    """The handler's view: the leg's media, the frames the good taps saw, the broken taps'
    calls."""

    def __init__(self) -> None:
        self.media: LegMedia | None = None
        self.heard_in: list[AudioFrame] = []
        self.heard_out = 0
        self.broken_calls = 0

    def broken(self, frame: AudioFrame) -> None:
        self.broken_calls += 1
        raise RuntimeError("a consumer bug")

    def broken_out(self, frame: AudioFrame) -> None:
        self.broken_calls += 1
        raise ZeroDivisionError

    def count_out(self, frame: AudioFrame) -> None:
        self.heard_out += 1


async def test_a_failing_tap_is_detached_and_counted_and_the_call_goes_on(
    tmp_path: Path,
) -> None:
    clock = LoopClock()
    ticker = MediaTicker()
    ua = SipUserAgent(clock, UaConfig(hosts=("127.0.0.1",), udp_port=0, tcp_port=None,
                                      tls_port=None))
    probe = Probe()
    played = asyncio.get_running_loop().create_future()

    async def handler(call: Call) -> None:
        await call.answer()
        media = call.media()
        assert media is not None
        probe.media = media
        media.add_listener(probe.broken)  # first: it raises before the good tap's turn
        media.add_listener(probe.heard_in.append)
        media.add_out_listener(probe.broken_out)
        media.add_out_listener(probe.count_out)
        await call.play(ToneGenerator((TONE_HZ,), 8000, duration_ms=PLAY_MS))
        played.set_result(None)
        call.hangup("done")

    low, high = random_rtp_block(100)
    manager = CallManager(ua, clock, ticker, PortAllocator(low, high), "127.0.0.1", handler)
    failures_before = TAP_STATS.failures
    await ua.start()
    await ticker.start()
    try:
        host, port = ua.local_address("UDP")
        caller_wav = make_tone(tmp_path / "caller.wav", CALLER_HZ, 6.0)
        result = await place_call(f"sip:100@{host}:{port}", play=caller_wav,
                                  record=tmp_path / "heard.wav", duration=8.0)
    finally:
        await ticker.stop()
        await manager.close()
        await ua.close()
    assert result.connected, result
    # The server hung up after the whole tone: the handler ran to its end.
    assert played.done() and result.remote_hangup, result
    media = probe.media
    assert media is not None
    # Each broken tap was called once, then detached and counted; the leg never left the clock.
    assert probe.broken_calls == 2
    assert media.taps_in.failures == 1 and media.taps_out.failures == 1
    assert TAP_STATS.failures == failures_before + 2
    assert ticker.errors == 0
    # The good taps went on for the whole call (~3 s = 150 frames each way).
    assert len(probe.heard_in) >= 100, len(probe.heard_in)
    assert probe.heard_out >= 100, probe.heard_out
    caller_audio = np.concatenate([f.samples for f in probe.heard_in[-50:]]).astype(np.float64)
    assert abs(dominant_frequency(caller_audio) - CALLER_HZ) < 20
    # The caller heard the tone to its end, not just until the first frame of the tap.
    heard = read_wav(tmp_path / "heard.wav")
    # 1.5-2.5 s into the call: well after the taps failed (their first frame), before the
    # tone's end (the recording starts when media is up, within a few frames of the tone).
    last_second = heard[12000:20000]
    assert rms(last_second) > 1000, rms(last_second)
    assert abs(dominant_frequency(last_second) - TONE_HZ) < 20
