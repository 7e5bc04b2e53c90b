"""JSON-ready views of stored rows: the case timeline and the payloads of live events.

One place decides what a segment, an interaction, a message or a note looks like on the wire,
so the REST timeline and the WebSocket push the same shapes. The timeline's `entries`
interleave every channel in the order things happened: calls (with their transcripts), IVR
inputs, messages and notes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.errors import NotFound
from cases.facts_store import facts_of
from cases.models import (
    Case,
    Customer,
    Identity,
    Interaction,
    IvrEvent,
    Message,
    MessageAttachment,
    MessageStatusEvent,
    Note,
    TranscriptSegment,
)
from cases.post_segments import insights, shown, transcript_source
from cases.summary_store import stored_summary, summary_text

# Entries at the same instant: the call before what happened in it, then messages, notes.
_ENTRY_RANK = {"call": 0, "ivr": 1, "message": 2, "note": 3}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def segment_view(seg: TranscriptSegment) -> dict[str, Any]:
    """A transcript segment; `start`/`end` are seconds from the interaction's start."""
    return {
        "id": seg.id,
        "interaction_id": seg.interaction_id,
        "speaker": seg.speaker,
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "confidence": seg.confidence,
        "engine": seg.engine,
        "language": seg.language,
        "source": seg.source,
        "sentiment": seg.sentiment,
        "topics": seg.topics or [],
        "created_at": _time(seg.created_at),
    }


def transcript_views(interaction: Interaction) -> dict[str, Any]:
    """The transcript the case shows (`segments`: the post-call pass's when there is one,
    cases.post_segments), which one it is (`transcript_source`: post, live or None), the
    live segments beside it when the post ones are shown (`live_segments`), and its
    sentiment trend and topics (`insights`, cases.insights)."""
    views: dict[str, Any] = {
        "segments": [segment_view(s) for s in shown(interaction.segments)],
        "transcript_source": transcript_source(interaction.segments),
        # Made from the segments each time: segments still arrive after the call ends.
        "insights": insights(interaction.segments),
    }
    if views["transcript_source"] == "post":
        views["live_segments"] = [segment_view(s) for s in interaction.segments
                                  if s.source != "post"]
    return views


def ivr_event_view(event: IvrEvent) -> dict[str, Any]:
    """One IVR input or step; `value` is as stored (already masked for sensitive steps)."""
    return {
        "id": event.id,
        "interaction_id": event.interaction_id,
        "at": _time(event.at),
        "kind": event.kind,
        "step": event.step,
        "step_index": event.step_index,
        "value": event.value,
        "sensitive": event.sensitive,
    }


def interaction_view(
    interaction: Interaction, *, with_segments: bool = True
) -> dict[str, Any]:
    """An interaction, with its segments (by start time) and IVR events (by time) unless
    told otherwise."""
    view: dict[str, Any] = {
        "id": interaction.id,
        "case_id": interaction.case_id,
        "channel": interaction.channel,
        "direction": interaction.direction,
        "started_at": _time(interaction.started_at),
        "ended_at": _time(interaction.ended_at),
        "dialed": interaction.dialed,
        "queue": interaction.queue,
        "agent": interaction.agent,
        "outcome": interaction.outcome,
        "call_id": interaction.call_id,
        # The summary's text (what the agent reads and sends on); the whole of it, with
        # reason, facts, actions and next steps, in `summary_detail` (cases.summary).
        "summary": summary_text(interaction.summary),
        "summary_detail": stored_summary(interaction.summary),
    }
    if with_segments:
        view.update(transcript_views(interaction))
        view["ivr_events"] = [ivr_event_view(e) for e in interaction.ivr_events]
        view["messages"] = [message_view(m) for m in interaction.messages]
    return view


def attachment_view(attachment: MessageAttachment) -> dict[str, Any]:
    """A file's metadata; the bytes are with the channel adapter under `storage_key`."""
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "storage_key": attachment.storage_key,
    }


def status_event_view(event: MessageStatusEvent) -> dict[str, Any]:
    """One delivery report; `applied` is False for a late one that did not move the status."""
    return {
        "status": event.status,
        "at": _time(event.at),
        "error_code": event.error_code,
        "applied": event.applied,
    }


def message_view(message: Message) -> dict[str, Any]:
    """A message with its attachments and delivery history. `html` is as the channel gave it,
    unsanitised: a page sanitises it before showing it."""
    return {
        "id": message.id,
        "interaction_id": message.interaction_id,
        "channel": message.channel,
        "direction": message.direction,
        "sender": message.sender,
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "html": message.html,
        "external_id": message.external_id,
        "status": message.status,
        "error_code": message.error_code,
        "created_at": _time(message.created_at),
        "sent_at": _time(message.sent_at),
        "delivered_at": _time(message.delivered_at),
        "attachments": [attachment_view(a) for a in message.attachments],
        "status_history": [status_event_view(e) for e in message.status_events],
    }


def note_view(note: Note) -> dict[str, Any]:
    """A note left on a case."""
    return {
        "id": note.id,
        "case_id": note.case_id,
        "author": note.author,
        "text": note.text,
        "created_at": _time(note.created_at),
    }


def identity_view(identity: Identity) -> dict[str, Any]:
    """One way the customer reaches us."""
    return {"kind": identity.kind, "value": identity.value}


def customer_view(customer: Customer) -> dict[str, Any]:
    """The customer, without identities (listed next to it in the timeline)."""
    return {
        "id": customer.id,
        "display_name": customer.display_name,
        "created_at": _time(customer.created_at),
    }


def case_view(case: Case) -> dict[str, Any]:
    """The case's own fields."""
    return {
        "id": case.id,
        "customer_id": case.customer_id,
        "status": case.status,
        "subject": case.subject,
        "created_at": _time(case.created_at),
        "updated_at": _time(case.updated_at),
    }


def timeline_entries(case: Case) -> list[dict[str, Any]]:
    """Calls (each with its transcript), IVR inputs, messages and notes in time order.

    Each entry is `{"type": "call" | "ivr" | "message" | "note", "at": ..., <type>: view}`;
    a call is placed when it started, a message when it was stored. Ties keep a call before
    its IVR inputs, then messages, then notes, each by id.
    """
    keyed: list[tuple[datetime, int, int, dict[str, Any]]] = []

    def add(kind: str, at: datetime, row_id: int, view: dict[str, Any]) -> None:
        keyed.append((at, _ENTRY_RANK[kind], row_id, {"type": kind, "at": _time(at), kind: view}))

    for interaction in case.interactions:
        if interaction.channel == "voice":
            call = interaction_view(interaction, with_segments=False)
            call.update(transcript_views(interaction))
            add("call", interaction.started_at, interaction.id, call)
        for event in interaction.ivr_events:
            add("ivr", event.at, event.id, ivr_event_view(event))
        for message in interaction.messages:
            add("message", message.created_at, message.id, message_view(message))
    for note in case.notes:
        add("note", note.created_at, note.id, note_view(note))
    keyed.sort(key=lambda item: item[:3])
    return [entry for *_, entry in keyed]


def latest_summary(case: Case) -> dict[str, Any] | None:
    """The summary shown at the top of the case: the latest interaction's that has one."""
    for interaction in reversed(case.interactions):
        found = stored_summary(interaction.summary)
        if found is not None:
            return {**found, "interaction_id": interaction.id}
    return None


def timeline_view(case: Case, facts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything an agent needs on screen: the latest summary (`summary`, at the top of the
    case) and the case's `facts`, customer, identities, case, interactions, notes, and
    `entries`, all of it interleaved in time order (`timeline_entries`).

    Interactions come oldest first (newest last), each with its segments by start time, the
    IVR events (digits, speech, variables, path, voicemail) and its messages in the order
    they happened.
    """
    return {
        "summary": latest_summary(case),
        "facts": facts or [],
        "customer": customer_view(case.customer),
        "identities": [identity_view(i) for i in case.customer.identities],
        "case": case_view(case),
        "interactions": [interaction_view(i) for i in case.interactions],
        "notes": [note_view(n) for n in case.notes],
        "entries": timeline_entries(case),
    }


def load_timeline(session: Session, case_id: int) -> dict[str, Any]:
    """Read case `case_id` with everything `timeline_view` shows; NotFound if not stored."""
    interactions = selectinload(Case.interactions)
    messages = interactions.selectinload(Interaction.messages)
    case = session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .options(
            selectinload(Case.customer).selectinload(Customer.identities),
            interactions.selectinload(Interaction.segments),
            interactions.selectinload(Interaction.ivr_events),
            messages.selectinload(Message.attachments),
            messages.selectinload(Message.status_events),
            selectinload(Case.notes),
        )
    )
    if case is None:
        raise NotFound("case", case_id)
    return timeline_view(case, facts_of(session, case_id))
