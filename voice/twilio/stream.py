"""One Media Streams socket from handshake to hang-up, and the service that runs them all.

    socket ──connected──start(token)──▶ grant ──▶ Call(CallSid, caller, dialed)
           ──media/dtmf/mark──▶ TwilioStreamLeg           handler(call): the same chain as
           ◀──media/mark/clear── writer task              a SIP call (IVR, queue, case,
           ──stop / close──▶ call ended                   transcription, recording)

The session is a small state machine (`StreamState`): HANDSHAKE until a valid `start`,
STREAMING while the call runs, ENDED after. A socket that does not send `start` within
`HANDSHAKE_TIMEOUT_S`, whose `start` is malformed, names another account, or carries no valid
one-time token (`voice.twilio.tokens`) is closed with 1008 and a reason before any Call
exists: nothing is stored for it. During the call a malformed frame is dropped and counted
(`bad_frames`), and the socket is closed after `MAX_BAD_FRAMES` of them. `stop` or a closed
socket ends the Call through its state machine (`ended("twilio-stop")` / `ended("socket-
closed")`), and the handler's own hang-up closes the socket.

Outbound frames go through a bounded queue to a writer task the session owns: the media tick
never awaits. A peer too slow to take 1 s of frames loses the oldest (`dropped_out`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from media.clock import Clock
from media.ticker import MediaTicker
from voice.call import Call, CallState, Direction
from voice.twilio.leg import TwilioCallLeg, TwilioStreamLeg
from voice.twilio.protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    StreamProtocolError,
    parse_inbound,
)
from voice.twilio.tokens import Grant, StreamTokens, TokenRefused

log = logging.getLogger(__name__)

CallHandler = Callable[[Call], Awaitable[None]]

HANDSHAKE_TIMEOUT_S = 10.0
MAX_BAD_FRAMES = 20
#: Outbound frames waiting for the socket: 50 is 1 s of audio; beyond it the oldest go.
MAX_OUT_QUEUE = 50
TOKEN_PARAMETER = "token"
POLICY_VIOLATION = 1008


class StreamSocket(Protocol):
    """What the session needs of a WebSocket (the web layer adapts aiohttp's)."""

    async def receive(self) -> str | bytes | None:
        """The next frame's data; None once the peer closed or the socket failed."""
        ...

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class StreamState(enum.Enum):
    HANDSHAKE = "handshake"
    STREAMING = "streaming"
    ENDED = "ended"


_MOVES = {
    StreamState.HANDSHAKE: {StreamState.STREAMING, StreamState.ENDED},
    StreamState.STREAMING: {StreamState.ENDED},
    StreamState.ENDED: set(),
}


class StreamRefused(Exception):
    """The handshake failed: why, in words fit for a log line and a close reason."""


@dataclass
class StreamStats:
    """Process-wide counters of the service (for metrics and tests)."""

    accepted: int = 0
    refused: int = 0
    bad_frames: int = 0
    dropped_out: int = 0


class StreamSession:
    """Runs one socket: `await session.run()` returns once the call is over."""

    def __init__(self, socket: StreamSocket, service: TwilioStreams) -> None:
        self.socket = socket
        self.service = service
        self.state = StreamState.HANDSHAKE
        self.call: Call | None = None
        self.media: TwilioStreamLeg | None = None
        self.stream_sid = ""
        self.bad_frames = 0
        self.dropped_out = 0
        self._out: deque[str] = deque()
        self._out_ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._closing = False
        self._grant: Grant | None = None
        # Our hang-up: flush, then close the socket (owned; awaited when the session ends).
        self._hangup: asyncio.Future[None] | None = None

    def _set_state(self, new: StreamState) -> None:
        old = self.state
        if new not in _MOVES[old]:
            raise RuntimeError(f"stream cannot go from {old.value} to {new.value}")
        self.state = new
        log.debug("twilio stream %s: %s -> %s", self.stream_sid or "-", old.value, new.value)

    # -- outbound -------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Queue a frame for the socket (called on the media tick: never blocks)."""
        if self._closing:
            return
        if len(self._out) >= MAX_OUT_QUEUE:
            self._out.popleft()
            self.dropped_out += 1
            self.service.stats.dropped_out += 1
        self._out.append(text)
        self._out_ready.set()

    async def _writer(self) -> None:
        while True:
            while not self._out:
                self._drained.set()
                self._out_ready.clear()
                await self._out_ready.wait()
            self._drained.clear()
            text = self._out.popleft()
            try:
                await self.socket.send(text)
            except (ConnectionError, RuntimeError):
                return  # the reader sees the socket go and ends the call

    def hangup(self) -> None:
        """Our side ends the call: what is queued goes out, then the socket closes, which
        ends the reader (and, no TwiML following the `<Connect>`, Twilio's call)."""
        if self._hangup is None:
            self._hangup = asyncio.ensure_future(self._flush_and_close())

    async def _flush_and_close(self) -> None:
        if self._out:
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._drained.wait()
        self._closing = True
        await self._close(1000, "call ended")

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.socket.close(code, reason)

    # -- the run --------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                start = await self._handshake()
        except (StreamRefused, TimeoutError) as exc:
            reason = str(exc) if isinstance(exc, StreamRefused) else \
                f"no start within {HANDSHAKE_TIMEOUT_S:g} s"
            self.service.stats.refused += 1
            log.warning("twilio stream refused: %s", reason)
            self._set_state(StreamState.ENDED)
            await self._close(POLICY_VIOLATION, reason[:120])
            return
        await self._stream(start)

    async def _handshake(self) -> Start:
        seen_connected = False
        while True:
            data = await self.socket.receive()
            if data is None:
                raise StreamRefused("the socket closed before start")
            try:
                message = parse_inbound(data)
            except StreamProtocolError as exc:
                raise StreamRefused(f"malformed frame before start ({exc})") from exc
            if isinstance(message, Connected) and not seen_connected:
                seen_connected = True
                continue
            if not isinstance(message, Start):
                raise StreamRefused(f"expected start, got {type(message).__name__.lower()}")
            break
        if message.account_sid != self.service.account_sid:
            raise StreamRefused("start names another Twilio account")
        if "inbound" not in message.tracks:
            raise StreamRefused("the stream carries no inbound track")
        try:
            grant = self.service.tokens.redeem(
                message.custom_parameters.get(TOKEN_PARAMETER), message.call_sid)
        except TokenRefused as exc:
            raise StreamRefused(str(exc)) from exc
        if grant.call_sid in self.service.live:
            # A retried webhook holds a second valid token; one call has one stream.
            raise StreamRefused("a stream for this call is already live")
        self._grant = grant
        return message

    async def _stream(self, start: Start) -> None:
        service = self.service
        self.stream_sid = start.stream_sid
        media = TwilioStreamLeg(start.stream_sid, self.send, service.clock.now)
        grant = self._grant
        assert grant is not None
        # The parties come from the verified webhook (the token), not from the stream's own
        # parameters. A call Twilio brings was checked by a signed webhook of our account:
        # it is trusted like a call from a configured trunk (voice.trust).
        call = Call(grant.call_sid, Direction.INBOUND, TwilioCallLeg(media, self.hangup),
                    caller=grant.caller, dialed=grant.dialed, trusted_by="twilio")
        media.on_digit(call.digit)
        self.call, self.media = call, media
        self._set_state(StreamState.STREAMING)
        service.stats.accepted += 1
        service.live[call.id] = self
        log.info("twilio stream %s: call %s started", start.stream_sid, call.id)
        writer = asyncio.ensure_future(self._writer())
        service.ticker.add(media)
        handler = asyncio.ensure_future(service.run_handler(call))
        try:
            cause = await self._read(media)
            call.ended(cause)
            await handler
        except asyncio.CancelledError:
            call.hangup("shutdown")
            raise
        finally:
            if call.state is not CallState.ENDED:
                call.hangup("handler-done")
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handler
            if self._hangup is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._hangup
            service.ticker.discard(media)
            media.close()
            service.live.pop(call.id, None)
            self._closing = True
            # What was queued (a last prompt's mark) goes out before the socket closes.
            if self._out and not writer.done():
                self._drained.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._drained.wait()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await self._close(1000, "call ended")
            self._set_state(StreamState.ENDED)
            stats = media.stats()
            log.info("twilio stream %s: call %s ended (%s); in %d played %d gaps %d late "
                     "%d underruns, out %d frames %d dropped, bad frames %d",
                     start.stream_sid, call.id, call.end_cause, stats.played, stats.gaps,
                     stats.late, stats.underruns, media.frames_out, self.dropped_out,
                     self.bad_frames)

    async def _read(self, media: TwilioStreamLeg) -> str:
        """Feed the leg until the stream stops; the call's end cause. One plain await per
        frame (no task per frame): our own hang-up closes the socket, which ends the read."""
        call = self.call
        assert call is not None
        try:
            while True:
                data = await self.socket.receive()
                if data is None:
                    return call.end_cause or "socket-closed"
                try:
                    message = parse_inbound(data)
                except StreamProtocolError as exc:
                    if self._bad(exc):
                        return "bad-frames"
                    continue
                if getattr(message, "stream_sid", self.stream_sid) != self.stream_sid:
                    if self._bad(StreamProtocolError("another stream's id", "streamSid")):
                        return "bad-frames"
                    continue
                if isinstance(message, Media):
                    if message.track == "inbound":
                        media.receive_media(message.timestamp, message.payload)
                elif isinstance(message, Dtmf):
                    media.receive_dtmf(message.digit)
                elif isinstance(message, Mark):
                    media.receive_mark(message.name)
                elif isinstance(message, Stop):
                    return "twilio-stop"
                else:
                    if self._bad(StreamProtocolError(
                            f"{type(message).__name__.lower()} after start", "event")):
                        return "bad-frames"
        finally:
            if call.state is not CallState.ENDED:
                call.ended("socket-closed")  # whatever stopped the read, the call is over

    def _bad(self, exc: StreamProtocolError) -> bool:
        """Count a malformed frame; True when there have been too many to go on."""
        self.bad_frames += 1
        self.service.stats.bad_frames += 1
        if self.bad_frames == 1:
            # What and where only: the frame itself may carry audio or digits.
            log.warning("twilio stream %s: malformed frame dropped: %s", self.stream_sid, exc)
        if self.bad_frames >= MAX_BAD_FRAMES:
            log.warning("twilio stream %s: %d malformed frames; closing", self.stream_sid,
                        self.bad_frames)
            return True
        return False


class TwilioStreams:
    """Every Media Streams socket of the server: tokens, the live sessions, their tasks.

    `handler` is the server's call handler, the very one SIP calls run through."""

    def __init__(self, *, account_sid: str, tokens: StreamTokens, ticker: MediaTicker,
                 clock: Clock, handler: CallHandler) -> None:
        self.account_sid = account_sid
        self.tokens = tokens
        self.ticker = ticker
        self.clock = clock
        self.handler = handler
        self.live: dict[str, StreamSession] = {}
        self.stats = StreamStats()
        # The tasks serving sockets (the web layer's request tasks), awaited at `close()`.
        self._tasks: set[asyncio.Task[object]] = set()

    def issue_token(self, call_sid: str, caller: str, dialed: str) -> str:
        return self.tokens.issue(call_sid, caller, dialed)

    async def run_socket(self, socket: StreamSocket) -> None:
        """Serve one upgraded socket until its call is over."""
        session = StreamSession(socket, self)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def run_handler(self, call: Call) -> None:
        try:
            await self.handler(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: handler failed; hanging up", call.id)
            call.hangup("handler-error")

    def end(self, call_sid: str, cause: str) -> bool:
        """End the live call `call_sid` (a status callback said it is over)."""
        session = self.live.get(call_sid)
        if session is None or session.call is None:
            return False
        session.call.hangup(cause)
        return True

    async def close(self) -> None:
        """Hang up every stream and wait for their sessions."""
        for session in list(self.live.values()):
            if session.call is not None:
                session.call.hangup("shutdown")
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
