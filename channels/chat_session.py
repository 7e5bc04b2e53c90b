"""One widget socket's conversation: its frames in, the case's chat out.

`ChatConversation.handle(frame)` takes each frame the socket received, in order; what the
visitor should see goes out through `send` (one JSON text per frame). Until the case is
known nothing is subscribed; from then on a task owned here (`close()` cancels and awaits
it) forwards the case's chat events: lines (both directions: the visitor's other tabs see
theirs), delivery statuses and the agent's typing.

Resume: the widget says `last_seen` in its hello; the conversation subscribes to the case
first and then replays the stored chat lines after `last_seen`, so nothing published in
between is missed, and every line is shown once (`_shown`).

A frame that cannot be used gets an `error` frame and nothing else happens: the socket stays
open and what is stored stays stored. Only a forged site identity ends the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cases.errors import CaseError, InvalidInput, NotFound
from cases.events import Subscription
from channels.base import BadInbound, Forged, Refused
from channels.chat import ChatService, RateLimited, Visitor, line_of
from channels.chat_call import CallRefused, PlacedCall
from channels.chat_protocol import (
    Ack,
    AgentTyping,
    CallOffer,
    CallUpdate,
    Error,
    HangUp,
    Hello,
    Keys,
    PreChat,
    ProtocolError,
    Receipt,
    Say,
    Status,
    Typing,
    Welcome,
    parse,
)

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
# The ids a socket has shown, for acks and de-duplication: a chat is far shorter than this.
_MAX_SHOWN = 50_000
# Events waiting for one slow socket (STYLE.md §6): a chat produces a few a second, and
# thousands of sockets each hold a queue. Past it the oldest go (typing, mostly), counted,
# and the stored lines are replayed from the case store, so none is lost to the visitor.
SOCKET_QUEUE = 64


class ChatConversation:
    """A socket's side of the chat (see the module doc). `done` after a forged identity."""

    def __init__(self, service: ChatService, send: Send) -> None:
        self._service = service
        self._send_text = send
        self._lock = asyncio.Lock()  # one frame at a time from the reader and the forwarder
        self.visitor: Visitor | None = None
        self.case_id: int | None = None
        self._last_seen = 0
        self._shown: set[int] = set()
        self._outbound: set[int] = set()
        self._forwarder: asyncio.Task[None] | None = None
        self._retired: asyncio.Task[None] | None = None  # the forwarder a merge replaced
        self._typing = False
        # The call this socket placed ("call us") and the task that reports its end.
        self.call: PlacedCall | None = None
        self._call_watch: asyncio.Task[None] | None = None
        self.done = False

    async def _send(self, message: Any) -> None:
        async with self._lock:
            await self._send_text(message.to_json())

    async def handle(self, frame: str | bytes) -> None:
        """Act on one frame; errors become `error` frames (see the module doc)."""
        client_id: str | None = None
        try:
            message = parse(frame)
            if isinstance(message, Say):
                client_id = message.id
            await self._dispatch(message)
        except Forged as exc:
            log.info("chat: site identity refused")
            await self._send(Error("forged_identity", str(exc), "user_hash"))
            self.done = True
        except ProtocolError as exc:
            await self._send(Error(exc.code, exc.what, exc.where, exc.client_id))
        except RateLimited as exc:
            await self._send(Error(exc.code, exc.reason, client_id=client_id,
                                   retry_after=round(exc.retry_after, 1)))
        except BadInbound as exc:
            await self._send(Error("invalid_input", exc.what, exc.where, client_id))
        except Refused as exc:
            await self._send(Error(exc.code, exc.reason, client_id=client_id))
        except InvalidInput as exc:
            await self._send(Error("invalid_input", exc.what, exc.where, client_id))
        except CaseError as exc:
            log.warning("chat: case store unavailable: %s", type(exc).__name__)
            await self._send(Error("storage_unavailable",
                                   "the message could not be stored; it will be sent again",
                                   client_id=client_id))

    async def _dispatch(
        self, message: Hello | Say | Typing | Ack | PreChat | CallOffer | HangUp | Keys,
    ) -> None:
        if isinstance(message, Hello):
            if self.visitor is not None:
                raise ProtocolError("was said already on this socket", "type")
            await self._hello(message)
            return
        visitor = self.visitor
        if visitor is None:
            raise ProtocolError("the first frame must be a hello", "type")
        if isinstance(message, Say):
            stored = await self._service.say(visitor, message)
            await self._send(Receipt(message.id, stored.message_id, not stored.created))
            if self.case_id is None:
                await self._attach(stored.case_id)
            elif stored.case_id != self.case_id:
                await self._switch(stored.case_id)  # the case was closed: a new one opened
        elif isinstance(message, PreChat):
            ref = await self._service.prechat(visitor, message)
            if self.case_id is None:
                await self._attach(ref.case_id)
        elif isinstance(message, CallOffer):
            await self._place_call(visitor, message)
        elif isinstance(message, HangUp):
            if self.call is not None:
                self.call.hangup("caller-hung-up")
        elif isinstance(message, Keys):
            if self.call is None:
                raise ProtocolError("there is no call on this socket to press keys in", "type")
            self.call.press(message.digits)
        elif isinstance(message, Typing):
            if self.case_id is not None and message.active != self._typing:
                self._typing = message.active
                await self._service.typing(self.case_id, "visitor", message.active)
        elif message.id in self._outbound:
            with contextlib.suppress(NotFound):
                await self._service.ack(message.id, message.status)
        else:
            raise ProtocolError("is not an agent's line shown on this socket", "id")

    async def _hello(self, hello: Hello) -> None:
        visitor = self._service.identify(hello)
        self.visitor = visitor
        await self._send(Welcome(visitor.token, visitor.identified,
                                 calls=True if self._service.calls is not None else None))
        if hello.last_seen is not None or visitor.identified:
            # A returning widget, or a known user: their conversation, from where it was.
            # Only an open one: a page load is not a conversation (the first line opens it),
            # or every page a signed-in user views would open a chat for an agent.
            self._last_seen = hello.last_seen or 0
            ref = await self._service.existing_conversation(visitor)
            if ref is not None:
                await self._attach(ref.case_id)

    async def _place_call(self, visitor: Visitor, offer: CallOffer) -> None:
        """"Call us": a call into the IVR on the customer's case (`channels.chat_call`);
        the widget gets the answer SDP, then the call's end, or why it was refused."""
        calls = self._service.calls
        if calls is None:
            await self._send(CallUpdate("refused", code="unavailable",
                                        message="calls are not offered on this chat"))
            return
        if self.call is not None:
            await self._send(CallUpdate("refused", code="busy",
                                        message="a call from this chat is already going on"))
            return
        # The call goes on the chat's case: the visitor's open conversation (opened now if
        # they call before writing anything), followed by this socket as a line would be.
        ref = await self._service.existing_conversation(visitor) \
            or await self._service.conversation(visitor)
        if self.case_id is None:
            await self._attach(ref.case_id)
        try:
            placed = await calls.start(visitor.visitor_id, ref.customer_id, offer.sdp)
        except CallRefused as exc:
            await self._send(CallUpdate("refused", code=exc.code, message=exc.reason,
                                        retry_after=None if exc.retry_after is None
                                        else round(exc.retry_after, 1)))
            return
        self.call = placed
        try:
            await self._send(CallUpdate("answered", sdp=placed.answer_sdp))
        finally:
            self._call_watch = asyncio.create_task(self._watch_call(visitor.visitor_id, placed))

    async def _watch_call(self, visitor_id: str, placed: PlacedCall) -> None:
        agent = asyncio.ensure_future(self._tell_agent(placed))
        try:
            cause = await placed.wait_ended()
            agent.cancel()  # "agent" never follows "ended"
            with contextlib.suppress(asyncio.CancelledError):
                await agent
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(CallUpdate("ended", message=cause))
        finally:
            agent.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent
            if self._service.calls is not None:
                self._service.calls.ended(visitor_id)
            if self.call is placed:
                self.call = None

    async def _tell_agent(self, placed: PlacedCall) -> None:
        await placed.wait_agent()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(CallUpdate("agent"))

    async def _attach(self, case_id: int) -> None:
        """Follow case `case_id`: subscribe, then replay what the widget has not seen."""
        self.case_id = case_id
        self._service.socket_opened(case_id)
        subscription = self._service.bus.subscribe(f"case:{case_id}", maxsize=SOCKET_QUEUE)
        await subscription.__aenter__()
        # Subscribed first, so nothing published meanwhile is missed; forwarded only after
        # the replay, so a live line never overtakes the older ones being replayed (the
        # subscription holds it, and `_show` skips what the replay already showed).
        try:
            for view in await self._service.history(case_id, self._last_seen):
                await self._show(view)
        except BaseException:
            await subscription.__aexit__(None, None, None)
            raise
        self._forwarder = asyncio.create_task(self._forward(subscription))

    async def _forward(self, subscription: Subscription) -> None:
        lost = 0
        try:
            async for event in subscription:
                if not await self._on_event(event):
                    break
                if subscription.dropped > lost and self.case_id is not None:
                    # The socket fell behind (a slow network) and the bus dropped the oldest
                    # events: replay from the store what may be missing, shown once.
                    lost = subscription.dropped
                    for view in await self._service.history(self.case_id, self._last_seen):
                        await self._show(view)
        except ConnectionError:
            log.debug("chat: socket closed while forwarding")  # the reader ends it too
        finally:
            await subscription.__aexit__(None, None, None)

    async def _on_event(self, event: dict[str, Any]) -> bool:
        """Forward one case event; False once the conversation follows another case."""
        kind = event.get("type")
        view = event.get("message")
        target = event.get("target_case_id")
        if kind == "case_merged" and event.get("source_case_id") == self.case_id \
                and isinstance(target, int) and target != self.case_id:
            await self._follow(target)
            return False
        if kind == "message" and isinstance(view, dict):
            await self._show(view)
        elif kind == "message_status" and isinstance(view, dict) and view["id"] in self._shown:
            await self._send(Status(view["id"], view["status"]))
        elif kind == "chat_typing" and event.get("from") == "agent":
            await self._send(AgentTyping(bool(event.get("active"))))
        return True

    async def _switch(self, case_id: int) -> None:
        """Follow `case_id` instead of the current case (from the reader: the old forwarder
        is stopped and awaited first)."""
        task, self._forwarder = self._forwarder, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.case_id is not None:
            self._service.socket_closed(self.case_id)
        self._last_seen = max(self._shown, default=self._last_seen)
        await self._attach(case_id)

    async def _follow(self, case_id: int) -> None:
        """The visitor's case was merged into `case_id` (an agent found they are a known
        customer): follow that one from now on, from the newest line shown. Runs in the old
        forwarder, which ends when this returns; the new one is owned the same way."""
        if self.case_id is not None:
            self._service.socket_closed(self.case_id)
        self._last_seen = max(self._shown, default=self._last_seen)
        self._retired = self._forwarder
        await self._attach(case_id)

    async def _show(self, view: dict[str, Any]) -> None:
        if view.get("channel") != "chat" or view["id"] in self._shown or self.visitor is None:
            return
        if len(self._shown) < _MAX_SHOWN:
            self._shown.add(view["id"])
            if view["direction"] == "outbound":
                self._outbound.add(view["id"])
        await self._send(line_of(view, self.visitor.visitor_id))

    async def close(self) -> None:
        """Stop forwarding (the socket closed) and hang up its call; idempotent."""
        if self.call is not None:
            self.call.hangup("chat-closed")  # a reload or a closed tab ends the call
        watch, self._call_watch = self._call_watch, None
        if watch is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        task, self._forwarder = self._forwarder, None
        for owned in (task, self._retired):
            if owned is not None:
                owned.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await owned
        if self.case_id is not None and task is not None:
            if self._typing:
                with contextlib.suppress(CaseError):
                    await self._service.typing(self.case_id, "visitor", False)
            self._service.socket_closed(self.case_id)
