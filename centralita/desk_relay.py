"""Desks on other nodes: an agent's page connected to node B takes a call waiting on node A.

Several nodes share the routing state in Redis, so node A's ACD may pick an agent whose desk
socket is open on node B. Media stays on the node that owns the call: A rings the desk through
B, and when the agent accepts, A answers the page's WebRTC offer itself, so the page's audio
flows with A (A's addresses are in its answer; the page never needed to know where the call
was). Everything in between is relayed over the event bus (`cases.redis_bus`, topics that
cross nodes):

- `desks:presence`: which node holds each agent's desk (also in the Redis hash `<prefix>desks`
  for a node that starts later). A desk that opens claims its agent; one that closes gives it
  up if it is still the holder (a newer page elsewhere wins).
- `node:<id>`: one node's inbox. `push` carries a desk message (offer, answer, call updates,
  state, errors) to the node holding the desk, which sends it to the page; `command` carries a
  desk command (accept, hang up, hold, wrap-up...) from that node to the node that owns the
  offer or the call.

The holder learns from what it relays which node owns an agent's offer and call, so it knows
where each command goes: an accept to the node that sent the offer, a call control to the
node whose call updates it relays, a wrap-up to the node of the last call. Commands it can
serve itself (its own calls, agent state) never leave it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from cases.events import Payload
from cases.redis_bus import RedisBus
from common.tasks import cancel
from web.desk.protocol import (
    Accept,
    Consult,
    ConsultCancel,
    ConsultComplete,
    Decline,
    DeskCommand,
    Hangup,
    Hold,
    Mute,
    Rejoin,
    SendDtmf,
    Transfer,
    Wrapup,
)

log = logging.getLogger(__name__)

PRESENCE_TOPIC = "desks:presence"
_CALL_CONTROLS = (Mute, Hold, SendDtmf, Hangup, Transfer, Consult, ConsultComplete,
                  ConsultCancel, Rejoin)


class RelayedHub(Protocol):
    """What the relay needs of `centralita.desk.DeskHub`."""

    async def deliver(self, agent_id: str, message: dict[str, Any]) -> None: ...

    async def remote_command(self, agent_id: str, data: dict[str, Any],
                             reply: Callable[[dict[str, Any]], Awaitable[None]]) -> None: ...


class DeskRelay:
    """See the module doc. `start(hub)` before use, `close()` at the end."""

    def __init__(self, bus: RedisBus, *, key_prefix: str) -> None:
        self.bus = bus
        self.node_id = bus.node_id
        self._key = key_prefix + "desks"
        self.where: dict[str, str] = {}  # agent -> node holding their desk
        self.offers: dict[str, str] = {}  # offer id -> node that made it (relayed here)
        self.calls: dict[str, str] = {}  # agent -> node of their call now
        self.last_calls: dict[str, str] = {}  # agent -> node of their last call (wrap-up)
        self._hub: RelayedHub | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, hub: RelayedHub) -> None:
        self._hub = hub
        ready: list[asyncio.Future[None]] = []
        for topic in (PRESENCE_TOPIC, f"node:{self.node_id}"):
            entered = asyncio.get_running_loop().create_future()
            ready.append(entered)
            self._readers.append(asyncio.create_task(self._follow(topic, entered),
                                                     name=f"desk-relay-{topic}"))
        await asyncio.gather(*ready)
        try:
            holders = await self.bus.redis.hgetall(self._key)
        except RedisError as exc:
            log.error("desk relay: cannot read where the desks are: %s", exc)
            holders = {}
        for agent, node in holders.items():
            self.where.setdefault(_text(agent), _text(node))

    async def close(self) -> None:
        await cancel(*self._readers)
        self._readers.clear()

    # -- presence ------------------------------------------------------------------------------
    def node_of(self, agent_id: str) -> str | None:
        """The other node holding `agent_id`'s desk, None if it is here or nowhere."""
        node = self.where.get(agent_id)
        return node if node != self.node_id else None

    async def claim(self, agent_id: str) -> None:
        self.where[agent_id] = self.node_id
        try:
            await self.bus.redis.hset(self._key, agent_id, self.node_id)
        except RedisError as exc:
            log.error("desk relay: cannot record a desk: %s", exc)
        await self.bus.publish(PRESENCE_TOPIC, {"agent": agent_id, "node": self.node_id})

    async def release(self, agent_id: str) -> None:
        if self.where.get(agent_id) != self.node_id:
            return  # a newer page on another node holds it
        self.where.pop(agent_id, None)
        try:
            holder = await self.bus.redis.hget(self._key, agent_id)
            if holder is not None and _text(holder) == self.node_id:
                await self.bus.redis.hdel(self._key, agent_id)
        except RedisError as exc:
            log.error("desk relay: cannot drop a desk: %s", exc)
        await self.bus.publish(PRESENCE_TOPIC, {"agent": agent_id, "node": None,
                                                "was": self.node_id})

    # -- messages to a desk elsewhere ----------------------------------------------------------
    async def push(self, agent_id: str, message: dict[str, Any]) -> bool:
        """Send `message` to the agent's desk on another node; False if there is none."""
        node = self.node_of(agent_id)
        if node is None:
            return False
        await self.bus.publish(f"node:{node}", {"op": "push", "agent": agent_id,
                                                "from": self.node_id, "message": message})
        return True

    # -- commands from a desk here to the node that owns what they act on ----------------------
    def owner_of(self, agent_id: str, command: DeskCommand, *, local: bool) -> str | None:
        """The node to forward `command` to, or None to handle it here. `local`: this node
        has the offer or call the command is about."""
        if local:
            return None
        if isinstance(command, Accept | Decline):
            return self.offers.get(command.offer_id)
        if isinstance(command, _CALL_CONTROLS):
            return self.calls.get(agent_id)
        if isinstance(command, Wrapup):
            return self.last_calls.get(agent_id)
        return None

    async def forward(self, node: str, agent_id: str, command: DeskCommand) -> None:
        await self.bus.publish(f"node:{node}", {"op": "command", "agent": agent_id,
                                                "from": self.node_id,
                                                "command": command.to_json()})

    # -- reading -------------------------------------------------------------------------------
    async def _follow(self, topic: str, entered: asyncio.Future[None]) -> None:
        async with self.bus.subscribe(topic) as events:
            entered.set_result(None)
            async for payload in events:
                try:
                    await self._on(topic, payload)
                except Exception:
                    log.exception("desk relay: a relayed message failed")

    async def _on(self, topic: str, payload: Payload) -> None:
        if topic == PRESENCE_TOPIC:
            self._presence(payload)
            return
        agent, source = payload.get("agent"), payload.get("from")
        if not isinstance(agent, str) or not isinstance(source, str) or self._hub is None:
            return
        if payload.get("op") == "push" and isinstance(payload.get("message"), dict):
            message: dict[str, Any] = payload["message"]
            self._learn(agent, source, message)
            await self._hub.deliver(agent, message)
        elif payload.get("op") == "command" and isinstance(payload.get("command"), dict):

            async def reply(message: dict[str, Any]) -> None:
                await self.bus.publish(f"node:{source}", {
                    "op": "push", "agent": agent, "from": self.node_id, "message": message})

            await self._hub.remote_command(agent, payload["command"], reply)

    def _presence(self, payload: Payload) -> None:
        agent, node = payload.get("agent"), payload.get("node")
        if not isinstance(agent, str):
            return
        if isinstance(node, str):
            self.where[agent] = node
        elif self.where.get(agent) == payload.get("was"):
            self.where.pop(agent, None)

    def _learn(self, agent_id: str, node: str, message: dict[str, Any]) -> None:
        """Which node owns what the relayed message is about (see `owner_of`)."""
        kind = message.get("type")
        if kind == "offer" and isinstance(message.get("offer_id"), str):
            self.offers[message["offer_id"]] = node
            if len(self.offers) > 1000:  # offers end; keep the newest only
                for old in list(self.offers)[:500]:
                    del self.offers[old]
        elif kind == "call":
            if message.get("phase") == "ended":
                self.calls.pop(agent_id, None)
                self.last_calls[agent_id] = node
            else:
                self.calls[agent_id] = node


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
