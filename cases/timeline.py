"""JSON-ready views of stored rows: the case timeline and the payloads of live events.

One place decides what a segment, an interaction or a note looks like on the wire, so the
REST timeline and the WebSocket push the same shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cases.models import (
    Case,
    Customer,
    Identity,
    Interaction,
    IvrEvent,
    Note,
    TranscriptSegment,
)


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
        "created_at": _time(seg.created_at),
    }


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
        "summary": interaction.summary,
    }
    if with_segments:
        view["segments"] = [segment_view(s) for s in interaction.segments]
        view["ivr_events"] = [ivr_event_view(e) for e in interaction.ivr_events]
    return view


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


def timeline_view(case: Case) -> dict[str, Any]:
    """Everything an agent needs on screen: customer, identities, case, interactions, notes.

    Interactions come oldest first (newest last), each with its segments by start time and
    the IVR events (digits, speech, variables, path, voicemail) in the order they happened.
    """
    return {
        "customer": customer_view(case.customer),
        "identities": [identity_view(i) for i in case.customer.identities],
        "case": case_view(case),
        "interactions": [interaction_view(i) for i in case.interactions],
        "notes": [note_view(n) for n in case.notes],
    }
