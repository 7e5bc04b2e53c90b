"""The media side of one SIP call leg: an RTP session, a G.711 codec, DTMF, and what it plays.

Every 20 ms the process-wide `MediaTicker` calls `tick()`: one packet is taken from the jitter
buffer, decoded and handed to the leg's audio-in taps (recorder, bridge, speech), and one
frame of what the leg is playing is encoded and sent (and handed to the audio-out taps, if
any). Nothing here awaits: the tick is a plain function so one ticker can carry hundreds of
legs. `SipLeg` is a `voice.leg_media.LegMedia`; its taps go through `media.taps.TapFanout`,
which detaches a tap that raises, never the leg.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np

from media.codecs.g711 import PCMU, G711Codec
from media.dtmf_inband import DtmfDetector, DtmfEvent, InbandDtmfBank
from media.frames import AudioFrame, samples_per_frame
from media.player import AudioSource, Player
from media.rtp.session import RtpSession
from media.rtp.stats import RtpStats
from voice.leg_media import TappedLeg
from voice.sdp import Direction, MediaParams

log = logging.getLogger(__name__)

FRAME_SAMPLES = samples_per_frame(8000)

DigitListener = Callable[[str, int, str], None]
# In-band DTMF detection: "on" always (the default: phones that negotiate telephone-event
# may still send tones in the audio, and those digits must be heard), "auto" only when the
# far end did not negotiate telephone-event, "off" never. The detector is the largest
# per-frame cost of a leg (~5 µs a quiet frame, ~14 µs a loud one), so trunks known to send
# RFC 4733 can opt out.
InbandDtmfMode = Literal["on", "auto", "off"]


class SipLeg(TappedLeg):
    """RTP in and out for one negotiated SIP media stream (a `voice.leg_media.LegMedia`)."""

    def __init__(
        self, rtp: RtpSession, params: MediaParams, inband_dtmf: InbandDtmfMode = "on",
        inband_bank: InbandDtmfBank | None = None,
    ) -> None:
        self.rtp = rtp
        # With a bank (the ticker flushes it after every leg), detection runs batched across
        # legs; without one each frame goes through this leg's detector on its own.
        self._bank = inband_bank
        self.params = params
        self.codec: G711Codec = PCMU
        self._silence = b""
        self._sending = False
        self._inband_mode = inband_dtmf
        self._inband: DtmfDetector | None = None
        self.apply(params)
        self._source: AudioSource | None = None
        self._player: Player | None = None  # the source, when it can hand out encoded bytes
        self._on_source_done: Callable[[], None] | None = None
        TappedLeg.__init__(self, "sip")
        self._digit_listeners: list[DigitListener] = []
        self.rtp.on_dtmf = self._rfc4733_digit
        self.frames_in = 0
        self.frames_out = 0
        self.decode_errors = 0

    # -- negotiation ----------------------------------------------------------------------------
    def apply(self, params: MediaParams) -> None:
        """(Re)apply negotiated parameters: codec, remote address, direction."""
        self.params = params
        # SDP negotiation only accepts PCMU and PCMA; the offer's payload type number is kept.
        law: Literal["PCMU", "PCMA"] = "PCMA" if params.codec.upper() == "PCMA" else "PCMU"
        self.codec = G711Codec(law, params.payload_type)
        self._silence = self.codec.encode(AudioFrame(np.zeros(FRAME_SAMPLES, np.int16), 8000))
        self.rtp.dtmf_payload_type = params.telephone_event_pt
        if params.remote_port and not params.on_hold:
            self.rtp.set_remote(params.remote_address, params.remote_port, params.rtcp_port)
        # Read once per tick per leg: kept as a plain attribute rather than a property.
        self._sending = params.direction in (Direction.SENDRECV, Direction.SENDONLY)
        mode = self._inband_mode
        wanted = mode == "on" or (mode == "auto" and params.telephone_event_pt is None)
        if not wanted:
            self._inband = None
        elif self._inband is None:
            self._inband = DtmfDetector() if self._bank is None else self._bank.detector()

    @property
    def sending(self) -> bool:
        """Whether the negotiated direction lets us send audio to this party."""
        return self._sending

    # -- what the leg plays ---------------------------------------------------------------------
    def play(self, source: AudioSource | None, on_done: Callable[[], None] | None = None) -> None:
        """Replace what this party hears; `on_done` runs when the source runs dry."""
        self._source = source
        self._player = (
            source if isinstance(source, Player) and source.can_encode(self.codec) else None
        )
        self._on_source_done = on_done

    # -- LegMedia taps ---------------------------------------------------------------------------

    def on_digit(self, listener: DigitListener) -> None:
        """`listener(digit, duration_ms, source)` for RFC 4733 and in-band digits."""
        self._digit_listeners.append(listener)

    def send_dtmf(self, digits: str) -> None:
        if self.rtp.dtmf_payload_type is None:
            raise ValueError("the far end did not negotiate telephone-event (RFC 4733)")
        for digit in digits:
            self.rtp.send_dtmf(digit)

    # -- the 20 ms tick -------------------------------------------------------------------------
    def tick(self) -> None:
        packet = self.rtp.pop_audio()
        codec = self.codec
        if packet is not None and packet.payload_type == codec.payload_type:
            frame = codec.decode(packet.payload, packet.timestamp)
            self.frames_in += 1
            if self._inband is not None:
                if self._bank is not None:
                    self._bank.push(self._inband, frame.samples, self._inband_events)
                else:
                    self._inband_events(self._inband.feed(frame.samples))
            if self._taps_in.taps:
                self._taps_in.deliver(frame)
        payload: bytes | None = None
        source = self._source
        if source is not None:
            # A shared prompt is encoded once per process (see media.player.encoded_prompt);
            # anything else (tones, mixes) is encoded frame by frame.
            player = self._player
            if player is not None:
                payload = player.next_encoded(codec)
            else:
                out = source.next_frame()
                payload = codec.encode(out) if out is not None else None
            if payload is None:
                done, self._on_source_done = self._on_source_done, None
                self._source = self._player = None
                if done is not None:
                    done()
        if self._taps_out.taps:
            # Decoded back from what goes on the wire: only paid for while someone listens,
            # and once per process for a shared prompt's frames and silence.
            heard = codec.decode_shared(payload or self._silence,
                                        self.frames_out * FRAME_SAMPLES)
            self._taps_out.deliver(heard)
        if not self._sending or self.rtp.remote is None:
            return
        self.rtp.send(payload or self._silence, codec.payload_type, FRAME_SAMPLES)
        self.frames_out += 1

    def _inband_events(self, events: list[DtmfEvent]) -> None:
        for event in events:
            self._emit_digit(event.digit, event.duration_ms, "inband")

    def _rfc4733_digit(self, digit: str, duration_ms: int) -> None:
        self._emit_digit(digit, duration_ms, "rfc4733")

    def _emit_digit(self, digit: str, duration_ms: int, source: str) -> None:
        for listener in self._digit_listeners:
            listener(digit, duration_ms, source)

    def stats(self) -> RtpStats:
        return self.rtp.stats

    def close(self) -> None:
        self._source = self._player = None
        self._on_source_done = None
        # Break the leg <-> session <-> call cycles so refcounting frees them at once.
        self._taps_in.clear()
        self._taps_out.clear()
        self._digit_listeners.clear()
        self.rtp.on_dtmf = None
        self.rtp.close()
