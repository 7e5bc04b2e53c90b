"""Quality reviews of interactions: a score (0-100, or none) and notes, by a reviewer.

Rows of `qa_reviews` (migration 0015, `cases.models.QaReview`); an interaction may have
several, newest last. Notes are what a supervisor wrote about an agent's work: they go to the
database only, never into logs. `erase_interactions` deletes the reviews of interactions
(the GDPR erasure of a customer removes their interactions' reviews with them).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from cases import validate
from cases.errors import InvalidInput, NotFound
from cases.models import Interaction, QaReview

MAX_NOTES = 4000


def view(review: QaReview) -> dict[str, Any]:
    """A review as the API shows it."""
    return {"id": review.id, "interaction_id": review.interaction_id,
            "reviewer": review.reviewer, "score": review.score, "notes": review.notes,
            "created_at": review.created_at.isoformat()}


def check(score: object, notes: object) -> tuple[int | None, str]:
    """A valid (score, notes): score an integer 0-100 or None, notes text (may be empty when
    a score is given); InvalidInput naming the field otherwise."""
    if score is not None and (isinstance(score, bool) or not isinstance(score, int)
                              or not 0 <= score <= 100):
        raise InvalidInput("a score is an integer from 0 to 100", "score")
    checked = validate.text("" if notes is None else notes, "notes", max_len=MAX_NOTES,
                            blank=True)
    if score is None and not checked:
        raise InvalidInput("give a score, notes or both", "notes")
    return score, checked


def add(session: Session, interaction_id: int, reviewer: str, score: object, notes: object,
        now: datetime) -> dict[str, Any]:
    """Store one review of `interaction_id` (NotFound if there is no such interaction)."""
    interaction_id = validate.row_id(interaction_id, "interaction")
    reviewer = validate.text(reviewer, "reviewer", max_len=100)
    checked_score, checked_notes = check(score, notes)
    if session.get(Interaction, interaction_id) is None:
        raise NotFound("interaction", interaction_id)
    row = QaReview(interaction_id=interaction_id, reviewer=reviewer, score=checked_score,
                   notes=checked_notes, created_at=now)
    session.add(row)
    session.flush()
    return view(row)


def of_interaction(session: Session, interaction_id: int) -> list[dict[str, Any]]:
    """The interaction's reviews, oldest first."""
    rows = session.scalars(select(QaReview).where(QaReview.interaction_id == interaction_id)
                           .order_by(QaReview.created_at, QaReview.id)).all()
    return [view(r) for r in rows]


def erase_interactions(connection: Connection, interaction_ids: Collection[int]) -> int:
    """Delete the reviews of `interaction_ids`; how many went."""
    if not interaction_ids:
        return 0
    result = connection.execute(
        delete(QaReview).where(QaReview.interaction_id.in_(sorted(interaction_ids))))
    return int(result.rowcount or 0)


__all__ = ["MAX_NOTES", "InvalidInput", "add", "check", "erase_interactions",
           "of_interaction", "view"]
