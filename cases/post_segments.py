"""Transcripts made twice: live segments (while the call ran) and the post-call pass's
('post', over the recording with the larger model: recordings.postcall).

The case shows one transcript per interaction, the better one: its post segments when it
has any, else its live ones (`shown`). Live segments are never deleted: they stay for
comparison (`live_segments` in the timeline when post ones are shown) and the accuracy
figures. Both sets sit on the same clock (seconds from the call's answer, when the
recording starts too), so the review player plays either against the recording.

`replace_post` stores a pass's segments in one transaction, replacing any earlier pass of
the same interaction: a job run again after a crash stores its segments once.

Functions over an open session, for `CaseStore` to run on its database threads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cases.errors import InvalidInput, NotFound
from cases.insights import ScoredSegment, analyse, interaction_insights
from cases.models import Interaction, TranscriptSegment


@dataclass(frozen=True)
class PassContext:
    """What the post-call pass needs of an interaction: when it started (its segments' time
    zero), the language of its live transcript, and when the agent first spoke live (before
    that, the agent's channel holds what the caller heard: prompts, music)."""

    started: datetime
    language: str | None
    agent_from: float | None


@dataclass(frozen=True)
class PostSegmentIn:
    """A post-call segment to store: seconds from the call's answer (of the recording)."""

    speaker: str
    start: float
    end: float
    text: str
    confidence: float | None
    language: str | None


def shown(segments: Sequence[TranscriptSegment]) -> list[TranscriptSegment]:
    """The transcript the case shows: the post segments if there are any, else the live."""
    post = [s for s in segments if s.source == "post"]
    return post if post else [s for s in segments if s.source != "post"]


def transcript_source(segments: Sequence[TranscriptSegment]) -> str | None:
    """'post' or 'live' (what `shown` picks), None without segments."""
    if not segments:
        return None
    return "post" if any(s.source == "post" for s in segments) else "live"


def replace_post(
    session: Session, interaction_id: int, segments: Sequence[PostSegmentIn], engine: str,
    now: datetime,
) -> tuple[int, list[TranscriptSegment]]:
    """Store `segments` as the interaction's post transcript (any earlier one removed);
    returns (case id, the stored rows). NotFound without the interaction."""
    case_id = session.scalar(select(Interaction.case_id).where(Interaction.id == interaction_id))
    if case_id is None:
        raise NotFound("interaction", interaction_id)
    session.execute(delete(TranscriptSegment).where(
        TranscriptSegment.interaction_id == interaction_id, TranscriptSegment.source == "post"))
    rows: list[TranscriptSegment] = []
    for seg in segments:
        if seg.end < seg.start:
            raise InvalidInput(f"end ({seg.end}) is before start ({seg.start})", "end")
        row = TranscriptSegment(
            interaction_id=interaction_id, speaker=seg.speaker, start=seg.start, end=seg.end,
            text=seg.text, confidence=seg.confidence, engine=engine, language=seg.language,
            source="post", created_at=now)
        score(row)
        session.add(row)
        rows.append(row)
    session.flush()
    interaction = session.get(Interaction, interaction_id)
    if interaction is not None:
        session.refresh(interaction, ["segments"])
        store_insights(session, interaction)
    return int(case_id), rows


def score(seg: TranscriptSegment) -> None:
    """Set the segment's sentiment and topics from its text (cases.insights)."""
    found = analyse(seg.text, seg.language)
    seg.sentiment = found.sentiment
    seg.topics = found.topics


def insights(segments: Sequence[TranscriptSegment]) -> dict[str, Any] | None:
    """The interaction's sentiment trend and topics, from the transcript the case shows."""
    return interaction_insights([ScoredSegment(s.speaker, s.start, s.sentiment, s.topics)
                                 for s in shown(segments)])


def store_insights(session: Session, interaction: Interaction) -> None:
    """Keep the interaction's insights on it (at its end, and after the post-call pass)."""
    interaction.insights = insights(interaction.segments)


def live_language(session: Session, interaction_id: int) -> str | None:
    """The language most of the interaction's live segments were recognised in (None when
    none said)."""
    found = session.scalars(select(TranscriptSegment.language).where(
        TranscriptSegment.interaction_id == interaction_id,
        TranscriptSegment.source == "live", TranscriptSegment.language.is_not(None))).all()
    counts = Counter(found)
    return counts.most_common(1)[0][0] if counts else None


def first_live_start(session: Session, interaction_id: int, speaker: str) -> float | None:
    """When `speaker` first spoke in the live transcript (seconds), None if never."""
    found = session.scalar(select(func.min(TranscriptSegment.start)).where(
        TranscriptSegment.interaction_id == interaction_id,
        TranscriptSegment.source == "live", TranscriptSegment.speaker == speaker))
    return None if found is None else float(found)


def interaction_start(session: Session, interaction_id: int) -> datetime:
    """When the interaction started (its segments' time zero); NotFound if not stored."""
    found = session.scalar(select(Interaction.started_at)
                           .where(Interaction.id == interaction_id))
    if found is None:
        raise NotFound("interaction", interaction_id)
    return found
