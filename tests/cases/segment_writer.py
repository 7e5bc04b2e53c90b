"""Child process for the kill -9 test: writes transcript segments as fast as it can.

    python -m tests.cases.segment_writer DATABASE_URL

Prints `interaction CASE_ID INTERACTION_ID`, then `ack SEGMENT_ID` after each add_segment
has returned, flushing every line: whatever the parent reads was acknowledged.
"""

from __future__ import annotations

import asyncio
import sys

from cases.store import CaseStore


async def main(url: str) -> None:
    store = await CaseStore.open(url)
    ref = await store.start_voice_interaction(caller="+15550100199", call_id="kill-9-call")
    print(f"interaction {ref.case_id} {ref.interaction_id}", flush=True)
    n = 0
    while True:
        seg_id = await store.add_segment(
            ref.interaction_id,
            speaker="caller" if n % 2 else "agent",
            start=n * 0.5,
            end=n * 0.5 + 0.4,
            text=f"utterance number {n}",
            confidence=0.9,
            engine="test",
        )
        print(f"ack {seg_id}", flush=True)
        n += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
