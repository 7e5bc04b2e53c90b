"""Transcript search (cases.transcript_search) latency over a large index, and the cost of
keeping it: segment inserts/s with the index kept (SQLite FTS5 triggers, PostgreSQL GIN),
redaction per segment (cases.redact), search p50/p99 by query kind, for an admin (every
call) and an agent (their calls only).

    python3 bench/transcript_search.py [--segments 100000] [--queries 200]
                                       [--db sqlite|postgresql|both]

Segments are 12 words drawn from a 3,000-word vocabulary with a Zipf distribution (as
speech is), 100 per interaction (a call of a few minutes, both parties), the interactions
shared by 10 agents, inserted in batches of 1,000 through
SQLAlchemy Core (the triggers / index do their work in the same transactions). Queries:
one frequent word, one rare word, two words, a three-word phrase taken from a stored segment.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from cases.db import make_engine  # noqa: E402
from cases.events import InProcessBus  # noqa: E402
from cases.facts import mask_text  # noqa: E402
from cases.models import TranscriptSegment  # noqa: E402
from cases.redact import redact  # noqa: E402
from cases.review_store import ReviewStore  # noqa: E402
from cases.store import CaseStore  # noqa: E402
from cases.transcript_search import Query  # noqa: E402

VOCABULARY = 3000
WORDS_PER_SEGMENT = 12
SEGMENTS_PER_CALL = 100
AGENTS = 10
BATCH = 1000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def texts(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    return [" ".join(rng.choices(vocab, weights, k=WORDS_PER_SEGMENT)) for _ in range(n)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(url: str, label: str, segments: int, queries: int) -> None:
    rng = random.Random(7)
    vocab = vocabulary(rng)
    said = texts(rng, vocab, segments)
    cases = await CaseStore.open(url, bus=InProcessBus())
    interactions = []
    for i in range(max(AGENTS, segments // SEGMENTS_PER_CALL)):
        ref = await cases.start_voice_interaction(caller=f"+346001{i:05d}", call_id=f"b-{i}")
        await cases.set_interaction_agent(f"b-{i}", f"agent{i % AGENTS}")
        interactions.append(ref.interaction_id)
    await cases.close()

    mask_text.cache_clear()  # the same texts were redacted for the other database
    started = time.perf_counter()
    for line in said[:2000]:
        redact(line)
    redact_us = (time.perf_counter() - started) / min(2000, len(said)) * 1e6

    engine = make_engine(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for at in range(0, segments, BATCH):
        rows = [{"interaction_id": interactions[(at + k) // SEGMENTS_PER_CALL
                                                % len(interactions)], "speaker": "caller",
                 "start": float((at + k) % SEGMENTS_PER_CALL) * 2.5,
                 "end": float((at + k) % SEGMENTS_PER_CALL) * 2.5 + 2.0, "text": said[at + k],
                 "confidence": 0.9, "engine": "bench", "created_at": now}
                for k in range(min(BATCH, segments - at))]
        with engine.begin() as c:
            c.execute(insert(TranscriptSegment), rows)
    insert_s = time.perf_counter() - started
    with engine.begin() as c:
        # Statistics as autovacuum keeps them on a live database (the planner needs the
        # index expression's to pick the GIN index over the agent's interactions).
        c.execute(text("ANALYZE"))
    engine.dispose()
    print(f"{label:10} {segments} segments stored in {insert_s:5.1f} s "
          f"({segments / insert_s:7.0f}/s with the index kept); redaction {redact_us:5.0f} µs"
          f"/segment")

    review = await ReviewStore.open(url)
    try:
        kinds = {
            "frequent word": [vocab[rng.randint(0, 9)] for _ in range(queries)],
            "rare word": [vocab[rng.randint(2000, VOCABULARY - 1)] for _ in range(queries)],
            "two words": [f"{vocab[rng.randint(0, 50)]} {vocab[rng.randint(0, 300)]}"
                          for _ in range(queries)],
            "phrase": ['"' + " ".join(rng.choice(said).split()[3:6]) + '"'
                       for _ in range(queries)],
        }
        for who, agents in (("admin", None), ("agent", frozenset({"agent3"}))):
            for kind, qs in kinds.items():
                times = []
                found = 0
                for q in qs:
                    t0 = time.perf_counter()
                    hits = await review.search(Query.parse(q), agents=agents, limit=50)
                    times.append(time.perf_counter() - t0)
                    found += bool(hits)
                print(f"{label:10} {who:5} {kind:13} p50 {pct(times, 0.5):7.2f} ms   "
                      f"p99 {pct(times, 0.99):7.2f} ms   found {found}/{len(qs)}")
    finally:
        await review.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            asyncio.run(run(f"sqlite:///{tmp}/cases.db", "SQLite", args.segments, args.queries))
        if args.db in ("postgresql", "both"):
            from tests.helpers.postgres import create_database, drop_database, url

            name = create_database("bench_search")
            try:
                asyncio.run(run(url(name), "PostgreSQL", args.segments, args.queries))
            finally:
                drop_database(name)


if __name__ == "__main__":
    main()
