"""Summary bench: time and peak memory to summarise a two-party call transcript.

    python3 bench/summary.py [--minutes 10] [--runs 20] [--seed 7] [--no-store]

The transcript is synthetic and fixed by the seed: caller and agent take turns every ~4 s
(about 150 words a minute, as people speak), the caller reading order numbers, amounts,
dates, an email address, a phone number and a card number with its security code in words
("four five six"), the agent answering and promising. Figures:

- `summarise`: `cases.summary.summarise` on the in-memory record, every text read afresh
  (per-text caches cleared), median and worst of `--runs` after one warm-up run, and its peak
  Python memory (tracemalloc) on one run;
- `+1 segment`: the live path, the summary remade after one more final segment when the
  earlier ones were seen (their scans are cached);
- `cold`: the first run in this process, which also imports YAKE (no model is loaded: YAKE
  is statistics over the text);
- `store`: `CaseStore.refresh_summary` on SQLite with the transcript stored (read segments,
  summarise, write the summary and facts), median of `--runs` (skip with --no-store).

Target (issue 12): <= 50 ms for 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cases.summary as summary_module  # noqa: E402
from cases.facts import mask_text, scan  # noqa: E402
from cases.summary import AgentNote, InteractionRecord, IvrInput, Segment, summarise  # noqa: E402

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CALLER = [
    "I am calling about my order {ref}, it has not arrived yet.",
    "The tracking number they gave me is {ref} but it shows nothing.",
    "I was charged {amount} dollars on {date} and again the day after.",
    "You can reach me at {email} or call me on {phone}.",
    "Yes, that is right, the parcel was supposed to come last week.",
    "Honestly I have been waiting for a long time and I need it for a birthday.",
    "My account number is {ref} if that helps you find it.",
    "Could you check whether the address on the order is correct?",
]
AGENT = [
    "Thank you, let me look that up for you.",
    "I can see the order here, it left our warehouse on {date}.",
    "I will open a claim with the carrier and you will receive an email today.",
    "I'm sorry about the double charge, I'll refund {amount} dollars to your card.",
    "Is there anything else I can help you with?",
    "Let me put you on hold for a moment while I check with the team.",
]
MONTHS = ["January", "March", "May", "July", "September", "November"]


def spoken_digits(rng: random.Random, n: int) -> str:
    return " ".join(DIGITS[rng.randrange(10)] for _ in range(n))


def fill(template: str, rng: random.Random) -> str:
    return template.format(
        ref=spoken_digits(rng, rng.randint(3, 6)),
        amount=rng.choice(["twenty", "forty five", "ninety nine", "one hundred twenty"]),
        date=f"{rng.choice(MONTHS)} {rng.choice(['first', 'third', 'twenty first'])}",
        email="jane dot doe at example dot com",
        phone="six five oh five five five oh one two three",
    )


def transcript(minutes: float, seed: int) -> InteractionRecord:
    """A `minutes`-long two-party call, the same for the same seed."""
    rng = random.Random(seed)
    segments: list[Segment] = []
    t = 1.0
    turn = 0
    card_at = rng.randrange(10, 20) * 2 + 1  # a caller's turn
    while t < minutes * 60:
        speaker = "agent" if turn % 2 == 0 else "caller"
        if speaker == "caller" and turn == card_at:
            text = ("My card number is four one one one one one one one one one one one one "
                    "one one one and the security code is one two three.")
        else:
            text = fill(rng.choice(CALLER if speaker == "caller" else AGENT), rng)
        length = max(1.5, len(text.split()) / 2.5)  # ~150 words a minute
        segments.append(Segment(speaker, t, t + length, text))
        t += length + rng.uniform(0.2, 0.8)
        turn += 1
    ivr = (IvrInput("digits", "menu", 0, {"digits": "2", "outcome": "match"}, False, 2.0),
           IvrInput("digits", "ask_order", 1, {"digits": "456789", "outcome": "match",
                                               "variable": "order_number"}, False, 5.0))
    return InteractionRecord(
        1, "voice", datetime(2026, 3, 10, 9, 0, tzinfo=UTC), agent="ana", outcome="completed",
        ended=True, segments=tuple(segments), ivr=ivr,
        notes=(AgentNote("ana", "Disposition: claim opened.\nCall back Friday."),))


def forget() -> None:
    """Drop the per-text caches, so a run reads the whole transcript afresh."""
    scan.cache_clear()
    mask_text.cache_clear()
    summary_module._keywords.cache_clear()


def time_summarise(record: InteractionRecord, runs: int) -> tuple[float, list[float], int]:
    t0 = time.perf_counter()
    summarise(record, region="US")
    cold = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        forget()
        t0 = time.perf_counter()
        summarise(record, region="US")
        times.append(time.perf_counter() - t0)
    forget()
    tracemalloc.start()
    summarise(record, region="US")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return cold, times, peak


def time_incremental(record: InteractionRecord, runs: int) -> list[float]:
    """The live path: the summary remade after one more final segment, the earlier ones
    already seen (their scans cached)."""
    times = []
    segments = record.segments
    for i in range(runs):
        forget()
        summarise(replace(record, segments=segments[:-1]), region="US")
        last = segments[-1]
        grown = replace(record, segments=(*segments[:-1], replace(last, text=f"{last.text} {i}")))
        t0 = time.perf_counter()
        summarise(grown, region="US")
        times.append(time.perf_counter() - t0)
    return times


async def time_store(record: InteractionRecord, runs: int) -> list[float]:
    from cases.store import CaseStore

    with tempfile.TemporaryDirectory() as tmp:
        store = await CaseStore.open(f"sqlite:///{tmp}/bench.db", default_region="US")
        try:
            ref = await store.start_voice_interaction(caller="+16505550123", call_id="bench")
            for seg in record.segments:
                await store.add_segment(ref.interaction_id, speaker=seg.speaker,
                                        start=seg.start, end=seg.end, text=seg.text,
                                        confidence=0.9, engine="bench")
            await store.refresh_summary(ref.interaction_id)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await store.refresh_summary(ref.interaction_id)
                times.append(time.perf_counter() - t0)
            return times
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-store", action="store_true")
    args = parser.parse_args()
    record = transcript(args.minutes, args.seed)
    words = sum(len(s.text.split()) for s in record.segments)
    print(f"transcript: {args.minutes:g} min, {len(record.segments)} segments, {words} words "
          f"(seed {args.seed})")
    cold, times, peak = time_summarise(record, args.runs)
    summary = summarise(record, region="US")
    print(f"facts found: {len(summary.facts)}; card shown as "
          f"{[f.value for f in summary.facts if f.key == 'card_number']}")
    print(f"{'what':<10} {'runs':>5} {'median ms':>10} {'max ms':>8} {'peak MiB':>9}")
    print(f"{'cold':<10} {1:>5} {cold * 1e3:>10.1f} {cold * 1e3:>8.1f} {'':>9}")
    print(f"{'summarise':<10} {len(times):>5} {statistics.median(times) * 1e3:>10.1f} "
          f"{max(times) * 1e3:>8.1f} {peak / 2**20:>9.2f}")
    grown = time_incremental(record, args.runs)
    print(f"{'+1 segment':<10} {len(grown):>5} {statistics.median(grown) * 1e3:>10.1f} "
          f"{max(grown) * 1e3:>8.1f} {'':>9}")
    if not args.no_store:
        stored = asyncio.run(time_store(record, args.runs))
        print(f"{'store':<10} {len(stored):>5} {statistics.median(stored) * 1e3:>10.1f} "
              f"{max(stored) * 1e3:>8.1f} {'':>9}")
    verdict = "meets" if statistics.median(times) <= 0.050 else "MISSES"
    print(f"target <= 50 ms for 10 min: summarise median {verdict} it")


if __name__ == "__main__":
    main()
