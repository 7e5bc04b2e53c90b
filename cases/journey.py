"""Journey figures: how customers' cases went across channels, from the stored rows.

The population is a cohort: the cases whose first inbound contact started in the period
(`since` inclusive, `until` exclusive; either open), optionally only those with a contact
through one queue (a text interaction routed there, or a call whose IVR `queue` step named
it). For those cases:

- **contacts per case**: inbound interactions (calls, chats, SMS/WhatsApp threads, emails
  the customer started; a callback we placed or a text we sent is the same contact going on),
  their mean, and how many of each channel;
- **resolution**: a case is resolved by the first interaction whose wrap-up disposition (or
  edited outcome) is "resolved", else when the case is closed; its time to resolution runs
  from the first contact's start to that interaction's end (the case's last update for a
  closed case); **first-contact resolution** is a resolved case that took one contact, as a
  share of the resolved cases;
- **asked again**: an IVR `gather` answer (digits or speech) for a variable the case already
  held as an unmasked fact: one given in an earlier contact of the case, or kept by an agent
  or a flow before the question. A gather that took the fact instead of asking
  (`skip_if_known`) stored a `variable` event, not an answer: never counted. Sensitive steps
  (whose variable name is masked) are left out. Counted per ask, and per contact (the share
  of contacts with at least one);
- **CSAT** per channel of the interaction surveyed (`cases.csat`, when surveys are on):
  surveys sent, answers, their mean and how many of each score 1-5.

Functions over an open session (`CaseStore.journey` runs them on its database threads);
`figures()` is pure over the loaded rows, so the rules are tested without a database.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.models import Case, CaseFact, CsatSurvey, Interaction, IvrEvent
from cases.summary_store import stored_summary

RESOLVED = "resolved"
ASK_KINDS = ("digits", "speech")
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class Contact:
    """One interaction of a cohort case, with what the figures need of it."""

    id: int
    case_id: int
    channel: str
    direction: str
    started_at: datetime
    ended_at: datetime | None
    queues: frozenset[str] = frozenset()
    resolved: bool = False  # its wrap-up (or edited outcome) says "resolved"


@dataclass(frozen=True)
class Ask:
    """An IVR gather answer for `variable` at `at` on interaction `interaction_id`."""

    interaction_id: int
    variable: str
    at: datetime


@dataclass(frozen=True)
class KnownFact:
    """A case fact as far as "did the case have it already" goes."""

    case_id: int
    key: str
    interaction_id: int | None
    created_at: datetime
    masked: bool
    auto: bool  # the summariser's (from the interaction's own inputs and words)


@dataclass(frozen=True)
class Survey:
    """A CSAT survey about interaction `interaction_id` of `channel`; `score` None: unanswered."""

    interaction_id: int
    channel: str
    score: int | None


@dataclass
class CaseRow:
    id: int
    closed: bool
    updated_at: datetime
    contacts: list[Contact] = field(default_factory=list)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _resolved(raw: str | None) -> bool:
    summary = stored_summary(raw)
    if summary is None:
        return False
    actions = summary.get("actions")
    said = [summary.get("outcome")]
    if isinstance(actions, dict):
        said.append(actions.get("disposition"))
    return any(isinstance(s, str) and s.strip().rstrip(".").lower() == RESOLVED for s in said)


def load(session: Session, *, since: datetime | None, until: datetime | None,
         queue: str | None) -> tuple[list[CaseRow], list[Ask], list[KnownFact], list[Survey]]:
    """The cohort's cases with their interactions, their IVR answers, facts and surveys."""
    first = func.min(Interaction.started_at)
    cohort = select(Interaction.case_id).where(Interaction.direction == "inbound") \
        .group_by(Interaction.case_id)
    if since is not None:
        cohort = cohort.having(first >= since)
    if until is not None:
        cohort = cohort.having(first < until)
    case_ids = sorted(session.scalars(cohort).all())
    cases: dict[int, CaseRow] = {}
    contacts: dict[int, Contact] = {}
    asks: list[Ask] = []
    facts: list[KnownFact] = []
    surveys: list[Survey] = []
    queued: dict[int, set[str]] = defaultdict(set)
    for ids in _chunks(case_ids):
        for c in session.execute(select(Case.id, Case.status, Case.updated_at)
                                 .where(Case.id.in_(ids))):
            cases[c.id] = CaseRow(c.id, c.status == "closed", _aware(c.updated_at))
        for i in session.execute(select(
                Interaction.id, Interaction.case_id, Interaction.channel, Interaction.direction,
                Interaction.started_at, Interaction.ended_at, Interaction.queue,
                Interaction.summary).where(Interaction.case_id.in_(ids))):
            contacts[i.id] = Contact(
                i.id, i.case_id, i.channel, i.direction, _aware(i.started_at),
                _aware(i.ended_at) if i.ended_at is not None else None,
                frozenset({i.queue}) if i.queue else frozenset(), _resolved(i.summary))
        for f in session.execute(select(
                CaseFact.case_id, CaseFact.key, CaseFact.interaction_id, CaseFact.created_at,
                CaseFact.masked, CaseFact.auto).where(CaseFact.case_id.in_(ids))):
            facts.append(KnownFact(f.case_id, f.key, f.interaction_id, _aware(f.created_at),
                                   f.masked, f.auto))
    interaction_ids = sorted(contacts)
    for ids in _chunks(interaction_ids):
        for e in session.execute(select(
                IvrEvent.interaction_id, IvrEvent.kind, IvrEvent.value, IvrEvent.at,
                IvrEvent.sensitive).where(IvrEvent.interaction_id.in_(ids),
                                          IvrEvent.kind.in_((*ASK_KINDS, "queue")))):
            value = e.value if isinstance(e.value, dict) else {}
            if e.kind == "queue":
                if isinstance(value.get("queue"), str):
                    queued[e.interaction_id].add(value["queue"])
            elif isinstance(value.get("variable"), str) and not e.sensitive:
                asks.append(Ask(e.interaction_id, value["variable"], _aware(e.at)))
        for v in session.execute(select(CsatSurvey.interaction_id, CsatSurvey.channel,
                                        CsatSurvey.score)
                                 .where(CsatSurvey.interaction_id.in_(ids))):
            surveys.append(Survey(v.interaction_id, v.channel, v.score))
    for contact in sorted(contacts.values(), key=lambda c: (c.started_at, c.id)):
        if queued.get(contact.id):
            contact = replace(contact, queues=contact.queues | queued[contact.id])
        cases[contact.case_id].contacts.append(contact)
    rows = list(cases.values())
    if queue is not None:
        rows = [r for r in rows if any(queue in c.queues for c in r.contacts)]
        keep = {c.id for r in rows for c in r.contacts}
        asks = [a for a in asks if a.interaction_id in keep]
        facts = [f for f in facts if f.case_id in {r.id for r in rows}]
        surveys = [v for v in surveys if v.interaction_id in keep]
    return rows, asks, facts, surveys


def _seconds(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean_s": None, "median_s": None}
    return {"mean_s": round(statistics.fmean(values), 1),
            "median_s": round(statistics.median(values), 1)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def repeated_asks(cases: Iterable[CaseRow], asks: Iterable[Ask],
                  facts: Iterable[KnownFact]) -> list[Ask]:
    """The asks for a fact the case already had (see the module docstring)."""
    contact = {c.id: c for case in cases for c in case.contacts}
    by_case: dict[tuple[int, str], list[KnownFact]] = defaultdict(list)
    for fact in facts:
        if not fact.masked:
            by_case[(fact.case_id, fact.key)].append(fact)
    found = []
    for ask in asks:
        asked_in = contact.get(ask.interaction_id)
        if asked_in is None:
            continue
        for fact in by_case.get((asked_in.case_id, ask.variable), ()):
            source = contact.get(fact.interaction_id) if fact.interaction_id else None
            earlier_contact = (source is not None and source.id != asked_in.id
                               and source.started_at < asked_in.started_at)
            kept_before = not fact.auto and fact.created_at < ask.at
            if earlier_contact or kept_before:
                found.append(ask)
                break
    return found


def csat(surveys: Iterable[Survey]) -> dict[str, dict[str, Any]]:
    """Per channel surveyed: surveys sent, answers, their mean, and the count of each score."""
    by_channel: dict[str, list[Survey]] = defaultdict(list)
    for survey in surveys:
        by_channel[survey.channel].append(survey)
    out: dict[str, dict[str, Any]] = {}
    for channel, sent in sorted(by_channel.items()):
        scores = [v.score for v in sent if v.score is not None]
        out[channel] = {
            "surveys": len(sent), "responses": len(scores),
            "average": round(statistics.fmean(scores), 2) if scores else None,
            "scores": {str(n): scores.count(n) for n in range(1, 6)}}
    return out


def figures(cases: Sequence[CaseRow], asks: Sequence[Ask],
            facts: Sequence[KnownFact], surveys: Sequence[Survey] = ()) -> dict[str, Any]:
    """The journey figures of loaded rows (the API's JSON, without the period)."""
    inbound = {case.id: [c for c in case.contacts if c.direction == "inbound"]
               for case in cases}
    counted = [case for case in cases if inbound[case.id]]
    contacts = [c for case in counted for c in inbound[case.id]]
    resolved = fcr = 0
    to_resolve: list[float] = []
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for case in counted:
        first = inbound[case.id][0]
        by_channel[first.channel]["cases"] += 1
        ends = [c.ended_at or c.started_at for c in case.contacts if c.resolved]
        when = min(ends) if ends else (case.updated_at if case.closed else None)
        if when is None:
            continue
        resolved += 1
        took = sum(1 for c in inbound[case.id] if c.started_at <= when)
        fcr += took <= 1
        by_channel[first.channel]["resolved"] += 1
        by_channel[first.channel]["first_contact_resolved"] += took <= 1
        to_resolve.append(max(0.0, (when - first.started_at).total_seconds()))
    repeated = repeated_asks(counted, asks, facts)
    inbound_ids = {c.id for c in contacts}
    asked_again = {a.interaction_id for a in repeated if a.interaction_id in inbound_ids}
    return {
        "cases": len(counted),
        "contacts": len(contacts),
        "contacts_per_case": round(len(contacts) / len(counted), 3) if counted else None,
        "contacts_by_channel": dict(sorted(Counter(c.channel for c in contacts).items())),
        "resolved": resolved,
        "first_contact_resolution": {"cases": fcr, "rate": _share(fcr, resolved)},
        "time_to_resolution": _seconds(to_resolve),
        "by_first_channel": {
            channel: {"cases": n["cases"], "resolved": n["resolved"],
                      "first_contact_resolution": _share(n["first_contact_resolved"],
                                                         n["resolved"])}
            for channel, n in sorted(by_channel.items())},
        "asked_again": {
            "asks": sum(1 for a in asks if a.interaction_id in inbound_ids),
            "repeated": sum(1 for a in repeated if a.interaction_id in inbound_ids),
            "contacts": len(asked_again),
            "share": _share(len(asked_again), len(contacts)),
        },
        "csat": csat(surveys),
    }


def journey(session: Session, *, since: datetime | None = None,
            until: datetime | None = None, queue: str | None = None) -> dict[str, Any]:
    """Load the cohort and compute its figures."""
    cases, asks, facts, surveys = load(session, since=since, until=until, queue=queue)
    return figures(cases, asks, facts, surveys)
