"""The leg's own audio codecs: 8 kHz int16 frames ⇄ RTP payloads, for PCMU and Opus.

The server's audio is 8 kHz telephone audio, so the leg encodes and decodes itself instead of
letting aiortc do it: aiortc's encoders resample every frame to the codec rate (Opus: 48 kHz
stereo, ~340 µs a frame at 96 kb/s) and run in a thread-pool hop per frame. Here:

* PCMU is a numpy table lookup each way (`media.codecs.g711`).
* Opus is encoded by libopus (through PyAV) straight from 8 kHz mono, narrowband, at a
  moderate complexity (~85 µs a frame at complexity 5 against ~340 µs stock). RTP still
  stamps it on the 48 kHz clock. libopus always decodes to 48 kHz (FFmpeg forces it), so the
  decoded mono signal is brought down to 8 kHz by a polyphase FIR that computes only the
  samples it keeps (`Decimator`).
"""

from __future__ import annotations

import fractions
from typing import Any, Protocol, TypeAlias

import av
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from media.codecs.g711 import ULAW_DECODE, ULAW_ENCODE
from media.frames import Pcm, samples_per_frame
from media.resample import design_lowpass

RATE = 8000
FRAME = samples_per_frame(RATE)  # 160
OPUS_RATE = 48000
OPUS_FACTOR = OPUS_RATE // RATE
TIME_BASE_8K = fractions.Fraction(1, RATE)

# A packet of encoded audio that aiortc's sender packs as is (no stream attached).
EncodedAudio: TypeAlias = "av.Packet[Any]"

# Names as aiortc spells them in its codec capabilities (mimeType "audio/<name>").
SUPPORTED = ("opus", "PCMU")


class LegCodec(Protocol):
    """One negotiated audio codec as the leg uses it: 20 ms of 8 kHz int16 each way."""

    name: str
    clock_rate: int

    def encode(self, pcm: Pcm, pts: int) -> EncodedAudio | None:
        """20 ms of 8 kHz audio → a packet aiortc's sender can pack as is (pts at 8 kHz),
        None when the encoder gave nothing for it."""
        ...

    def decode(self, payload: bytes) -> Pcm | None:
        """One received payload → 8 kHz samples (None if the payload cannot be decoded)."""
        ...


def _packet(payload: bytes, pts: int) -> EncodedAudio:
    packet = av.Packet(payload)
    packet.pts = pts
    packet.time_base = TIME_BASE_8K
    return packet


class PcmuCodec:
    """G.711 µ-law: one byte per sample, both ways by table."""

    name = "PCMU"
    clock_rate = RATE

    def encode(self, pcm: Pcm, pts: int) -> EncodedAudio:
        return _packet(ULAW_ENCODE[pcm.view(np.uint16)].tobytes(), pts)

    def encode_bytes(self, payload: bytes, pts: int) -> EncodedAudio:
        """A payload already µ-law encoded (a shared prompt, `Player.next_encoded`)."""
        return _packet(payload, pts)

    def decode(self, payload: bytes) -> Pcm | None:
        pcm: Pcm = ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]
        return pcm


class Decimator:
    """48 kHz → 8 kHz for one stream: low-pass FIR, keeping every sixth output.

    Only the kept outputs are computed (a strided window times the taps), and the last taps'
    worth of input is carried between calls, so 20 ms chunks join without clicks.
    """

    TAPS = 96
    CUTOFF_HZ = 3600.0

    def __init__(self) -> None:
        self._taps = design_lowpass(self.TAPS, self.CUTOFF_HZ, OPUS_RATE)[::-1].copy()
        self._hist = np.zeros(self.TAPS - 1)
        self._phase = 0

    def process(self, pcm48: Pcm) -> Pcm:
        x = np.concatenate((self._hist, pcm48.astype(np.float64)))
        self._hist = x[len(x) - (self.TAPS - 1) :]
        windows = sliding_window_view(x, self.TAPS)[self._phase :: OPUS_FACTOR]
        self._phase = (self._phase - len(pcm48)) % OPUS_FACTOR
        y = windows @ self._taps
        out: Pcm = np.clip(np.rint(y), -32768, 32767).astype(np.int16)
        return out


class OpusCodec:
    """Opus through libopus: encoded from 8 kHz mono, decoded at 48 kHz and decimated."""

    name = "opus"
    clock_rate = OPUS_RATE

    def __init__(self, *, bitrate: int = 24000, complexity: int = 5) -> None:
        enc: Any = av.CodecContext.create("libopus", "w")
        enc.sample_rate = RATE
        enc.format = "s16"
        enc.layout = "mono"
        enc.bit_rate = bitrate
        enc.time_base = TIME_BASE_8K
        enc.options = {"application": "voip", "compression_level": str(complexity)}
        enc.open()
        dec: Any = av.CodecContext.create("libopus", "r")
        dec.sample_rate = OPUS_RATE
        dec.layout = "mono"
        dec.format = "s16"
        self._enc = enc
        self._dec = dec
        self._decimator = Decimator()
        self.decode_errors = 0

    def encode(self, pcm: Pcm, pts: int) -> EncodedAudio | None:
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = pts
        packets = self._enc.encode(frame)
        # libopus with 20 ms frames gives exactly one packet per 20 ms in; its own pts starts
        # at minus the pre-skip, so the stream is stamped with ours.
        return _packet(bytes(packets[0]), pts) if packets else None

    def decode(self, payload: bytes) -> Pcm | None:
        try:
            frames = self._dec.decode(av.Packet(payload))
        except av.FFmpegError:
            self.decode_errors += 1
            return None
        if not frames:
            return None
        pcm48 = frames[0].to_ndarray().reshape(-1)
        for extra in frames[1:]:
            pcm48 = np.concatenate((pcm48, extra.to_ndarray().reshape(-1)))
        return self._decimator.process(pcm48)


def make_codec(name: str) -> LegCodec:
    """The leg codec for an aiortc codec name (`opus` or `PCMU`)."""
    if name.lower() == "opus":
        return OpusCodec()
    if name.upper() == "PCMU":
        return PcmuCodec()
    raise ValueError(f"unsupported WebRTC audio codec {name!r} (supported: {SUPPORTED})")
