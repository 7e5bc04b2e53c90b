"""CSAT: the optional one-question survey after an interaction, and its 1-5 answer.

    an agent's interaction ends ──▶ survey sent on the customer's channel ──▶ `sent()`
    the customer replies "4" ──▶ `answer()`: the latest unanswered survey sent to that
                                  customer by that channel, within ANSWER_WINDOW, gets it

A reply is a score only when it is one (`score_in`: "4", "5/5", "4 stars", "5 estrellas");
anything else is an ordinary message. The rows keep no address or text (`csat_surveys`);
the figures per channel are `cases.journey`'s `csat`. `SurveyStore` owns its own database
worker on the case store's database, like `cases.opt_outs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cases import validate
from cases.db import DbWorker
from cases.errors import InvalidInput, StorageError
from cases.models import CHANNELS, Case, CsatSurvey

ANSWER_WINDOW = timedelta(days=3)
_SCORE = re.compile(
    r"^\s*([1-5])\s*(?:/\s*5|out of 5|de 5|stars?|estrellas?)?\s*[.!]*\s*$", re.IGNORECASE)


def score_in(body: str) -> int | None:
    """The 1-5 score a reply gives, or None when it is not a score."""
    found = _SCORE.match(body) if len(body) <= 40 else None
    return int(found.group(1)) if found else None


class SurveyStore:
    """Async access to the surveys. `await SurveyStore.open(url, now=clock)`; `close()`."""

    def __init__(self, db: DbWorker, now: Callable[[], datetime]) -> None:
        self._db = db
        self._now = now

    @classmethod
    async def open(cls, url: str, *, now: Callable[[], datetime]) -> SurveyStore:
        db = await DbWorker.open_migrated(
            url, workers=2, thread_name="csat-db", name="the survey store",
            error=StorageError, hide_parameters=True)
        return cls(db, now)

    async def close(self) -> None:
        await self._db.close()

    async def sent(self, case_id: int, interaction_id: int, channel: str, via: str) -> bool:
        """Record a survey about `interaction_id` (of `channel`) sent by `via`; False when
        one was recorded for it already (a survey is sent once per interaction)."""
        case_id = validate.row_id(case_id, "case")
        interaction_id = validate.row_id(interaction_id, "interaction")
        channel = validate.choice(channel, CHANNELS, "channel")
        via = validate.choice(via, CHANNELS, "via")
        try:
            await self._db.run(self._sent, case_id, interaction_id, channel, via)
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    def _sent(self, case_id: int, interaction_id: int, channel: str, via: str) -> None:
        with Session(self._db.engine) as session, session.begin():
            session.add(CsatSurvey(case_id=case_id, interaction_id=interaction_id,
                                   channel=channel, via=via, sent_at=self._now()))

    async def surveyed(self, interaction_id: int) -> bool:
        """Whether a survey about `interaction_id` was sent."""
        def read() -> bool:
            with Session(self._db.engine) as session:
                return session.scalar(select(CsatSurvey.id).where(
                    CsatSurvey.interaction_id == interaction_id)) is not None
        return await self._db.run(read)

    async def answer(self, case_id: int, via: str, score: int) -> int | None:
        """The customer of case `case_id` answered `score` by `via`: it goes to their latest
        unanswered survey sent by `via` within ANSWER_WINDOW (on any of their cases). The
        interaction it answers about, or None when no survey waits for an answer."""
        case_id = validate.row_id(case_id, "case")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput("an integer 1-5", "score")
        return await self._db.run(self._answer, case_id, via, score)

    def _answer(self, case_id: int, via: str, score: int) -> int | None:
        now = self._now()
        with Session(self._db.engine) as session, session.begin():
            customer = session.scalar(select(Case.customer_id).where(Case.id == case_id))
            if customer is None:
                return None
            cases = select(Case.id).where(Case.customer_id == customer)
            survey = session.scalar(
                select(CsatSurvey).where(
                    CsatSurvey.case_id.in_(cases), CsatSurvey.via == via,
                    CsatSurvey.score.is_(None), CsatSurvey.sent_at >= now - ANSWER_WINDOW)
                .order_by(CsatSurvey.sent_at.desc(), CsatSurvey.id.desc()).limit(1)
                .with_for_update())
            if survey is None:
                return None
            survey.score = score
            survey.answered_at = now
            return survey.interaction_id
