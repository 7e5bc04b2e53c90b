"""Web chat: the service behind the widget's sockets and the agents' chat route.

    widget ──hello──▶ ChatService.identify ──▶ Visitor (our token, or the site's HMAC'd user)
    widget ──line───▶ rate limit ─▶ size cap ─▶ CaseStore.store_message(channel "chat",
                      external_id "<visitor id>:<widget's line id>")  (idempotent)
    agent ──POST────▶ ChatService.agent_line ─▶ store outbound on the case's open chat
                      ─▶ case event bus ─▶ every socket of that case (any node on the bus)
    widget ──ack────▶ update_message_status(delivered / read)

Everything a socket shows comes through the case's event bus (`cases.events`), the same one
the desk's live view reads, so an agent's line reaches the visitor's sockets wherever the
agent posted it. Typing indicators ride on the bus as `chat_typing` events and are not stored.

Identities: an anonymous visitor is the chat identity `visitor:<visitor id>` (unverified: our
token proves the browser, not the person); a visitor the site vouched for is `site:<user_id>`,
verified, and so joins that customer's case. The pre-chat form's email and phone become
unverified identities of the customer, never a reason to join someone else's case.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cases.errors import IdentityConflict, InvalidInput
from cases.events import EventBus
from cases.messages import MessageDraft, StoredMessage
from cases.store import CaseStore, InteractionRef
from channels.base import BadInbound, Refused
from channels.chat_call import ChatCalls
from channels.chat_config import ChatSettings
from channels.chat_protocol import Hello, Line, PreChat, ProtocolError, Say
from channels.chat_rate import Monotonic, RateLimits
from channels.chat_tokens import VisitorTokens, verify_user

log = logging.getLogger(__name__)

#: Our side of every chat message (the sender of agents' lines names the agent instead).
OUR_ADDRESS = "chat"
AGENT_PREFIX = "agent:"


class RateLimited(Refused):
    """The visitor sent too many lines; `retry_after` seconds until the next is accepted."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many messages; wait {retry_after:.0f} s", code="rate_limited")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Visitor:
    """Who is on a socket: `visitor_id` (from our token), the chat `address` naming the
    customer, whether the site vouched for it (`identified`), and the token to keep."""

    visitor_id: str
    address: str
    identified: bool
    token: str


def line_of(view: dict[str, Any], visitor_id: str) -> Line:
    """The widget's view of a stored chat message (no addresses, no agent names): the
    widget's own id of a line this visitor sent, so it can match its pending line."""
    prefix = f"{visitor_id}:"
    external = view.get("external_id")
    client_id = external[len(prefix):] if isinstance(external, str) and \
        external.startswith(prefix) else None
    sender = "visitor" if view["direction"] == "inbound" else "agent"
    return Line(view["id"], sender, view["body"], view.get("created_at"), view["status"],
                client_id)


class ChatService:
    """Identifies visitors, stores their lines, sends agents' lines (see the module doc)."""

    def __init__(self, store: CaseStore, bus: EventBus, tokens: VisitorTokens,
                 settings: ChatSettings, *, monotonic: Monotonic = time.monotonic,
                 calls: ChatCalls | None = None) -> None:
        self.store = store
        # "Call us" (channels.chat_call), or None when the widget offers no calls.
        self.calls = calls
        self.bus = bus
        self.tokens = tokens
        self.settings = settings
        self._limits = RateLimits(settings.rate_lines, settings.rate_seconds, monotonic)
        # Open sockets per case on this node: an agent's line to a case with one is "sent".
        self._sockets: Counter[int] = Counter()

    # -- visitors ------------------------------------------------------------------------

    def identify(self, hello: Hello) -> Visitor:
        """The visitor saying `hello`: theirs if the token verifies, else a new one; joined to
        the site's user only if `user_hash` matches (`Forged` otherwise)."""
        visitor_id = self.tokens.verify(hello.token) if hello.token else None
        if visitor_id is None:
            visitor_id, token = self.tokens.issue()
        else:
            token = hello.token or ""
        if hello.user_id is not None and hello.user_hash is not None:
            address = verify_user(self.settings.site_secrets, hello.user_id, hello.user_hash)
            return Visitor(visitor_id, address, True, token)
        return Visitor(visitor_id, f"visitor:{visitor_id}", False, token)

    async def conversation(self, visitor: Visitor) -> InteractionRef:
        """The visitor's open chat on their case (opened if there is none)."""
        return await self.store.open_text_interaction(
            channel="chat", address=visitor.address, verified=visitor.identified)

    async def existing_conversation(self, visitor: Visitor) -> InteractionRef | None:
        """The visitor's open chat on their case, if they have one (opens nothing)."""
        return await self.store.find_text_interaction(channel="chat", address=visitor.address)

    async def say(self, visitor: Visitor, line: Say) -> StoredMessage:
        """Store the visitor's line once (a resent id returns the stored one): `RateLimited`
        past the visitor's rate, `BadInbound` past the size cap, InvalidInput from the store."""
        if len(line.body) > self.settings.max_line_chars:
            raise ProtocolError(
                f"is {len(line.body)} characters; at most {self.settings.max_line_chars}", "body",
                code="too_long", client_id=line.id)
        wait = self._limits.take(visitor.visitor_id)
        if wait > 0:
            raise RateLimited(wait)
        return await self.store.store_message(MessageDraft(
            channel="chat", direction="inbound", sender=visitor.address, recipient=OUR_ADDRESS,
            body=line.body, external_id=f"{visitor.visitor_id}:{line.id}",
            verified=visitor.identified))

    async def prechat(self, visitor: Visitor, form: PreChat) -> InteractionRef:
        """Keep what the visitor typed in the form: email and phone as unverified identities
        (one another customer holds is left alone: a form proves nothing), the name as the
        customer's display name when they have none (else as a note beside it)."""
        ref = await self.conversation(visitor)
        for kind, value in (("email", form.email), ("phone", form.phone)):
            if value is None:
                continue
            try:
                await self.store.add_identity(ref.customer_id, kind=kind, value=value)
            except IdentityConflict:
                log.info("chat form: the %s given belongs to another customer; not added", kind)
            except InvalidInput as exc:
                raise BadInbound(exc.what, kind) from exc
        if form.name is not None:
            try:
                named = await self.store.name_customer(ref.customer_id, form.name)
            except InvalidInput as exc:
                raise BadInbound(exc.what, "name") from exc
            if not named:  # they have a name already: what they typed is kept beside it
                await self.store.add_note(ref.case_id, author="chat form",
                                          text=f"Name given in the chat form: {form.name}")
        return ref

    async def ack(self, message_id: int, status: str) -> None:
        """The widget showed (delivered) or the visitor saw (read) message `message_id`."""
        await self.store.update_message_status(status, message_id=message_id)

    async def history(self, case_id: int, after: int) -> list[dict[str, Any]]:
        """The case's chat messages with an id above `after`, oldest first."""
        timeline = await self.store.timeline(case_id)
        views = [e["message"] for e in timeline["entries"] if e["type"] == "message"
                 and e["message"]["channel"] == "chat" and e["message"]["id"] > after]
        return sorted(views, key=lambda v: int(v["id"]))

    async def typing(self, case_id: int, sender: str, active: bool) -> None:
        """Tell the case's viewers and sockets that `sender` (visitor / agent) is typing."""
        await self.bus.publish(f"case:{case_id}", {
            "type": "chat_typing", "case_id": case_id, "from": sender, "active": active})

    # -- sockets on this node ------------------------------------------------------------

    def socket_opened(self, case_id: int) -> None:
        """A visitor socket here follows case `case_id` (see `agent_line`)."""
        self._sockets[case_id] += 1

    def socket_closed(self, case_id: int) -> None:
        """A socket that followed case `case_id` stopped."""
        self._sockets[case_id] -= 1
        if self._sockets[case_id] <= 0:
            del self._sockets[case_id]

    # -- agents --------------------------------------------------------------------------

    async def agent_line(self, case_id: int, agent: str, body: str) -> dict[str, Any]:
        """Store an agent's line on the case's open chat; the bus takes it to the visitor's
        sockets. `Refused` when the case has no open chat. Its status is `sent` if a socket
        of the case is open here, else `queued` (the widget acks it when it connects)."""
        chat = await self.store.open_chat(case_id)
        if chat is None:
            raise Refused("the customer is not chatting on this case", code="no_chat")
        interaction_id, visitor = chat
        if visitor is None:
            raise Refused("the visitor has not written yet on this chat", code="no_chat")
        stored = await self.store.store_message(MessageDraft(
            channel="chat", direction="outbound", sender=AGENT_PREFIX + agent, recipient=visitor,
            body=body, interaction_id=interaction_id,
            status="sent" if self._sockets.get(case_id) else "queued"))
        return stored.view
