"""One open desk over a WebSocket: the `DeskLink` the desk service sends through.

    service.send(msg) ──► bounded queue ──► writer task ──► WebSocket ──► page
    page ──► WebSocket ──► reader task: parse ──► ping: pong
                                              └─► service.command(link, cmd)
                                                  DeskError / DeskProtocolError ──► error msg

The desk asks `still_authorized` (its login session is still live and its user unchanged, or
its bearer token not revoked, see `web.socket_login`) before each message from the page,
before each message to it, and every `recheck` seconds whatever happens: a desk whose agent
was logged out, disabled or given a new password elsewhere, or whose token was revoked, is
closed with `LOGGED_OUT` within seconds, its owner tells the service it is gone (so it is
offered no more calls), and the page goes to the login page.

`send` never waits: a desk whose queue is full (the page stopped reading, or the network
did) is closed with `SLOW` and everything sent to it after that is dropped, so one stuck
browser never holds up routing. Commands of one desk run one at a time, in order; a command
still running when the desk closes is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from web.desk.protocol import (
    DeskError,
    DeskProtocolError,
    DeskService,
    Ping,
    error_message,
    parse_command_text,
)
from web.socket_login import LOGGED_OUT, RECHECK_S, Authorized, watch_login

log = logging.getLogger(__name__)

# Messages to one desk are control messages (a hello, an offer, call updates, transcript
# notices go through the case socket): a page that is reading keeps this near empty. 64
# covers a burst (a directory update while a call changes phase) with room to spare; a page
# that lets it fill is gone, and stale call states are worse than a reconnect's fresh hello.
SEND_QUEUE = 64

# Close codes the page understands (4000-4999 are the application's).
REPLACED = 4000  # the agent opened the desk elsewhere: do not reconnect
SLOW = 4008  # the send queue overflowed: reconnect for a fresh hello
REFUSED = 4003  # the service refused the desk (e.g. the user is not an agent)
# LOGGED_OUT (4401) is `web.socket_login`'s: the desk's login ended, log in again.


class DeskConnection:
    """One agent's desk on one WebSocket; implements `DeskLink`.

    The owner (the WebSocket handler) runs `serve()` and, once it returns, tells the
    service `disconnect`, sets `done` and closes the socket with `close_reason`.
    """

    def __init__(
        self,
        agent_id: str,
        ws: web.WebSocketResponse,
        service: DeskService,
        *,
        queue_size: int = SEND_QUEUE,
        still_authorized: Authorized | None = None,
        recheck: float = RECHECK_S,
    ) -> None:
        self.agent_id = agent_id
        self._authorized = still_authorized
        self._recheck = recheck
        self._ws = ws
        self._service = service
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_size)
        self._stop = asyncio.Event()
        self._close: tuple[int, str] | None = None
        #: Messages dropped because the desk was closing or its queue was full.
        self.dropped = 0
        #: Set by the owner once the service has been told the desk is gone.
        self.done = asyncio.Event()

    def __repr__(self) -> str:
        return f"<DeskConnection {self.agent_id}>"

    @property
    def closing(self) -> bool:
        """True once the desk is being closed (by anyone)."""
        return self._close is not None

    async def send(self, message: dict[str, Any]) -> None:
        """Queue `message` for the page; never waits (see module doc)."""
        if self._close is not None:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("desk of %s stopped reading (%d queued); closing it",
                        self.agent_id, self._queue.qsize())
            self.close_soon(SLOW, "too slow")

    def close_soon(self, code: int, reason: str) -> None:
        """Ask `serve()` to close the socket with `code`; the first reason given wins."""
        if self._close is None:
            self._close = (code, reason)
        self._stop.set()

    async def serve(self) -> None:
        """Read commands and write queued messages until either side closes or someone
        calls `close_soon`; the socket is left for the owner to close."""
        reader = asyncio.create_task(self._read(), name=f"desk-read-{self.agent_id}")
        writer = asyncio.create_task(self._write(), name=f"desk-write-{self.agent_id}")
        stopper = asyncio.create_task(self._stop.wait(), name=f"desk-stop-{self.agent_id}")
        tasks: tuple[asyncio.Task[Any], ...] = (reader, writer, stopper)
        if self._authorized is not None:
            tasks += (asyncio.create_task(
                watch_login(self._authorized, self._logged_out, interval=self._recheck,
                            what=f"desk of {self.agent_id}"),
                name=f"desk-login-{self.agent_id}"),)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("desk of %s failed", self.agent_id, exc_info=result)
                    self.close_soon(WSCloseCode.INTERNAL_ERROR, "internal error")
            # Stop queueing: the owner closes the socket with `close_reason` once the service
            # knows the desk is gone (the close handshake may wait on a peer that is not
            # reading; a replacing desk must not).
            self.close_soon(WSCloseCode.OK, "")

    @property
    def close_reason(self) -> tuple[int, str]:
        """The close code and reason the socket gets (normal closure until someone sets one)."""
        return self._close or (WSCloseCode.OK, "")

    def _logged_out(self) -> None:
        self.close_soon(LOGGED_OUT, "logged out")

    async def _still_authorized(self, *, fresh: bool = True) -> bool:
        if self._authorized is None or await self._authorized(fresh=fresh):
            return True
        log.info("desk of %s: its login ended; closing it", self.agent_id)
        self._logged_out()
        return False

    async def _write(self) -> None:
        while True:
            message = await self._queue.get()
            if not await self._still_authorized(fresh=False):
                return  # nothing more reaches a page whose login ended
            try:
                await self._ws.send_json(message)
            except ConnectionResetError:
                return

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) \
                    and not await self._still_authorized():
                return
            if msg.type == WSMsgType.TEXT:
                await self._handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await self.send(error_message("invalid_message", "commands are JSON text frames"))
            elif msg.type == WSMsgType.ERROR:
                return

    async def _handle(self, text: str) -> None:
        try:
            command = parse_command_text(text)
        except DeskProtocolError as exc:
            await self.send(exc.to_json())
            return
        if isinstance(command, Ping):
            await self.send({"type": "pong"})
            return
        try:
            await self._service.command(self, command)
        except DeskError as exc:
            await self.send({**exc.to_json(), "command": command.TYPE})
        except asyncio.CancelledError:
            raise
        except Exception:
            # The boundary: one failed command must not take the agent's desk down with it.
            # The command's fields stay out of the log (digits, notes).
            log.exception("desk command %r of %s failed", command.TYPE, self.agent_id)
            await self.send({**error_message("internal", "the command failed on the server"),
                             "command": command.TYPE})


async def close_quietly(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    """Close `ws` if it is still open; a peer already gone is fine."""
    with contextlib.suppress(ConnectionResetError):
        await ws.close(code=code, message=reason.encode())
