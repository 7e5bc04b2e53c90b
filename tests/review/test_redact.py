"""Stored transcripts never hold a card number or a long spoken digit run (cases.redact),
on SQLite and PostgreSQL: what the recogniser wrote is masked before the segment is stored,
so the database, the search index and the case's live view all see the masked text."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from cases.db import make_engine, upgrade
from cases.events import InProcessBus
from cases.redact import redact
from cases.review_store import ReviewStore
from cases.store import CaseStore
from cases.transcript_search import Query
from centralita.schema import alembic_config

SPOKEN_CARD = ("my card number is four one one one one one one one "
               "one one one one one one one one")


def test_a_spoken_card_number_keeps_only_its_last_four_digits() -> None:
    assert redact(SPOKEN_CARD) == "my card number is ***1111"
    assert redact("4111 1111 1111 1111 thanks") == "***1111 thanks"
    assert redact("mi tarjeta es cuatro uno uno uno uno uno uno uno uno uno uno uno uno "
                  "uno uno uno", "es") == "mi tarjeta es ***1111"


def test_half_a_card_number_in_a_segment_of_its_own_is_masked() -> None:
    # Recognisers cut a number read aloud at a breath: neither half is 13+ digits.
    assert redact("four one one one, one one one one") == "***"
    assert redact("and then two two two two three three three three ok") == "and then *** ok"
    assert redact("call me at 6 5 5 1 2 3 4 5 6") == "call me at ***"


def test_short_numbers_references_and_plain_speech_are_kept_as_said() -> None:
    for said in ("I have twenty three items", "it was three hundred dollars",
                 "my order number is four five six seven eight nine",
                 "the tracking number is 123456", "room 1204 please", "hello there"):
        assert redact(said) == said
    assert redact("security code one two three") == "security code ***"


async def test_the_store_keeps_the_masked_text_only(db_url: str) -> None:
    store = await CaseStore.open(db_url, bus=InProcessBus())
    try:
        ref = await store.start_voice_interaction(caller="+34600111222", call_id="red-1")
        await store.add_segment(ref.interaction_id, speaker="caller", start=1.0, end=6.0,
                                text=SPOKEN_CARD, confidence=0.9, engine="test")
        await store.add_segment(ref.interaction_id, speaker="caller", start=7.0, end=9.0,
                                text="one one one one two two two two", confidence=0.9,
                                engine="test")
        view = await store.timeline(ref.case_id)
        texts = [s["text"] for i in view["interactions"] for s in i["segments"]]
        assert texts == ["my card number is ***1111", "***"]
    finally:
        await store.close()
    engine = make_engine(db_url)
    try:
        with engine.connect() as c:
            stored = [r[0] for r in c.execute(text("SELECT text FROM transcript_segments"))]
    finally:
        engine.dispose()
    assert stored == ["my card number is ***1111", "***"]
    assert not any("one one" in s or "1111 1111" in s for s in stored)


async def test_segments_stored_before_redaction_are_redacted_by_the_migration(
        db_url: str) -> None:
    store = await CaseStore.open(db_url, bus=InProcessBus())
    try:
        ref = await store.start_voice_interaction(caller="+34600111222", call_id="red-2")
        await store.add_segment(ref.interaction_id, speaker="caller", start=1.0, end=6.0,
                                text="hello there", confidence=0.9, engine="test")
        await store.add_segment(ref.interaction_id, speaker="caller", start=7.0, end=9.0,
                                text="my order number is 123456", confidence=0.9,
                                engine="test")
    finally:
        await store.close()
    engine = make_engine(db_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0018_csat_surveys")
            # As an older release stored it: the recogniser's words, card number and all.
            connection.execute(text("UPDATE transcript_segments SET text = :t WHERE text = "
                                    "'hello there'"), {"t": "card 4111 1111 1111 1111 ok"})
        upgrade(engine)
        with engine.connect() as connection:
            stored = sorted(r[0] for r in connection.execute(
                text("SELECT text FROM transcript_segments")))
    finally:
        engine.dispose()
    assert stored == ["card ***1111 ok", "my order number is 123456"]
    review = await ReviewStore.open(db_url)
    try:
        assert await review.search(Query.parse("4111")) == []
        assert [h.text for h in await review.search(Query.parse("card ok"))] == [
            "card ***1111 ok"]
    finally:
        await review.close()
