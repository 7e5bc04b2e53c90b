"""Cases shared with a user explicitly: the rows behind "and cases shared with them" in
`web.case_access`. A share names a user (an agent id or a supervisor's login), who shared it
and when; sharing twice keeps the first row, withdrawing an absent share is a no-op.

A customer merge (`cases.merge`) does not carry shares to the surviving case: it holds more
than what was shared. Functions take an open `Session` inside the caller's transaction (`cases.store.CaseStore`
runs them on its database worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cases.errors import NotFound
from cases.models import Case, CaseShare


@dataclass(frozen=True)
class Share:
    """`user` may read the case since `at`, because `shared_by` shared it."""

    user: str
    shared_by: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"user": self.user, "shared_by": self.shared_by, "at": self.at.isoformat()}


def share(session: Session, case_id: int, user: str, by: str, now: datetime) -> tuple[Share, bool]:
    """Share case `case_id` with `user`; (the share, whether it is new)."""
    if session.get(Case, case_id) is None:
        raise NotFound("case", case_id)
    row = session.scalar(
        select(CaseShare).where(CaseShare.case_id == case_id, CaseShare.user == user))
    if row is not None:
        return _view(row), False
    row = CaseShare(case_id=case_id, user=user, shared_by=by, created_at=now)
    session.add(row)
    session.flush()
    return _view(row), True


def unshare(session: Session, case_id: int, user: str) -> bool:
    """Withdraw `user`'s share of case `case_id`; False when there was none."""
    result = session.execute(
        delete(CaseShare).where(CaseShare.case_id == case_id, CaseShare.user == user))
    return bool(getattr(result, "rowcount", 0))


def shares_of(session: Session, case_id: int) -> list[Share]:
    """Everyone case `case_id` is shared with, oldest share first."""
    rows = session.scalars(
        select(CaseShare).where(CaseShare.case_id == case_id).order_by(CaseShare.id))
    return [_view(row) for row in rows]


def _view(row: CaseShare) -> Share:
    return Share(row.user, row.shared_by, row.created_at)
