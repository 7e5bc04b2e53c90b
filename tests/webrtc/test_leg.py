"""WebRtcLeg against a real aiortc peer on loopback (PCMU and Opus): audio both ways, mute,
clean close, refused offers; and bridged to a SipLeg over RTP loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest

from media.bridge import Bridge
from media.clock import LoopClock
from media.codecs.g711 import PCMU, ulaw_decode
from media.frame_queue import FrameQueue
from media.frames import AudioFrame
from media.player import ToneGenerator
from media.rtp.ports import PortAllocator
from media.rtp.session import RtpSession
from media.ticker import MediaTicker
from tests.helpers.webrtc_peer import ClientPeer
from tests.webrtc.conftest import dominant_hz, rms, tone
from voice.sdp import Direction, MediaParams
from voice.sip_leg import SipLeg
from voice.webrtc import LegState, OfferError, WebRtcLeg
from voice.webrtc.audio_level import audio_level_dbov, stock_audio_level_dbov

LOOPBACK = ("127.0.0.1",)
CLIENT_HZ = 300.0
PLAYED_HZ = 1000.0
# What the tests wait for comes in well under a second on loopback, but aiortc encodes and
# decodes in this process, which CI shares two cores with the rest of the suite: a limit
# only a failing test reaches.
WAIT_S = 15.0


async def connect(ticker: MediaTicker, codec: str, *, seconds: float = 3.0
                  ) -> tuple[WebRtcLeg, ClientPeer]:
    client = ClientPeer(tone(CLIENT_HZ, 48000, seconds), (codec,))
    leg = await WebRtcLeg.accept(await client.offer(), ticker=ticker, host_addresses=LOOPBACK)
    await client.answer(leg.answer_sdp)
    async with asyncio.timeout(WAIT_S):
        await leg.wait_connected()
    return leg, client


async def until(cond: object, limit: float = WAIT_S) -> None:
    async with asyncio.timeout(limit):
        while not cond():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture(params=["PCMU", "opus"])
async def call(request: pytest.FixtureRequest, ticker: MediaTicker
               ) -> AsyncIterator[tuple[WebRtcLeg, ClientPeer]]:
    leg, client = await connect(ticker, request.param)
    yield leg, client
    await leg.close()
    await client.close()


async def test_audio_flows_both_ways(call: tuple[WebRtcLeg, ClientPeer]) -> None:
    leg, client = call
    heard: list[AudioFrame] = []
    leg.add_listener(heard.append)
    leg.play(ToneGenerator((PLAYED_HZ,), 8000, level_dbfs=-10.0))
    await until(lambda: len(heard) >= 50 and len(client.heard.audio()) >= 8000)
    # The browser's 300 Hz reaches the listeners as 8 kHz 20 ms frames, at its level
    # (6000 peak → ~4240 rms; Opus from aiortc's stereo upmix may come out ~3 dB down).
    assert all(f.sample_rate == 8000 and len(f.samples) == 160 for f in heard)
    got = np.concatenate([f.samples for f in heard[-25:]])
    assert rms(got) > 2500
    assert abs(dominant_hz(got) - CLIENT_HZ) < 20
    # What play() is given reaches the browser.
    out = client.heard.audio()[-4000:]
    assert rms(out) > 0.5 * 32767 * 10 ** (-10 / 20) / np.sqrt(2)
    assert abs(dominant_hz(out) - PLAYED_HZ) < 20
    stats = leg.stats()
    assert stats.codec == leg.codec
    assert stats.frames_in >= 50 and stats.frames_out >= 50 and stats.decode_errors == 0


async def test_played_audio_is_the_same_signal(call: tuple[WebRtcLeg, ClientPeer]) -> None:
    leg, client = call
    # A chirp-like sweep, so correlation cannot lock on a wrong period.
    t = np.arange(8000 * 2) / 8000
    sweep = np.rint(8000 * np.sin(2 * np.pi * (200 + 400 * t) * t)).astype(np.int16)
    frames = [AudioFrame(sweep[i : i + 160].copy(), 8000) for i in range(0, len(sweep), 160)]
    leg.play(iter_source(frames))
    await until(lambda: len(client.heard.audio()) >= 8000 * 3)
    heard = client.heard.audio().astype(np.float64)
    ref = sweep.astype(np.float64)
    corr = np.correlate(heard, ref[2000:6000], "valid")
    lag = int(np.argmax(corr))
    segment = heard[lag : lag + 4000]
    coeff = np.corrcoef(segment, ref[2000:6000])[0, 1]
    assert coeff > 0.9, coeff


class iter_source:  # noqa: N801 - reads as a function at the call site
    """An AudioSource over a list of frames."""

    def __init__(self, frames: list[AudioFrame]) -> None:
        self._frames = iter(frames)

    def next_frame(self) -> AudioFrame | None:
        return next(self._frames, None)


async def test_source_end_calls_on_done(call: tuple[WebRtcLeg, ClientPeer]) -> None:
    leg, _ = call
    done = asyncio.Event()
    leg.play(ToneGenerator((440.0,), 8000, duration_ms=200), on_done=done.set)
    async with asyncio.timeout(WAIT_S):
        await done.wait()


async def test_mute_withholds_the_browser_audio(call: tuple[WebRtcLeg, ClientPeer]) -> None:
    leg, _ = call
    heard: list[AudioFrame] = []
    leg.add_listener(heard.append)
    await until(lambda: len(heard) >= 5)
    leg.set_muted(True)
    assert leg.muted
    before, taken = len(heard), leg.stats().frames_in
    await until(lambda: leg.stats().frames_in >= taken + 20)
    assert len(heard) == before  # still received and counted, heard by nobody
    leg.set_muted(False)
    await until(lambda: len(heard) >= before + 5)


async def test_close_is_clean(ticker: MediaTicker) -> None:
    await asyncio.sleep(0)
    tasks_before = asyncio.all_tasks()
    leg, client = await connect(ticker, "opus")
    await until(lambda: leg.stats().frames_in > 10)
    await leg.close()
    await client.close()
    await leg.close()  # idempotent
    assert leg.state is LegState.CLOSED
    assert len(ticker) == 0
    with pytest.raises(Exception, match="closed"):
        leg.play(None)
    await until(lambda: not (asyncio.all_tasks() - tasks_before - {asyncio.current_task()}))
    # aiortc's per-receiver decoder threads are gone (the executor's pool threads may stay).
    await until(lambda: not any(t.name.endswith("-decoder") for t in threading.enumerate()))


async def test_peer_going_away_ends_the_leg(ticker: MediaTicker) -> None:
    leg, client = await connect(ticker, "PCMU")
    await client.close()
    async with asyncio.timeout(40):
        state = await leg.wait_ended()
    assert state is LegState.FAILED
    await leg.close()


@pytest.mark.parametrize(
    ("offer", "message"),
    [
        ("hello", "must start with v=0"),
        ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP\r\n", "malformed"),
        ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", "no audio"),
    ],
)
async def test_bad_offer_is_refused_with_a_reason(
    ticker: MediaTicker, offer: str, message: str
) -> None:
    with pytest.raises(OfferError, match=message):
        await WebRtcLeg.accept(offer, ticker=ticker)
    assert len(ticker) == 0


async def test_offer_without_a_common_codec_is_refused(ticker: MediaTicker) -> None:
    client = ClientPeer(tone(CLIENT_HZ, 48000, 1.0), ("PCMA",))
    try:
        with pytest.raises(OfferError, match="no common audio codec.*PCMA"):
            await WebRtcLeg.accept(await client.offer(), ticker=ticker, host_addresses=LOOPBACK)
    finally:
        await client.close()


async def test_offer_without_loopback_candidates_is_refused(ticker: MediaTicker) -> None:
    client = ClientPeer(tone(CLIENT_HZ, 48000, 1.0), ("PCMU",))
    offer = (await client.offer()).replace("127.0.0.1", "192.0.2.77")
    try:
        with pytest.raises(OfferError, match="none on loopback"):
            await WebRtcLeg.accept(offer, ticker=ticker, host_addresses=LOOPBACK)
    finally:
        await client.close()


def test_numpy_audio_level_matches_aiortc() -> None:
    import av

    for amplitude in (0, 3, 300, 30000):
        pcm = np.tile(tone(440.0, 48000, 0.02, amplitude), (1, 2))
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = 48000
        assert audio_level_dbov(frame) == stock_audio_level_dbov(frame)


# -- bridged to a SIP leg ---------------------------------------------------------------------
async def test_bridged_to_a_sip_leg(ticker: MediaTicker) -> None:
    """Phone (raw RTP) ⇄ SipLeg ⇄ Bridge/FrameQueues ⇄ WebRtcLeg ⇄ aiortc browser peer."""
    from tests.media.test_rtp_session import free_range

    ports = PortAllocator(*free_range())
    server_rtp = RtpSession(LoopClock(), ports, jitter_delay_ms=0, rtcp_interval=60)
    phone = RtpSession(LoopClock(), ports, jitter_delay_ms=0, rtcp_interval=60)
    server_port, phone_port = await server_rtp.open(), await phone.open()
    phone.set_remote("127.0.0.1", server_port)
    params = MediaParams("127.0.0.1", phone_port, "127.0.0.1", phone_port + 1, 0, "PCMU",
                         8000, None, Direction.SENDRECV, 20, False)
    sip = SipLeg(server_rtp, params, inband_dtmf="off")
    ticker.add(sip)
    web, client = await connect(ticker, "opus", seconds=4.0)
    to_sip, to_web = FrameQueue(), FrameQueue()
    bridge = Bridge("sip", to_sip, "web", to_web)
    sip.add_listener(lambda f: bridge.feed("sip", f))
    web.add_listener(lambda f: bridge.feed("web", f))
    sip.play(to_sip)
    web.play(to_web)

    phone_tone = ToneGenerator((700.0,), 8000, level_dbfs=-12.0)
    phone_heard: list[np.ndarray] = []

    class Phone:
        def tick(self) -> None:
            out = phone_tone.next_frame()
            assert out is not None
            phone.send(PCMU.encode(out), 0, 160)
            packet = phone.pop_audio()
            if packet is not None:
                phone_heard.append(ulaw_decode(packet.payload))

    ticker.add(Phone())
    try:
        await until(lambda: len(phone_heard) >= 100 and len(client.heard.audio()) >= 8000 * 2)
        # The browser hears the phone's 700 Hz; the phone hears the browser's 300 Hz.
        at_browser = client.heard.audio()[-8000:]
        assert rms(at_browser) > 1000 and abs(dominant_hz(at_browser) - 700) < 20
        at_phone = np.concatenate(phone_heard[-50:])
        assert rms(at_phone) > 1000 and abs(dominant_hz(at_phone) - CLIENT_HZ) < 20
        assert bridge.frames_forwarded > 150
    finally:
        await web.close()
        await client.close()
        sip.close()
        phone.close()


async def test_our_codec_preference_wins(ticker: MediaTicker) -> None:
    client = ClientPeer(tone(CLIENT_HZ, 48000, 1.0), ("opus", "PCMU"))
    leg = await WebRtcLeg.accept(await client.offer(), ticker=ticker, codecs=("PCMU", "opus"),
                                 host_addresses=LOOPBACK)
    try:
        assert leg.codec == "PCMU"
        # Both are allowed; ours comes first in the answer, so it is what is sent.
        assert leg.answer_sdp.index("PCMU/8000") < leg.answer_sdp.index("opus/48000")
    finally:
        await leg.close()
        await client.close()
