"""An ended call is freed by reference counting as soon as its handler returns.

`centralita.server.tune_gc()` makes full collections of the cyclic GC rare, so a call left in
a reference cycle stays in memory, with its legs, RTP session and jitter buffers, until one
runs: bench/soak.py saw the server's RSS climb ~60 MiB a minute at 160 calls that way. The
case wrapper (`CaseCalls`) runs around every call; here it must not be what keeps one alive.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from cases.store import CaseStore
from centralita.call_cases import CallInteractions, CaseCalls
from media.clock import FakeClock
from tests.voice.test_call import FakeLeg
from voice.call import Call, Direction


async def test_a_call_through_the_case_wrapper_is_freed_without_a_gc_pass(
    tmp_path: Path,
) -> None:
    store = await CaseStore.open(f"sqlite:///{tmp_path / 'cases.db'}")
    clock = FakeClock(10.0)
    interactions = CallInteractions(store, clock)

    async def handler(c: Call) -> None:
        await c.answer()
        await asyncio.sleep(0)
        clock.advance(2.0)
        c.pause_privacy("ivr:card")  # a gap note written at hangup, as in a payment step
        clock.advance(1.0)
        c.hangup("remote-bye")

    gc.collect()
    gc.disable()
    try:
        call = Call("freed-1", Direction.INBOUND, FakeLeg(), caller="+15550123", dialed="100")
        await CaseCalls(handler, interactions)(call)
        for _ in range(3):
            await asyncio.sleep(0)
        gone = weakref.ref(call)
        del call
        assert gone() is None, [type(r).__qualname__ for r in gc.get_referrers(gone())]
    finally:
        gc.enable()
        await store.close()
