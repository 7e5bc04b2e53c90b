"""The case store: the one interface the server uses to read and write the shared case.

Runs the synchronous SQLAlchemy engine on a small thread pool it owns, so the event loop
never waits on the database. Every write is committed before its coroutine returns (on
SQLite with WAL and `synchronous=FULL`, see `cases.db`), and only then published on the
event bus as `case:{case_id}`: a viewer never sees a segment that a crash could take back.

Transcript text and phone numbers are personal data: they go to the database and the bus,
never into log messages (STYLE.md §12).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cases import facts_store, post_segments, shares, summary_store, validate
from cases.db import DbWorker
from cases.errors import InvalidInput, NotFound, StorageError
from cases.events import EventBus
from cases.identity import (
    IdentityParser,
    is_anonymous_caller,
    open_case_for,
    resolve_customer,
)
from cases.journey import journey as journey_figures
from cases.models import (
    DIRECTIONS,
    IVR_EVENT_KINDS,
    SPEAKERS,
    Case,
    CaseShare,
    Customer,
    Interaction,
    IvrEvent,
    Note,
    TranscriptSegment,
)
from cases.redact import redact
from cases.shares import Share
from cases.store_base import (
    _RESOLVE_ATTEMPTS,
    MESSAGES_TOPIC,
    CaseContact,
    Clock,
    InteractionRef,
    system_clock,
)
from cases.store_text import TextChannels
from cases.summary import warm_up_in_background
from cases.timeline import (
    interaction_view,
    ivr_event_view,
    load_timeline,
    note_view,
    segment_view,
)
from common.languages import LANGUAGES

# Every interaction that ends (node-local: each node surveys its own; centralita.csat_surveys).
INTERACTIONS_TOPIC = "interactions"

# Callers import these from here, wherever they are defined.
__all__ = [
    "INTERACTIONS_TOPIC", "MESSAGES_TOPIC", "CaseContact", "CaseStore", "Clock",
    "InteractionRef", "system_clock",
]

log = logging.getLogger(__name__)


class CaseStore(TextChannels):
    """Customers, cases, interactions, transcript segments and notes (async API).

    Create with `await CaseStore.open(url)`; `await store.close()` when done.
    """

    @classmethod
    async def open(
        cls, url: str, *, now: Clock = system_clock, bus: EventBus | None = None,
        default_region: str | None = None,
    ) -> CaseStore:
        """Connect to `url` (`sqlite:///path` or `postgresql://...`) and migrate to head.

        `default_region` (ISO 3166, e.g. "ES") is the country of nationally dialled numbers;
        without it they cannot name a customer (see `cases.identity`).
        """
        identities = IdentityParser(default_region)
        db = await DbWorker.open_migrated(
            url, workers=4, thread_name="cases-db", name="the case store", error=StorageError
        )
        log.info("case store open (%s, schema at head)", db.engine.dialect.name)
        warm_up_in_background()  # the summariser's first call pays no import
        return cls(db, now, bus, identities)

    # -- voice ---------------------------------------------------------------------------

    async def start_voice_interaction(
        self,
        *,
        caller: str,
        call_id: str,
        direction: str = "inbound",
        dialed: str | None = None,
        customer_id: int | None = None,
    ) -> InteractionRef:
        """Record a new call on the customer's open case.

        `customer_id` names the customer when the caller is known another way than by
        number (a chat visitor who clicked "call us"): the call joins that customer's open
        case (the chat's), or a new one if it was closed; the number is then not looked at.

        The customer is found by phone number: the caller for an inbound call, the dialed
        number for an outbound one (a callback joins the case it was promised on). A new
        number makes a new customer; a customer without an open case gets a new one. A
        withheld number ("anonymous", empty) or one that is not a phone number at all
        (`sip:alice@pbx`) gets a new customer, with no phone identity, and a new case.
        Raises InvalidInput for a bad direction or call id, or a call id already stored.
        """
        direction = validate.choice(direction, DIRECTIONS, "direction")
        call_id = validate.text(call_id, "call_id", max_len=255)
        dialed = validate.optional_text(dialed, "dialed", max_len=255)
        party, where = (caller, "caller") if direction == "inbound" else (dialed, "dialed")
        if party is None:
            raise InvalidInput("an outbound call needs the dialed number", "dialed")
        validate.text(party, where, blank=True)
        number: str | None = None
        if customer_id is not None:
            pass  # known already: the number names nobody here
        elif not is_anonymous_caller(party):
            try:
                number = self._identities.phone(party, where=where)
            except InvalidInput:
                # The number comes off the network (a SIP From such as sip:alice@pbx); a form
                # we cannot read must not cost the call its transcript. Treat it as withheld.
                log.debug("%s is not a phone number; unidentified customer", where)
        ref, new_case = await self._db.run(
            self._start_voice, number, call_id, direction, dialed, customer_id)
        log.info(
            "call interaction %d on case %d (%s case)",
            ref.interaction_id,
            ref.case_id,
            "new" if new_case else "existing",
        )
        await self._publish(
            ref.case_id,
            {"type": "interaction_started", "case_id": ref.case_id, "interaction_id": ref.interaction_id},
        )
        return ref

    def _start_voice(
        self, number: str | None, call_id: str, direction: str, dialed: str | None,
        known: int | None = None,
    ) -> tuple[InteractionRef, bool]:
        for attempt in range(_RESOLVE_ATTEMPTS):
            try:
                with self._session() as session, session.begin():
                    if session.scalar(select(Interaction.id).where(Interaction.call_id == call_id)):
                        raise InvalidInput("this call already has an interaction", "call_id")
                    now = self._now()
                    if known is not None:
                        if session.get(Customer, known) is None:
                            raise NotFound("customer", known)
                        customer_id = known
                    else:
                        customer_id = self._customer_for(session, number, now)
                    case, new_case = self._open_case_for(session, customer_id, now)
                    interaction = Interaction(
                        case_id=case.id,
                        channel="voice",
                        direction=direction,
                        started_at=now,
                        dialed=dialed,
                        call_id=call_id,
                    )
                    case.updated_at = now
                    session.add(interaction)
                    session.flush()
                    return InteractionRef(customer_id, case.id, interaction.id), new_case
            except IntegrityError:
                if attempt == _RESOLVE_ATTEMPTS - 1:
                    raise
                log.debug("concurrent resolution of a caller; retrying")
        raise AssertionError("unreachable")

    @staticmethod
    def _customer_for(session: Session, number: str | None, now: datetime) -> int:
        if number is not None:
            return resolve_customer(session, "phone", number, now)
        customer = Customer(created_at=now)
        session.add(customer)
        session.flush()
        return customer.id

    @staticmethod
    def _open_case_for(session: Session, customer_id: int, now: datetime) -> tuple[Case, bool]:
        return open_case_for(session, customer_id, now)

    async def add_segment(
        self,
        interaction_id: int,
        *,
        speaker: str,
        start: float,
        end: float,
        text: str,
        confidence: float | None,
        engine: str,
        language: str | None = None,
    ) -> int:
        """Store a final transcript segment; returns its id once it is committed.

        `start`/`end` are seconds from the interaction's start. Segments may still arrive
        after `end_interaction` (the recogniser flushing at hangup) and are kept. `language`:
        the code it was recognised in (common.languages), None when the engine did not say.
        """
        interaction_id = validate.row_id(interaction_id, "interaction")
        speaker = validate.choice(speaker, SPEAKERS, "speaker")
        start = validate.seconds(start, "start")
        end = validate.seconds(end, "end")
        if end < start:
            raise InvalidInput(f"end ({end}) is before start ({start})", "end")
        text = validate.text(text, "text")
        conf = validate.confidence(confidence)
        engine = validate.text(engine, "engine", max_len=64)
        if language is not None and language not in LANGUAGES:
            raise InvalidInput(f"unsupported language {language!r}", "language")
        # Card numbers and long digit runs never reach the database (cases.redact).
        text = redact(text, language)
        seg = TranscriptSegment(
            interaction_id=interaction_id,
            speaker=speaker,
            start=start,
            end=end,
            text=text,
            confidence=conf,
            engine=engine,
            language=language,
            source="live",
        )
        case_id, view = await self._db.run(self._add_scored, seg)
        await self._publish(case_id, {"type": "segment", "case_id": case_id, "segment": view})
        return int(view["id"])

    def _add_scored(self, seg: TranscriptSegment) -> tuple[int, dict[str, Any]]:
        """Add a segment with its sentiment and topics (cases.insights: lexicons load on
        the database thread, never on the event loop)."""
        post_segments.score(seg)
        return self._add_to_interaction(seg, "created_at", segment_view)

    def _add_to_interaction(
        self, row: TranscriptSegment | IvrEvent, stamp: str,
        view: Callable[[Any], dict[str, Any]],
    ) -> tuple[int, dict[str, Any]]:
        """Add `row` under its interaction (stamping `stamp` with now); (case id, its view)."""
        with self._session() as session, session.begin():
            case_id = session.scalar(
                select(Interaction.case_id).where(Interaction.id == row.interaction_id)
            )
            if case_id is None:
                raise NotFound("interaction", row.interaction_id)
            setattr(row, stamp, self._now())
            session.add(row)
            session.flush()
            return case_id, view(row)

    async def add_ivr_event(
        self,
        interaction_id: int,
        *,
        kind: str,
        value: Any,
        step: str | None = None,
        step_index: int | None = None,
        sensitive: bool = False,
    ) -> int:
        """Store one IVR input (digits, speech, variable, path, voicemail); returns its id
        once committed.

        `value` is any JSON value (at most `validate.MAX_JSON_CHARS` serialised). Values of
        sensitive steps must be masked by the caller: the store keeps what it is given.
        """
        interaction_id = validate.row_id(interaction_id, "interaction")
        kind = validate.choice(kind, IVR_EVENT_KINDS, "kind")
        value = validate.json_value(value, "value")
        step = validate.optional_text(step, "step", max_len=100)
        if step_index is not None and (
            isinstance(step_index, bool) or not isinstance(step_index, int) or step_index < 0
        ):
            raise InvalidInput("must be a non-negative integer or None", "step_index")
        if not isinstance(sensitive, bool):
            raise InvalidInput("must be true or false", "sensitive")
        event = IvrEvent(
            interaction_id=interaction_id, kind=kind, value=value, step=step,
            step_index=step_index, sensitive=sensitive,
        )
        case_id, view = await self._db.run(
            self._add_to_interaction, event, "at", ivr_event_view
        )
        await self._publish(case_id, {"type": "ivr_event", "case_id": case_id, "ivr_event": view})
        return int(view["id"])

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None:
        """Close an interaction with its outcome (e.g. "completed", "abandoned") and summary."""
        interaction_id = validate.row_id(interaction_id, "interaction")
        outcome = validate.text(outcome, "outcome", max_len=100)
        summary = validate.optional_text(summary, "summary")
        view = await self._db.run(self._end_interaction, interaction_id, outcome, summary)
        ended = {"type": "interaction_ended", "case_id": view["case_id"], "interaction": view}
        await self._publish(view["case_id"], ended)
        if self._bus is not None:  # every ended interaction, for the CSAT surveys
            await self._bus.publish(INTERACTIONS_TOPIC, ended)
        await self._publish_summary(view["case_id"], interaction_id, view.get("summary_detail"))

    def _end_interaction(
        self, interaction_id: int, outcome: str, summary: str | None
    ) -> dict[str, Any]:
        with self._session() as session, session.begin():
            interaction = session.get(Interaction, interaction_id)
            if interaction is None:
                raise NotFound("interaction", interaction_id)
            if interaction.ended_at is not None:
                # Overwriting would lose the first outcome; a second end is a caller's bug.
                raise InvalidInput("the interaction has already ended", "interaction_id")
            now = self._now()
            interaction.ended_at = now
            interaction.outcome = outcome
            interaction.summary = summary
            interaction.case.updated_at = now
            session.flush()
            # The summary and its facts, in the same transaction (cases.summary_store).
            summary_store.make_summary(session, interaction, now, self._region)
            post_segments.store_insights(session, interaction)
            session.flush()
            return interaction_view(interaction, with_segments=False)

    # -- cases -----------------------------------------------------------------------------

    async def add_note(self, case_id: int, *, author: str, text: str) -> int:
        """Leave a note on a case; returns the note's id."""
        case_id = validate.row_id(case_id, "case")
        author = validate.text(author, "author", max_len=100)
        text = validate.text(text, "text")
        view, remade = await self._db.run(self._add_note, case_id, author, text)
        await self._publish(case_id, {"type": "note", "case_id": case_id, "note": view})
        if remade is not None:
            await self._publish_summary(case_id, *remade)
        return int(view["id"])

    def _add_note(
        self, case_id: int, author: str, text: str
    ) -> tuple[dict[str, Any], tuple[int, dict[str, Any]] | None]:
        with self._session() as session, session.begin():
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound("case", case_id)
            now = self._now()
            note = Note(case_id=case_id, author=author, text=text, created_at=now)
            case.updated_at = now
            session.add(note)
            session.flush()
            # A wrap-up note comes after the call ended: its summary takes it in.
            remade = summary_store.after_note(session, case_id, author, now, self._region)
            return note_view(note), remade

    # -- summaries and facts (cases.summary, cases.facts) -----------------------------------

    @property
    def _region(self) -> str | None:
        return self._identities.default_region

    async def _publish_summary(
        self, case_id: int, interaction_id: int, summary: dict[str, Any] | None
    ) -> None:
        if summary:
            await self._publish(case_id, {
                "type": "summary", "case_id": case_id, "interaction_id": interaction_id,
                "summary": summary})

    async def refresh_summary(self, interaction_id: int) -> dict[str, Any]:
        """Remake the summary of interaction `interaction_id` from what is stored now (during
        a call, after a final segment: the screen pop's summary), store it with its facts,
        publish it; the stored summary. An agent's edits are kept."""
        interaction_id = validate.row_id(interaction_id, "interaction")
        made: tuple[int, dict[str, Any]] = await self._db.run(
            self._in_transaction, summary_store.summarise_interaction, interaction_id,
            self._now(), self._region)
        case_id, summary = made
        await self._publish_summary(case_id, interaction_id, summary)
        return summary

    # -- the post-call pass (cases.post_segments) ------------------------------------------

    async def replace_post_segments(
        self, interaction_id: int, segments: list[post_segments.PostSegmentIn], *, engine: str,
    ) -> int:
        """Store the post-call pass's transcript of an interaction (replacing an earlier
        pass's), publish it, remake the summary from it; how many segments were stored."""
        interaction_id = validate.row_id(interaction_id, "interaction")
        engine = validate.text(engine, "engine", max_len=64)
        clean = []
        for seg in segments:
            if seg.language is not None and seg.language not in LANGUAGES:
                raise InvalidInput(f"unsupported language {seg.language!r}", "language")
            clean.append(post_segments.PostSegmentIn(
                validate.choice(seg.speaker, SPEAKERS, "speaker"),
                validate.seconds(seg.start, "start"), validate.seconds(seg.end, "end"),
                # Masked like a live segment (cases.redact): the pass hears card numbers too.
                validate.text(redact(seg.text, seg.language), "text"),
                validate.confidence(seg.confidence), seg.language))

        def store(session: Session) -> tuple[int, list[dict[str, Any]]]:
            case_id, rows = post_segments.replace_post(
                session, interaction_id, clean, engine, self._now())
            return case_id, [segment_view(r) for r in rows]

        case_id, views = await self._db.run(self._in_transaction, store)
        await self._publish(case_id, {"type": "transcript", "case_id": case_id,
                                      "interaction_id": interaction_id, "source": "post",
                                      "segments": views})
        await self.refresh_summary(interaction_id)
        return len(views)

    async def post_pass_context(self, interaction_id: int) -> post_segments.PassContext:
        """What the post-call pass needs of an interaction (cases.post_segments)."""
        interaction_id = validate.row_id(interaction_id, "interaction")

        def read(session: Session) -> post_segments.PassContext:
            return post_segments.PassContext(
                post_segments.interaction_start(session, interaction_id),
                post_segments.live_language(session, interaction_id),
                post_segments.first_live_start(session, interaction_id, "agent"))

        return await self._db.run(self._read, read)

    async def interaction_summary(
        self, case_id: int, interaction_id: int
    ) -> dict[str, Any] | None:
        """The stored summary of interaction `interaction_id` of case `case_id` (None when
        none is made yet); NotFound when the interaction is not the case's."""
        case_id = validate.row_id(case_id, "case")
        interaction_id = validate.row_id(interaction_id, "interaction")

        def read(session: Session) -> dict[str, Any] | None:
            interaction = session.get(Interaction, interaction_id)
            if interaction is None or interaction.case_id != case_id:
                raise NotFound("interaction", interaction_id)
            return summary_store.stored_summary(interaction.summary)

        return await self._db.run(self._read, read)

    async def edit_summary(
        self, case_id: int, interaction_id: int, fields: dict[str, Any], *, by: str
    ) -> dict[str, Any]:
        """An agent's edit of a summary before it is sent on: `text`, `next_steps`, `outcome`
        (`cases.summary_store.check_edit`; masked like the rest). Kept when the summary is
        remade. The stored summary; InvalidInput names a bad field, NotFound a foreign
        interaction."""
        case_id = validate.row_id(case_id, "case")
        interaction_id = validate.row_id(interaction_id, "interaction")
        by = validate.text(by, "by", max_len=100)
        checked = summary_store.check_edit(fields)
        summary: dict[str, Any] = await self._db.run(
            self._in_transaction, summary_store.edit_summary, case_id, interaction_id,
            checked, by, self._now(), self._region)
        await self._publish_summary(case_id, interaction_id, summary)
        return summary

    async def add_fact(
        self, case_id: int, key: str, value: str, *, origin: str = "agent",
        interaction_id: int | None = None, second: float | None = None,
        ivr_step: str | None = None, message_id: int | None = None,
        language: str | None = None, sensitive: bool = False,
    ) -> dict[str, Any]:
        """Keep a fact on case `case_id` (`order_number` = "456") with its source; a
        sensitive value is stored masked, and a card number in any value too. The stored
        fact; InvalidInput names a bad field."""
        case_id = validate.row_id(case_id, "case")
        if interaction_id is not None:
            interaction_id = validate.row_id(interaction_id, "interaction")
        if message_id is not None:
            message_id = validate.row_id(message_id, "message")
        if not isinstance(sensitive, bool):
            raise InvalidInput("must be true or false", "sensitive")
        fact = facts_store.check(facts_store.NewFact(
            key, value, origin, interaction_id, second, ivr_step, message_id, language,
            sensitive))
        view: dict[str, Any] = await self._db.run(
            self._in_transaction, facts_store.add_fact, self._now(), case_id, fact)
        await self._publish(case_id, {"type": "fact", "case_id": case_id, "fact": view})
        return view

    async def known_facts(self, case_id: int) -> dict[str, str]:
        """The unmasked facts of case `case_id` by key, the latest of each (what flows may
        use instead of asking again: `ivr.case_vars`)."""
        known: dict[str, str] = {}
        for fact in await self.facts(case_id):
            if not fact["masked"]:
                known[fact["key"]] = fact["value"]
        return known

    async def recent_contacts(self, case_id: int, *, days: float,
                              inbound_only: bool = False) -> int:
        """How many interactions (calls, chats, message threads, emails) the customer of
        case `case_id` started in the last `days` (the store's clock), on any of their
        cases; `inbound_only`: those the customer started (not a callback or a text we
        sent)."""
        case_id = validate.row_id(case_id, "case")
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days < 36500:
            raise InvalidInput("a number of days", "days")
        since = self._now() - timedelta(days=days)

        def count(session: Session) -> int:
            customer = session.scalar(select(Case.customer_id).where(Case.id == case_id))
            if customer is None:
                raise NotFound("case", case_id)
            query = (select(func.count(Interaction.id))
                     .join(Case, Case.id == Interaction.case_id)
                     .where(Case.customer_id == customer, Interaction.started_at >= since))
            if inbound_only:
                query = query.where(Interaction.direction == "inbound")
            return int(session.scalar(query) or 0)

        return await self._db.run(self._read, count)

    async def journey(self, *, since: datetime | None = None, until: datetime | None = None,
                      queue: str | None = None) -> dict[str, Any]:
        """The journey figures (`cases.journey`) of the cases whose first contact started
        in [since, until), only those through `queue` when given."""
        if since is not None and until is not None and until < since:
            raise InvalidInput("until is before since", "until")
        return await self._db.run(self._read, functools.partial(
            journey_figures, since=since, until=until, queue=queue))

    async def facts(self, case_id: int) -> list[dict[str, Any]]:
        """The facts of case `case_id`, oldest first (NotFound for an unknown case)."""
        case_id = validate.row_id(case_id, "case")

        def read(session: Session) -> list[dict[str, Any]]:
            if session.get(Case, case_id) is None:
                raise NotFound("case", case_id)
            return facts_store.facts_of(session, case_id)

        return await self._db.run(self._read, read)

    async def name_customer(self, customer_id: int, name: str, *, replace: bool = False) -> bool:
        """Give customer `customer_id` the display name `name` (1-200 characters, one line)
        shown on their case; an existing name is kept unless `replace` (what a visitor types
        in a form proves nothing: an agent's correction replaces). Whether it was set."""
        customer_id = validate.row_id(customer_id, "customer")
        name = validate.text(name, "display_name", max_len=200)
        if "\n" in name or "\r" in name:
            raise InvalidInput("must be one line of 1-200 characters", "display_name")

        def apply() -> tuple[int | None, bool]:
            with self._session() as session, session.begin():
                customer = session.get(Customer, customer_id)
                if customer is None:
                    raise NotFound("customer", customer_id)
                if customer.display_name and not replace:
                    return None, False
                customer.display_name = name
                case_id = session.scalar(select(Case.id).where(
                    Case.customer_id == customer_id, Case.status == "open"))
                return case_id, True

        case_id, changed = await self._db.run(apply)
        if changed and case_id is not None:
            await self._publish(case_id, {"type": "customer_named", "case_id": case_id})
        return changed

    async def share_case(self, case_id: int, user: str, *, by: str) -> tuple[Share, bool]:
        """Share case `case_id` with `user` (who may then read it, `web.case_access`);
        returns the share and whether it is new. `NotFound` for an unknown case."""
        case_id = validate.row_id(case_id, "case")
        user = validate.text(user, "user", max_len=100)
        by = validate.text(by, "shared_by", max_len=100)
        return await self._db.run(self._in_transaction, shares.share, case_id, user, by,
                                  self._now())

    async def unshare_case(self, case_id: int, user: str) -> bool:
        """Withdraw `user`'s share of case `case_id`; False when there was none."""
        case_id = validate.row_id(case_id, "case")
        user = validate.text(user, "user", max_len=100)
        return bool(await self._db.run(self._in_transaction, shares.unshare, case_id, user))

    async def case_shares(self, case_id: int) -> list[Share]:
        """Everyone case `case_id` is shared with."""
        case_id = validate.row_id(case_id, "case")
        return list(await self._db.run(self._in_transaction, shares.shares_of, case_id))

    async def close_case(self, case_id: int) -> None:
        """Mark a case closed; the customer's next contact opens a new one. Idempotent."""
        case_id = validate.row_id(case_id, "case")
        await self._db.run(self._close_case, case_id)
        await self._publish(case_id, {"type": "case_closed", "case_id": case_id})

    def _close_case(self, case_id: int) -> None:
        with self._session() as session, session.begin():
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound("case", case_id)
            if case.status != "closed":
                case.status = "closed"
                case.updated_at = self._now()

    async def timeline(self, case_id: int) -> dict[str, Any]:
        """The case as JSON-ready data (see `cases.timeline.timeline_view`)."""
        case_id = validate.row_id(case_id, "case")
        return await self._db.run(self._timeline, case_id)

    def _timeline(self, case_id: int) -> dict[str, Any]:
        with self._session() as session:
            return load_timeline(session, case_id)

    # -- public ids and who worked on a case (access control) -------------------------------

    async def case_by_public_id(self, public_id: str) -> int:
        """The internal id of the case whose public id is `public_id`; NotFound otherwise."""
        public_id = validate.text(public_id, "public_id", max_len=64)
        found = await self._db.run(self._scalar, select(Case.id).where(Case.public_id == public_id))
        if found is None:
            raise NotFound("case", public_id)
        return int(found)

    async def public_id(self, case_id: int) -> str:
        """The public id of case `case_id` (what URLs and JSON use); NotFound otherwise."""
        case_id = validate.row_id(case_id, "case")
        found = await self._db.run(self._scalar, select(Case.public_id).where(Case.id == case_id))
        if found is None:
            raise NotFound("case", case_id)
        return str(found)

    def _scalar(self, query: Any) -> Any:
        with self._session() as session:
            return session.scalar(query)

    async def set_interaction_agent(self, call_id: str, agent: str) -> int | None:
        """Record `agent` as the agent who took the call `call_id`, unless one is recorded
        already (the first agent stays: later ones, after a transfer, leave their wrap-up
        note). Returns the call's case id, None when the call has no interaction."""
        call_id = validate.text(call_id, "call_id", max_len=255)
        agent = validate.text(agent, "agent", max_len=100)
        return await self._db.run(self._set_interaction_agent, call_id, agent)

    def _set_interaction_agent(self, call_id: str, agent: str) -> int | None:
        with self._session() as session, session.begin():
            interaction = session.scalar(select(Interaction).where(Interaction.call_id == call_id))
            if interaction is None:
                return None
            if interaction.agent is None:
                interaction.agent = agent
            return interaction.case_id

    async def case_contacts(self, case_id: int) -> list[CaseContact]:
        """Who worked on case `case_id`, from what is stored: the agents of its interactions
        and the authors of its notes."""
        case_id = validate.row_id(case_id, "case")
        return await self._db.run(self._case_contacts, case_id)

    def _case_contacts(self, case_id: int) -> list[CaseContact]:
        with self._session() as session:
            taken = session.execute(
                select(Interaction.agent, Interaction.started_at, Interaction.ended_at).where(
                    Interaction.case_id == case_id, Interaction.agent.is_not(None))
            ).all()
            notes = session.execute(
                select(Note.author, Note.created_at).where(Note.case_id == case_id)
            ).all()
            shared = session.execute(
                select(CaseShare.user, CaseShare.created_at).where(CaseShare.case_id == case_id)
            ).all()
        return [CaseContact(str(a), "interaction", at, ended) for a, at, ended in taken] + [
            CaseContact(str(a), "note", at) for a, at in notes] + [
            CaseContact(str(u), "share", at) for u, at in shared]

    async def find_interaction_by_call(self, call_id: str) -> tuple[int, datetime] | None:
        """The id and start time of the interaction of `call_id`, or None."""
        call_id = validate.text(call_id, "call_id", max_len=255)
        return await self._db.run(self._find_interaction_by_call, call_id)

    def _find_interaction_by_call(self, call_id: str) -> tuple[int, datetime] | None:
        with self._session() as session:
            row = session.execute(
                select(Interaction.id, Interaction.started_at).where(Interaction.call_id == call_id)
            ).first()
            return None if row is None else (row[0], row[1])

    async def call_handled(self, call_id: str) -> tuple[str | None, str | None]:
        """(agent, queue) of the interaction of `call_id`; (None, None) when there is none.
        One row read: a repeat caller's case may hold hundreds of interactions."""
        call_id = validate.text(call_id, "call_id", max_len=255)
        return await self._db.run(self._call_handled, call_id)

    def _call_handled(self, call_id: str) -> tuple[str | None, str | None]:
        with self._session() as session:
            row = session.execute(
                select(Interaction.agent, Interaction.queue).where(Interaction.call_id == call_id)
            ).first()
            return (None, None) if row is None else (row[0], row[1])

    async def find_case_by_call(self, call_id: str) -> int | None:
        """The case holding the interaction of `call_id`, or None."""
        call_id = validate.text(call_id, "call_id", max_len=255)
        return await self._db.run(self._find_case_by_call, call_id)

    def _find_case_by_call(self, call_id: str) -> int | None:
        with self._session() as session:
            return session.scalar(select(Interaction.case_id).where(Interaction.call_id == call_id))
