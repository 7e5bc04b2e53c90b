"""Case facts in the database (`cases.models.CaseFact`): write, list, and remake the
summariser's facts of one interaction. Functions over an open session; `CaseStore` runs
them on its database threads.

Nothing sensitive is stored in clear: a value marked sensitive is stored as `***`, and any
other value goes through `cases.facts.mask_text` (a card number in it keeps its last four).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cases.errors import InvalidInput, NotFound
from cases.facts import MASK, mask_text
from cases.models import FACT_ORIGINS, Case, CaseFact, Interaction
from cases.summary import Fact

KEY = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
MAX_VALUE = 500


@dataclass(frozen=True)
class NewFact:
    """A fact to store, checked by `check`."""

    key: str
    value: str
    origin: str = "agent"
    interaction_id: int | None = None
    second: float | None = None
    ivr_step: str | None = None
    message_id: int | None = None
    language: str | None = None
    sensitive: bool = False


def check(fact: NewFact) -> NewFact:
    """`fact` with its value masked as it must be stored; InvalidInput naming the field."""
    if not isinstance(fact.key, str) or not KEY.match(fact.key):
        raise InvalidInput("a fact key is 1-64 of a-z, 0-9 and _, starting with a letter",
                           "key")
    if not isinstance(fact.value, str) or not fact.value.strip() or "\x00" in fact.value:
        raise InvalidInput("must be a non-empty string", "value")
    if fact.origin not in FACT_ORIGINS:
        raise InvalidInput(f"must be one of {', '.join(FACT_ORIGINS)}", "origin")
    if fact.second is not None and (isinstance(fact.second, bool) or not isinstance(
            fact.second, int | float) or not 0 <= fact.second < 1e9):
        raise InvalidInput("must be a number of seconds", "second")
    if fact.language is not None and (not isinstance(fact.language, str)
                                      or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2})?",
                                                          fact.language)):
        raise InvalidInput("a language code such as en or es", "language")
    if fact.ivr_step is not None and (not isinstance(fact.ivr_step, str)
                                      or len(fact.ivr_step) > 100):
        raise InvalidInput("at most 100 characters", "ivr_step")
    value = MASK if fact.sensitive else mask_text(fact.value.strip(), fact.language)
    if len(value) > MAX_VALUE:
        raise InvalidInput(f"at most {MAX_VALUE} characters", "value")
    return NewFact(fact.key, value, fact.origin, fact.interaction_id, fact.second,
                   fact.ivr_step, fact.message_id, fact.language,
                   fact.sensitive or MASK in value)


def fact_view(row: CaseFact) -> dict[str, Any]:
    """A fact on the wire: key, value (masked when `masked`), language and source."""
    return {
        "id": row.id,
        "key": row.key,
        "value": row.value,
        "masked": row.masked,
        "language": row.language,
        "source": {"interaction_id": row.interaction_id, "origin": row.origin,
                   "second": row.second, "ivr_step": row.ivr_step,
                   "message_id": row.message_id},
        "auto": row.auto,
        "created_at": row.created_at.isoformat(),
    }


def add_fact(session: Session, now: datetime, case_id: int, fact: NewFact) -> dict[str, Any]:
    """Store one checked fact on case `case_id` (NotFound for an unknown case, or an
    interaction that is not the case's)."""
    if session.get(Case, case_id) is None:
        raise NotFound("case", case_id)
    if fact.interaction_id is not None:
        owner = session.scalar(
            select(Interaction.case_id).where(Interaction.id == fact.interaction_id))
        if owner != case_id:
            raise NotFound("interaction", fact.interaction_id)
    row = CaseFact(
        case_id=case_id, interaction_id=fact.interaction_id, key=fact.key, value=fact.value,
        masked=fact.sensitive, origin=fact.origin, second=fact.second,
        ivr_step=fact.ivr_step, message_id=fact.message_id, language=fact.language,
        auto=False, created_at=now)
    session.add(row)
    session.flush()
    return fact_view(row)


def facts_of(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The facts of case `case_id`, oldest first."""
    rows = session.scalars(
        select(CaseFact).where(CaseFact.case_id == case_id)
        .order_by(CaseFact.created_at, CaseFact.id)).all()
    return [fact_view(r) for r in rows]


def _identity(key: str, value: str, origin: str, second: float | None, step: str | None,
              message_id: int | None) -> tuple[Any, ...]:
    return (key, value, origin, second, step, message_id)


def replace_auto(
    session: Session, now: datetime, case_id: int, interaction_id: int, facts: Iterable[Fact],
) -> bool:
    """Make the summariser's facts of one interaction exactly `facts`: the ones already
    stored stay (same ids), the gone ones are deleted, the new ones added. Whether anything
    changed."""
    stored = session.scalars(select(CaseFact).where(
        CaseFact.interaction_id == interaction_id, CaseFact.auto.is_(True))).all()
    have = {_identity(r.key, r.value, r.origin, r.second, r.ivr_step, r.message_id): r
            for r in stored}
    want: dict[tuple[Any, ...], Fact] = {}
    for f in facts:
        value = MASK if f.masked and MASK not in f.value else f.value
        want[_identity(f.key, value[:MAX_VALUE], f.source.origin, f.source.second,
                       f.source.ivr_step, f.source.message_id)] = f
    gone = [r.id for k, r in have.items() if k not in want]
    if gone:
        session.execute(delete(CaseFact).where(CaseFact.id.in_(gone)))
    added = False
    for k, f in want.items():
        if k in have:
            continue
        session.add(CaseFact(
            case_id=case_id, interaction_id=interaction_id, key=k[0], value=k[1],
            masked=f.masked, origin=k[2], second=k[3], ivr_step=k[4], message_id=k[5],
            language=f.language, auto=True, created_at=now))
        added = True
    return bool(gone) or added
