"""Transcript search (cases.transcript_search through cases.review_store) and QA reviews
(cases.qa), on SQLite (FTS5) and PostgreSQL (tsvector + GIN): segments written by the case
store are found by their words or phrase, limited to given agents, the index is backfilled
by the migration for segments stored before it, follows deletions, and is erased per
interaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from alembic import command
from sqlalchemy import text

from cases.db import make_engine
from cases.errors import InvalidInput, NotFound
from cases.events import InProcessBus
from cases.post_segments import PostSegmentIn
from cases.review_store import ReviewStore
from cases.store import CaseStore
from cases.transcript_search import Query
from centralita.schema import alembic_config

SAID = {
    "ana": [("caller", 1.0, "I would like to ask about the refund policy for my order"),
            ("agent", 4.5, "Of course, the refund takes five working days"),
            ("caller", 8.0, "my card number is four one one one one one one one one one one "
                            "one one one one one")],
    "bo": [("caller", 2.0, "The delivery van never came to the house"),
           ("agent", 6.0, "Lo siento, el número de seguimiento no aparece")],
}


@dataclass
class Rig:
    cases: CaseStore
    review: ReviewStore
    interactions: dict[str, int]


async def _fill(cases: CaseStore) -> dict[str, int]:
    ids = {}
    for agent, lines in SAID.items():
        ref = await cases.start_voice_interaction(caller="+34600111222", call_id=f"s-{agent}")
        await cases.set_interaction_agent(f"s-{agent}", agent)
        for speaker, start, said in lines:
            await cases.add_segment(ref.interaction_id, speaker=speaker, start=start,
                                    end=start + 3, text=said, confidence=0.9, engine="test")
        ids[agent] = ref.interaction_id
    return ids


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    cases = await CaseStore.open(db_url, bus=InProcessBus())
    review = await ReviewStore.open(db_url)
    try:
        yield Rig(cases, review, await _fill(cases))
    finally:
        await review.close()
        await cases.close()


async def _texts(review: ReviewStore, q: str, agents: frozenset[str] | None = None
                 ) -> list[str]:
    return [h.text for h in await review.search(Query.parse(q), agents=agents)]


async def test_words_and_phrases_are_found_in_stored_segments(rig: Rig) -> None:
    hits = await rig.review.search(Query.parse("refund policy"))
    assert [(h.interaction_id, h.speaker, h.start, h.agent, h.call_id) for h in hits] == [
        (rig.interactions["ana"], "caller", 1.0, "ana", "s-ana")]
    # All words, any order; case ignored.
    assert await _texts(rig.review, "POLICY refund") == [SAID["ana"][0][2]]
    assert sorted(await _texts(rig.review, "refund")) == sorted(
        [SAID["ana"][0][2], SAID["ana"][1][2]])
    # A quoted phrase needs the words in order.
    assert await _texts(rig.review, '"van never came"') == [SAID["bo"][0][2]]
    assert await _texts(rig.review, '"came never van"') == []
    assert await _texts(rig.review, "seguimiento") == [SAID["bo"][1][2]]
    assert await _texts(rig.review, "refund banana") == []
    # Newest call first (bo's was stored after ana's), each call's lines in time order.
    assert await _texts(rig.review, "the") == [
        SAID["bo"][0][2], SAID["ana"][0][2], SAID["ana"][1][2]]


async def test_results_are_limited_to_the_agents_given(rig: Rig) -> None:
    assert await _texts(rig.review, "refund", frozenset({"bo"})) == []
    assert len(await _texts(rig.review, "refund", frozenset({"ana", "bo"}))) == 2
    assert await _texts(rig.review, "delivery", frozenset()) == []


async def test_query_syntax_never_reaches_the_engine_and_bad_queries_are_refused(
        rig: Rig) -> None:
    # FTS5 and tsquery operators are just dropped punctuation here.
    assert await _texts(rig.review, 'refund" * ^(policy:') == [SAID["ana"][0][2]]
    assert await _texts(rig.review, "refund & !policy | (") == [SAID["ana"][0][2]]
    for bad in ("", "   ", "?!*", "x" * 201, " ".join(["w"] * 17)):
        with pytest.raises(InvalidInput):
            Query.parse(bad)


async def test_a_redacted_card_number_cannot_be_found(rig: Rig) -> None:
    assert await _texts(rig.review, "4111") == []
    assert await _texts(rig.review, "four one one") == []
    assert await _texts(rig.review, "card number") == ["my card number is ***1111"]


async def test_the_migration_indexes_segments_stored_before_it(db_url: str) -> None:
    cases = await CaseStore.open(db_url, bus=InProcessBus())
    try:
        ids = await _fill(cases)
    finally:
        await cases.close()
    engine = make_engine(db_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0014_erasures")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM transcript_segments")).scalar() == 5
    finally:
        engine.dispose()
    review = await ReviewStore.open(db_url)  # migrates to head again: the backfill
    try:
        hits = await review.search(Query.parse("delivery van"))
        assert [h.interaction_id for h in hits] == [ids["bo"]]
    finally:
        await review.close()


async def test_the_index_follows_deleted_segments_and_erasure(rig: Rig, db_url: str) -> None:
    ana, bo = rig.interactions["ana"], rig.interactions["bo"]
    removed = await rig.review.erase_interactions([ana])
    assert removed["review.search"] == (3 if db_url.startswith("sqlite") else 0)
    if db_url.startswith("sqlite"):
        assert await _texts(rig.review, "refund") == []
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM transcript_segments WHERE interaction_id IN "
                                    "(:a, :b)"), {"a": ana, "b": bo})
    finally:
        engine.dispose()
    assert await _texts(rig.review, "refund") == []
    assert await _texts(rig.review, "delivery") == []


async def test_qa_reviews_are_stored_checked_listed_and_erased(rig: Rig) -> None:
    ana = rig.interactions["ana"]
    first = await rig.review.add_review(ana, "sam", 85, "Clear about the refund.")
    second = await rig.review.add_review(ana, "sam", None, "Follow up on the card.")
    assert (first["score"], first["reviewer"], first["notes"]) == (
        85, "sam", "Clear about the refund.")
    assert [r["id"] for r in await rig.review.reviews(ana)] == [first["id"], second["id"]]
    for score, notes, where in ((101, "x", "score"), (-1, "x", "score"), ("9", "x", "score"),
                                (True, "x", "score"), (None, "  ", "notes"),
                                (50, "x" * 4001, "notes"), (50, 7, "notes")):
        with pytest.raises(InvalidInput) as bad:
            await rig.review.add_review(ana, "sam", score, notes)
        assert bad.value.where == where
    with pytest.raises(NotFound):
        await rig.review.add_review(999_999, "sam", 50, "")
    assert await rig.review.reviews(rig.interactions["bo"]) == []
    assert (await rig.review.erase_interactions([ana]))["review.qa"] == 2
    assert await rig.review.reviews(ana) == []


async def test_a_call_transcribed_again_shows_and_finds_only_the_post_call_transcript(
        rig: Rig) -> None:
    ana = rig.interactions["ana"]
    assert [s["source"] for s in await rig.review.segments(ana)] == ["live"] * 3
    await rig.cases.replace_post_segments(ana, [
        PostSegmentIn("caller", 1.1, 3.9, "I would like to ask about the refund policy, please",
                      0.95, "en"),
        PostSegmentIn("agent", 4.6, 7.0, "Of course: refunds take five working days",
                      0.95, "en")], engine="whisper-base")
    shown = await rig.review.segments(ana)
    assert [(s["source"], s["start"]) for s in shown] == [("post", 1.1), ("post", 4.6)]
    # One hit for the call, from the transcript shown, not the live copy as well.
    assert await _texts(rig.review, "refund policy") == [
        "I would like to ask about the refund policy, please"]
    assert await _texts(rig.review, "refund takes") == []
    # Another call's live lines are still found.
    assert await _texts(rig.review, "delivery van") == [SAID["bo"][0][2]]


async def test_a_phrase_is_found_across_hyphens_and_punctuation(rig: Rig) -> None:
    said = "He was not an ill-disposed young man, unless to be rather cold-hearted."
    await rig.cases.add_segment(rig.interactions["bo"], speaker="caller", start=12.0,
                                end=16.0, text=said, confidence=0.9, engine="test")
    for phrase in ('"an ill disposed young"', '"young man unless"', '"rather cold hearted"',
                   '"ill-disposed young man"'):
        assert await _texts(rig.review, phrase) == [said], phrase
    assert await _texts(rig.review, '"disposed ill"') == []
    assert await _texts(rig.review, '"man young"') == []
