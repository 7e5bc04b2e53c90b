"""A pjsua2 Call that wires a WAV player and recorder to its audio, and keeps score.

Both worker modes use :class:`MediaCall`.  Its callbacks run on the main thread
(see :mod:`voice.pjsua.endpoint`), and never raise into PJSIP: a failure is kept
in :attr:`MediaCall.error` for the mode's loop to report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

Clock = Callable[[], float]


class MediaCall(pj.Call):  # type: ignore[misc]
    """One call leg with optional WAV playback into it and recording out of it."""

    def __init__(
        self,
        account: Any,
        call_id: int = pj.PJSUA_INVALID_ID,
        *,
        play: str | None = None,
        record: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(account, call_id)
        self.play_path = play
        self.record_path = record
        self._clock = clock
        # pjsua2 owns the ports by raw pointer; these references keep them alive
        # until release_media() deletes them, before the call itself goes.
        self._player: Any = None
        self._recorder: Any = None
        self.status = 0
        self.reason = ""
        self.remote_uri = ""
        self.connected_at: float | None = None
        self.ended_at: float | None = None
        self.hangup_sent = False
        self.dtmf_received = ""
        self.error: str | None = None

    # -- derived state -------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True once the call was confirmed (it may have ended since)."""
        return self.connected_at is not None

    @property
    def ended(self) -> bool:
        """True once PJSIP reported the call disconnected."""
        return self.ended_at is not None

    @property
    def duration(self) -> float:
        """Seconds connected: answer to disconnect, or to now if still up."""
        if self.connected_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else self._clock()
        return round(end - self.connected_at, 3)

    @property
    def remote_hangup(self) -> bool:
        """True when the call ended without this side hanging up."""
        return self.ended and not self.hangup_sent

    # -- actions ---------------------------------------------------------------

    def hangup_now(self, code: int = 0) -> None:
        """Hang up (BYE, CANCEL or a final response, as the state requires)."""
        if self.ended or self.hangup_sent:
            return
        self.hangup_sent = True
        prm = pj.CallOpParam(True)
        if code:
            prm.statusCode = code
        try:
            self.hangup(prm)
        except pj.Error as exc:
            self._fail(f"hangup failed: {exc.info()}")

    def send_dtmf(self, digits: str) -> bool:
        """Send ``digits`` as RFC 4733 events; return False (and keep the error) on failure."""
        prm = pj.CallSendDtmfParam()
        prm.digits = digits
        prm.method = pj.PJSUA_DTMF_METHOD_RFC2833
        try:
            self.sendDtmf(prm)
        except pj.Error as exc:
            self._fail(f"DTMF not sent: {exc.info()}")
            return False
        return True

    def release_media(self) -> None:
        """Stop and delete the player and recorder (closing the WAV header)."""
        self._player = None
        self._recorder = None

    # -- pjsua2 callbacks ------------------------------------------------------

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 name
        try:
            info = self.getInfo()
        except pj.Error as exc:
            self._fail(f"getInfo failed: {exc.info()}")
            return
        self.status = int(info.lastStatusCode)
        self.reason = str(info.lastReason)
        self.remote_uri = str(info.remoteUri)
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.connected_at is None:
            self.connected_at = self._clock()
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended_at = self._clock()
            self.release_media()

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 name
        try:
            info = self.getInfo()
            for index, media in enumerate(info.media):
                if (
                    media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE
                ):
                    self._attach(self.getAudioMedia(index))
                    return
        except pj.Error as exc:
            self._fail(f"media setup failed: {exc.info()}")

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802 - pjsua2 name
        self.dtmf_received += str(prm.digit)

    # -- internals ---------------------------------------------------------------

    def _attach(self, audio: Any) -> None:
        # Recording starts the moment media is up, so a prompt played at answer
        # is not clipped; a re-INVITE re-attaches to the new stream port.
        if self.record_path is not None:
            if self._recorder is None:
                self._recorder = pj.AudioMediaRecorder()
                self._recorder.createRecorder(self.record_path)
            audio.startTransmit(self._recorder)
        if self.play_path is not None:
            if self._player is None:
                self._player = pj.AudioMediaPlayer()
                self._player.createPlayer(self.play_path, pj.PJMEDIA_FILE_NO_LOOP)
            self._player.startTransmit(audio)
        else:
            # Like a phone with a silent microphone: the (null) capture device feeds the call,
            # so the stream is clocked and sends RTP. Without any port connected PJSIP sends
            # neither audio nor the RFC 4733 digits, which ride the same stream.
            pj.Endpoint.instance().audDevManager().getCaptureDevMedia().startTransmit(audio)

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
        print(f"pjsua worker: {message}", file=sys.stderr)
