"""Summaries in the database: read an interaction into a `cases.summary.InteractionRecord`,
make its summary, store it on the interaction (JSON in `interactions.summary`) and its facts
on the case (`cases.facts_store.replace_auto`), and apply an agent's edit.

Functions over an open session, for `CaseStore` to run on its database threads inside the
transaction that ends an interaction, adds a wrap-up note or stores a segment.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.errors import InvalidInput, NotFound
from cases.facts import mask_text
from cases.facts_store import replace_auto
from cases.models import Interaction, IvrEvent, Message, Note, TranscriptSegment
from cases.post_segments import shown
from cases.summary import (
    EDITABLE,
    SYSTEM_AUTHORS,
    AgentNote,
    InteractionRecord,
    IvrInput,
    Segment,
    TextMessage,
    merged,
    summarise,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4000
MAX_STEPS = 10


def stored_summary(raw: str | None) -> dict[str, Any] | None:
    """The summary stored on an interaction: the summariser's JSON, or a plain text one
    (given at the end of the interaction) as `{"text": ...}`."""
    if raw is None:
        return None
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if isinstance(value, dict) and "version" in value:
            return value
    return {"version": 0, "text": raw, "edited": None}


def summary_text(raw: str | None) -> str | None:
    """What the timeline shows as the interaction's summary: its text."""
    found = stored_summary(raw)
    return None if found is None else str(found.get("text") or "")


def _seconds(at: datetime | None, start: datetime) -> float | None:
    return None if at is None else max(0.0, (at - start).total_seconds())


def load_record(session: Session, interaction: Interaction) -> InteractionRecord:
    """What the summariser reads about `interaction`: its segments, IVR inputs, messages,
    and the case's notes written from its start until the next interaction on the case."""
    start = interaction.started_at
    # The transcript the case shows: the post-call pass's when there is one.
    segments = shown(session.scalars(select(TranscriptSegment).where(
        TranscriptSegment.interaction_id == interaction.id)
        .order_by(TranscriptSegment.start, TranscriptSegment.id)).all())
    events = session.scalars(select(IvrEvent).where(IvrEvent.interaction_id == interaction.id)
                             .order_by(IvrEvent.at, IvrEvent.id)).all()
    messages = session.scalars(select(Message).where(Message.interaction_id == interaction.id)
                               .order_by(Message.created_at, Message.id)).all()
    after = session.scalar(
        select(Interaction.started_at).where(
            Interaction.case_id == interaction.case_id, Interaction.id != interaction.id,
            Interaction.started_at > start).order_by(Interaction.started_at).limit(1))
    notes_q = select(Note).where(Note.case_id == interaction.case_id, Note.created_at >= start)
    if after is not None:
        notes_q = notes_q.where(Note.created_at < after)
    notes = session.scalars(notes_q.order_by(Note.created_at, Note.id)).all()
    return InteractionRecord(
        interaction_id=interaction.id,
        channel=interaction.channel,
        started_at=start,
        agent=interaction.agent,
        outcome=interaction.outcome,
        ended=interaction.ended_at is not None,
        segments=tuple(Segment(s.speaker, s.start, s.end, s.text, s.language)
                       for s in segments),
        ivr=tuple(IvrInput(e.kind, e.step, e.step_index, e.value, e.sensitive,
                           _seconds(e.at, start)) for e in events),
        messages=tuple(TextMessage(m.id, m.direction, m.body, _seconds(m.created_at, start),
                                   m.subject) for m in messages),
        notes=tuple(AgentNote(n.author, n.text) for n in notes
                    if n.author not in SYSTEM_AUTHORS),
    )


def make_summary(
    session: Session, interaction: Interaction, now: datetime, region: str | None,
) -> dict[str, Any]:
    """Summarise `interaction` from what is stored, keep an agent's edits, store it and its
    facts; the stored summary."""
    record = load_record(session, interaction)
    old = stored_summary(interaction.summary)
    try:
        made = summarise(record, region=region)
    except Exception as exc:
        # A summariser bug must not lose the end of an interaction or a wrap-up note. Only
        # the kind of error and where: its message could quote what the customer said.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        log.error("summary of interaction %d failed: %s at %s:%s", interaction.id,
                  type(exc).__name__, frame.filename, frame.lineno)
        return old or {}
    if old is not None and old.get("version") == 0 and old.get("text"):
        # A summary given as text when the interaction ended is the agent's: keep it.
        old = {**old, "edited": {"by": None, "at": None, "fields": ["text"]}}
    value = merged(made.to_json(), old)
    interaction.summary = json.dumps(value, ensure_ascii=False, sort_keys=True)
    replace_auto(session, now, interaction.case_id, interaction.id, made.facts)
    return value


def summarise_interaction(
    session: Session, interaction_id: int, now: datetime, region: str | None,
) -> tuple[int, dict[str, Any]]:
    """`make_summary` by id: (case id, stored summary). NotFound for no such interaction."""
    interaction = session.get(Interaction, interaction_id)
    if interaction is None:
        raise NotFound("interaction", interaction_id)
    return interaction.case_id, make_summary(session, interaction, now, region)


def after_note(
    session: Session, case_id: int, author: str, now: datetime, region: str | None,
) -> tuple[int, dict[str, Any]] | None:
    """A note by `author` (a wrap-up) on case `case_id`: the summary of the case's latest
    ended interaction that `author` took, remade with it (interaction id, summary); None
    when the author took none (the note is not a wrap-up of a summarised interaction)."""
    if author in SYSTEM_AUTHORS:
        return None
    interaction = session.scalar(
        select(Interaction).where(
            Interaction.case_id == case_id, Interaction.agent == author,
            Interaction.ended_at.is_not(None))
        .order_by(Interaction.ended_at.desc(), Interaction.id.desc()).limit(1))
    if interaction is None:
        return None
    return interaction.id, make_summary(session, interaction, now, region)


def check_edit(fields: dict[str, Any]) -> dict[str, Any]:
    """An agent's edit: `text` (1-4000 characters), `next_steps` (up to 10 strings),
    `outcome` (1-100 characters); at least one. Masked like everything the summary holds.
    InvalidInput names the bad field."""
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise InvalidInput("unknown field", unknown[0])
    if not fields:
        raise InvalidInput(f"give at least one of {', '.join(EDITABLE)}", "body")
    out: dict[str, Any] = {}
    if "text" in fields:
        text = fields["text"]
        if not isinstance(text, str) or not text.strip() or "\x00" in text:
            raise InvalidInput("must be a non-empty string", "text")
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"at most {MAX_TEXT} characters", "text")
        out["text"] = mask_text(text.strip())
    if "next_steps" in fields:
        steps = fields["next_steps"]
        if not isinstance(steps, list) or len(steps) > MAX_STEPS:
            raise InvalidInput(f"a list of at most {MAX_STEPS} strings", "next_steps")
        for i, step in enumerate(steps):
            if not isinstance(step, str) or not step.strip() or len(step) > 500 \
                    or "\x00" in step:
                raise InvalidInput("a non-empty string of at most 500 characters",
                                   f"next_steps[{i}]")
        out["next_steps"] = [mask_text(s.strip()) for s in steps]
    if "outcome" in fields:
        outcome = fields["outcome"]
        if not isinstance(outcome, str) or not outcome.strip() or len(outcome) > 100 \
                or "\x00" in outcome:
            raise InvalidInput("a non-empty string of at most 100 characters", "outcome")
        out["outcome"] = mask_text(outcome.strip())
    return out


def edit_summary(
    session: Session, case_id: int, interaction_id: int, fields: dict[str, Any], by: str,
    now: datetime, region: str | None,
) -> dict[str, Any]:
    """Apply a checked edit to the summary of interaction `interaction_id` on case
    `case_id` (made first if there is none); the stored summary. NotFound when the
    interaction is not the case's."""
    interaction = session.get(Interaction, interaction_id)
    if interaction is None or interaction.case_id != case_id:
        raise NotFound("interaction", interaction_id)
    current = stored_summary(interaction.summary)
    if current is None or current.get("version") == 0:
        current = make_summary(session, interaction, now, region)
    edited = current.get("edited")
    previous: dict[str, Any] = edited if isinstance(edited, dict) else {}
    done = set(previous.get("fields", [])) | set(fields)
    value = {**current, **fields,
             "edited": {"by": by, "at": now.isoformat(),
                        "fields": [f for f in EDITABLE if f in done]}}
    interaction.summary = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
