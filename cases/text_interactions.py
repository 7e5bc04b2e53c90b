"""Text interactions as the text router (`routing.conversations`) reads and marks them.

`text_interactions` lists the open chat, SMS, WhatsApp and email interactions (or one
interaction, open or not) with what routing needs: who had it, its queue, the customer's
address as they last wrote, the times of the last message each way, and the agent of the
case's previous text interaction that ended (a returning customer goes to them first).
`set_text_interaction` records the agent and queue routing gave it. Addresses are personal
data: returned to the caller, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases import validate
from cases.errors import InvalidInput, NotFound
from cases.models import Interaction, Message


@dataclass(frozen=True)
class TextInteractionRow:
    """One text interaction, for routing (see the module docstring)."""

    id: int
    case_id: int
    channel: str
    started_at: datetime
    ended_at: datetime | None
    agent: str | None
    queue: str | None
    customer: str | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    previous_agent: str | None
    previous_ended_at: datetime | None


def text_interactions(session: Session, interaction_id: int | None) -> list[TextInteractionRow]:
    """The open text interactions, oldest first; or the text interaction `interaction_id`
    (open or ended; none if it is a call or does not exist)."""
    query = select(Interaction).where(Interaction.channel != "voice")
    if interaction_id is None:
        query = query.where(Interaction.ended_at.is_(None))
    else:
        query = query.where(Interaction.id == interaction_id)
    interactions = list(session.scalars(query.order_by(Interaction.started_at, Interaction.id)))
    if not interactions:
        return []
    ids = [i.id for i in interactions]
    last: dict[tuple[int, str], datetime] = {
        (int(iid), str(direction)): at for iid, direction, at in session.execute(
            select(Message.interaction_id, Message.direction, func.max(Message.created_at))
            .where(Message.interaction_id.in_(ids))
            .group_by(Message.interaction_id, Message.direction))}
    senders: dict[int, str] = {}
    for iid, sender in session.execute(
            select(Message.interaction_id, Message.sender)
            .where(Message.interaction_id.in_(ids), Message.direction == "inbound")
            .order_by(Message.created_at, Message.id)):
        senders[int(iid)] = str(sender)  # the newest wins
    previous: dict[int, tuple[str, datetime]] = {}
    case_ids = {i.case_id for i in interactions}
    for case_id, agent, ended in session.execute(
            # Calls count: a customer who texts after a call (a handover) goes back to the
            # agent who took the call first.
            select(Interaction.case_id, Interaction.agent, Interaction.ended_at)
            .where(Interaction.case_id.in_(case_ids),
                   Interaction.ended_at.is_not(None), Interaction.agent.is_not(None))
            .order_by(Interaction.ended_at, Interaction.id)):
        if ended is not None:
            previous[int(case_id)] = (str(agent), ended)  # the latest wins
    rows = []
    for i in interactions:
        prev = previous.get(i.case_id)
        if prev is not None and interaction_id is not None and i.ended_at is not None:
            prev = None  # an ended interaction is no one's "previous" to itself
        rows.append(TextInteractionRow(
            id=i.id, case_id=i.case_id, channel=i.channel, started_at=i.started_at,
            ended_at=i.ended_at, agent=i.agent, queue=i.queue, customer=senders.get(i.id),
            last_inbound_at=last.get((i.id, "inbound")),
            last_outbound_at=last.get((i.id, "outbound")),
            previous_agent=prev[0] if prev else None,
            previous_ended_at=prev[1] if prev else None))
    return rows


def set_text_interaction(
    session: Session, interaction_id: int, agent: str | None, queue: str | None
) -> None:
    """Record the agent and/or queue of text interaction `interaction_id`."""
    interaction = session.get(Interaction, interaction_id)
    if interaction is None:
        raise NotFound("interaction", interaction_id)
    if interaction.channel == "voice":
        raise InvalidInput("is a call, not a text interaction", "interaction_id")
    if agent is not None:
        interaction.agent = validate.text(agent, "agent", max_len=100)
    if queue is not None:
        interaction.queue = validate.text(queue, "queue", max_len=100)
