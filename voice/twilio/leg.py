"""`TwilioStreamLeg`: a call that Twilio carries, as a leg of ours, over Media Streams.

To the rest of the server it is media exactly like `voice.sip_leg.SipLeg` and
`voice.webrtc.leg.WebRtcLeg`: a `voice.leg_media.LegMedia`, driven by the process-wide
`MediaTicker`. Every 20 ms `tick()`:

    socket ─media─▶ InboundJitter (by timestamp) ─tick─▶ µ-law decode ─▶ audio-in taps
    socket ◀─media─ base64 ◀─ µ-law ◀─tick─ play(source)         ─▶ audio-out taps

What a WebSocket adds to a leg:

- Outbound audio is paced by the media clock: one `media` message per tick while something
  plays (Twilio plays silence when we send nothing, so nothing is sent then).
- A prompt that runs to its end is followed by a `mark`; its `on_done` runs when Twilio
  echoes the mark, i.e. when the caller has *heard* it, not when we finished sending (after
  `MARK_WAIT_TICKS` without an echo it runs anyway, counted in `marks_unanswered`).
- A prompt cut short (the IVR's barge-in interrupts the source, or `play()` replaces a
  source still playing) sends `clear`: Twilio drops what it still holds, so the caller stops
  hearing it at once; `on_done` runs there and then.
- `dtmf` messages become digits on the leg's digit listeners (the Call's DTMF path).

`TwilioCallLeg` is the `voice.call.CallLeg` over it: hanging up closes the socket, which
ends the `<Connect>` and, with no TwiML after it, the call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from media.codecs.g711 import PCMU, ulaw_decode
from media.frames import AudioFrame
from media.player import AudioSource, Player
from voice.leg_media import LegMedia, TappedLeg
from voice.twilio.jitter import SLOT_BYTES, InboundJitter, JitterStats
from voice.twilio.protocol import Clear, OutMark, OutMedia

log = logging.getLogger(__name__)

DigitListener = Callable[[str, int, str], None]
Send = Callable[[str], None]
#: Ticks to wait for Twilio's echo of a prompt's mark before the prompt counts as heard
#: anyway: 3 s is far beyond Twilio's playback buffer when we send at the clock's pace.
MARK_WAIT_TICKS = 150
_SILENCE = np.zeros(SLOT_BYTES, np.int16)


class TwilioStreamLeg(TappedLeg):
    """The audio of one Media Stream (a `voice.leg_media.LegMedia`).

    `send(text)` queues one text frame for the socket; it must not block (the stream's
    writer owns the socket). `now()` stamps arriving chunks for the lateness figures.
    """

    def __init__(self, stream_sid: str, send: Send, now: Callable[[], float]) -> None:
        TappedLeg.__init__(self, "twilio")
        self.stream_sid = stream_sid
        self._send = send
        self._now = now
        self.jitter = InboundJitter()
        self._source: AudioSource | None = None
        self._player: Player | None = None
        self._on_source_done: Callable[[], None] | None = None
        self._sent_of_source = 0
        # Whether the source said it was finished after the frame it last gave (Player.done):
        # a source that then returns None ran to its end; one that was not done was cut.
        self._source_done_after_last = False
        self._marks: dict[str, tuple[int, Callable[[], None] | None]] = {}
        self._mark_seq = 0
        self._digit_listeners: list[DigitListener] = []
        self._ticks = 0
        self._in_ts = 0
        self._out_ts = 0
        self.closed = False
        self.frames_in = 0
        self.frames_out = 0
        self.marks_sent = 0
        self.marks_heard = 0
        self.marks_unanswered = 0
        self.clears = 0

    # -- what the leg plays ---------------------------------------------------------------------
    def play(self, source: AudioSource | None, on_done: Callable[[], None] | None = None) -> None:
        """Replace what the caller hears; `on_done` runs once it has been heard (or cut)."""
        if self._source is not None and self._sent_of_source:
            # Replacing a source mid-way: what Twilio holds of it must not play on.
            self._clear()
        self._source = source
        self._player = (source if isinstance(source, Player) and source.can_encode(PCMU)
                        else None)
        self._on_source_done = on_done
        self._sent_of_source = 0
        self._source_done_after_last = False

    def on_digit(self, listener: DigitListener) -> None:
        """`listener(digit, duration_ms, source)` for each `dtmf` message (source "twilio")."""
        self._digit_listeners.append(listener)

    # -- what the socket delivers (called by the stream session) --------------------------------
    def receive_media(self, timestamp_ms: int, payload: bytes) -> None:
        self.jitter.push(timestamp_ms, payload, self._now())

    def receive_dtmf(self, digit: str) -> None:
        for listener in list(self._digit_listeners):
            listener(digit, 0, "twilio")

    def receive_mark(self, name: str) -> None:
        """Twilio played everything up to mark `name` (or cleared it): the prompt was heard."""
        pending = self._marks.pop(name, None)
        if pending is None:
            return  # a mark a clear already settled, or not ours
        self.marks_heard += 1
        done = pending[1]
        if done is not None:
            done()

    # -- the 20 ms tick -------------------------------------------------------------------------
    def tick(self) -> None:
        self._ticks += 1
        if self.closed:
            return
        payload_in = self.jitter.pop()
        if payload_in is not None:
            self.frames_in += 1
            if self._taps_in.taps:
                self._taps_in.deliver(AudioFrame(ulaw_decode(payload_in), 8000, self._in_ts))
        self._in_ts += SLOT_BYTES
        payload = self._next_payload()
        if payload is not None:
            self._send(OutMedia(self.stream_sid, payload).to_json())
            self.frames_out += 1
        if self._taps_out.taps:
            samples = ulaw_decode(payload) if payload is not None else _SILENCE
            self._taps_out.deliver(AudioFrame(samples, 8000, self._out_ts))
        self._out_ts += SLOT_BYTES
        if self._marks:
            self._expire_marks()

    def _next_payload(self) -> bytes | None:
        source = self._source
        if source is None:
            return None
        player = self._player
        if player is not None:
            payload = player.next_encoded(PCMU)
        else:
            frame = source.next_frame()
            payload = PCMU.encode(frame) if frame is not None else None
        if payload is not None:
            self._sent_of_source += 1
            self._source_done_after_last = bool(getattr(source, "done", True))
            return payload
        done, self._on_source_done = self._on_source_done, None
        ran_out = self._source_done_after_last or not hasattr(source, "done")
        self._source = self._player = None
        if self._sent_of_source and not ran_out:
            # Interrupted (barge-in): drop what Twilio still holds; nothing more to hear.
            self._clear()
            if done is not None:
                done()
        elif self._sent_of_source:
            self._mark(done)
        elif done is not None:
            done()
        return None

    def _mark(self, done: Callable[[], None] | None) -> None:
        self._mark_seq += 1
        name = f"prompt-{self._mark_seq}"
        self._marks[name] = (self._ticks, done)
        self.marks_sent += 1
        self._send(OutMark(self.stream_sid, name).to_json())

    def _clear(self) -> None:
        self.clears += 1
        self._send(Clear(self.stream_sid).to_json())
        # Twilio echoes the marks a clear drops; they were cut, not heard: settle them now.
        pending, self._marks = self._marks, {}
        for _, done in pending.values():
            if done is not None:
                done()

    def _expire_marks(self) -> None:
        overdue = [name for name, (sent, _) in self._marks.items()
                   if self._ticks - sent > MARK_WAIT_TICKS]
        for name in overdue:
            _, done = self._marks.pop(name)
            self.marks_unanswered += 1
            if done is not None:
                done()

    # -- figures and teardown -------------------------------------------------------------------
    def stats(self) -> JitterStats:
        return self.jitter.stats()

    def close(self) -> None:
        """Off the air: nothing more is sent; pending prompts settle (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._source = self._player = None
        self._on_source_done = None
        pending, self._marks = self._marks, {}
        for _, done in pending.values():
            if done is not None:
                done()
        self._taps_in.clear()
        self._taps_out.clear()
        self._digit_listeners.clear()


class TwilioCallLeg:
    """`voice.call.CallLeg` over a Media Stream. `hangup` is the stream session's close."""

    def __init__(self, media: TwilioStreamLeg, hangup: Callable[[], None]) -> None:
        self.media = media
        self._hangup = hangup

    def ring(self) -> None:
        """Twilio answered the call to run our TwiML: nothing to signal."""

    async def answer(self) -> None:
        """The stream is the answered call."""

    async def hold(self) -> None:
        self.media.play(None)

    async def unhold(self) -> None:
        """Whoever holds the call plays to the leg again when it resumes."""

    def hangup(self) -> None:
        self._hangup()

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.media.play(source, on_done)

    def send_dtmf(self, digits: str) -> None:
        raise ValueError("Media Streams cannot send DTMF to the caller")

    def leg_media(self) -> LegMedia:
        """The stream's audio: taps in and out, play, tick."""
        return self.media
