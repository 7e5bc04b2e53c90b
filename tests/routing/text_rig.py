"""The text router's test rig: the ACD rig (fake clock, fake connector) with a `TextRouter`
over an in-memory case store that keeps text interactions as the real one does, and the
desk messages each agent was sent."""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from routing.conversations import TextRouter
from tests.routing.acd_rig import Rig, WallClock, settle


@dataclass(frozen=True)
class Row:
    """`routing.conversations.TextInteraction` as `cases.text_interactions` gives it."""

    id: int
    case_id: int
    channel: str
    started_at: datetime
    ended_at: datetime | None = None
    agent: str | None = None
    queue: str | None = None
    customer: str | None = None
    last_inbound_at: datetime | None = None
    last_outbound_at: datetime | None = None
    previous_agent: str | None = None
    previous_ended_at: datetime | None = None


class FakeTextCases:
    """Text interactions in memory: a message on a case with no open interaction of its
    channel opens one (as `CaseStore.store_message` does); ending one is final."""

    def __init__(self, wall: WallClock) -> None:
        self.wall = wall
        self.rows: dict[int, Row] = {}
        self.ids = itertools.count(100)
        self.ended: list[tuple[int, str]] = []

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def open_on(self, case_id: int, channel: str) -> Row:
        for row in self.rows.values():
            if row.case_id == case_id and row.channel == channel and row.ended_at is None:
                return row
        row = Row(next(self.ids), case_id, channel, self._now())
        self.rows[row.id] = row
        return row

    async def text_interactions(self, *, interaction_id: int | None = None) -> Collection[Row]:
        found = [r for r in self.rows.values()
                 if (r.ended_at is None if interaction_id is None else r.id == interaction_id)]
        out = []
        for row in found:
            before = [r for r in self.rows.values() if r.case_id == row.case_id
                      and r.ended_at is not None and r.agent is not None and r.id != row.id]
            last = max(before, key=lambda r: r.ended_at or self._now(), default=None)
            out.append(replace(row, previous_agent=last.agent if last else None,
                               previous_ended_at=last.ended_at if last else None))
        return out

    async def set_text_interaction(self, interaction_id: int, *, agent: str | None = None,
                                   queue: str | None = None) -> None:
        row = self.rows[interaction_id]
        self.rows[interaction_id] = replace(row, agent=agent or row.agent,
                                            queue=queue or row.queue)

    async def end_interaction(self, interaction_id: int, *, outcome: str,
                              summary: str | None = None) -> None:
        row = self.rows[interaction_id]
        assert row.ended_at is None, "ended twice"
        self.rows[interaction_id] = replace(row, ended_at=self._now())
        self.ended.append((interaction_id, outcome))


class TextRig:
    """A `TextRouter` on an ACD rig; `write`/`reply` are the customer's and the agent's
    messages as the case bus's "messages" topic carries them."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.cases = FakeTextCases(rig.wall)
        self.router = TextRouter(rig.acd, self.cases)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        rig.acd.listeners.append(lambda agent, message: self.sent.append((agent, message)))
        self.router.start()

    async def write(self, case_id: int, channel: str = "chat", *, who: str = "visitor:1",
                    interaction: int | None = None) -> int:
        """The customer writes on `case_id`: returns the interaction id."""
        row = self.cases.rows[interaction] if interaction else self.cases.open_on(case_id, channel)
        self.cases.rows[row.id] = replace(row, customer=who)
        await self.router.ingest({
            "type": "message", "case_id": case_id, "interaction_id": row.id,
            "channel": row.channel, "direction": "inbound", "created_at": None,
            "message": {"sender": who, "body": "hello"}})
        await settle(self.rig.clock)
        return row.id

    async def reply(self, interaction_id: int) -> None:
        row = self.cases.rows[interaction_id]
        await self.router.ingest({
            "type": "message", "case_id": row.case_id, "interaction_id": row.id,
            "channel": row.channel, "direction": "outbound", "created_at": None,
            "message": {"sender": "agent:x", "body": "hi"}})
        await settle(self.rig.clock)

    def of(self, agent_id: str, kind: str) -> list[dict[str, Any]]:
        """The messages of type `kind` sent to `agent_id`'s desk, oldest first."""
        return [m for a, m in self.sent if a == agent_id and m["type"] == kind]

    def offer(self, agent_id: str) -> str:
        """The id of the one pending offer to `agent_id`."""
        offers = self.router.offers_of(agent_id)
        assert len(offers) == 1, offers
        offer_id: str = offers[0]["offer_id"]
        return offer_id

    async def take(self, agent_id: str) -> int:
        """`agent_id` accepts their pending offer: the conversation id."""
        conv = await self.router.accept(agent_id, self.offer(agent_id))
        await settle(self.rig.clock)
        return conv.id

    async def close(self) -> None:
        await self.router.stop()
