"""The inbound buffer: chunks by timestamp onto 20 ms slots, bursts absorbed, gaps silent,
late and duplicate chunks dropped and counted, stale audio dropped past the depth."""

from __future__ import annotations

from voice.twilio.jitter import SLOT_BYTES, InboundJitter

SILENT = b"\xff" * SLOT_BYTES


def chunk(n: int) -> bytes:
    return bytes([n % 256]) * SLOT_BYTES


def test_in_order_after_prefill_and_a_burst_is_absorbed() -> None:
    jitter = InboundJitter(prefill=2, max_depth=10)
    jitter.push(0, chunk(0), 0.0)
    assert jitter.pop() is None  # priming
    for n in range(1, 6):  # a burst of five at once
        jitter.push(20 * n, chunk(n), 0.2)
    assert [jitter.pop() for _ in range(6)] == [chunk(n) for n in range(6)]
    assert jitter.stats().played == 6 and jitter.stats().late == 0
    assert max(jitter.lateness_ms) > 80  # the burst arrived late against the schedule


def test_reordered_chunks_play_in_timestamp_order() -> None:
    jitter = InboundJitter(prefill=3)
    for n in (1, 0, 2):
        jitter.push(20 * n, chunk(n), 0.0)
    assert [jitter.pop() for _ in range(3)] == [chunk(0), chunk(1), chunk(2)]


def test_a_lost_chunk_is_silence_and_a_late_one_is_dropped() -> None:
    jitter = InboundJitter(prefill=2)
    for n in (0, 2, 3):  # 1 never came (before Twilio): its timestamp is skipped
        jitter.push(20 * n, chunk(n), 0.0)
    assert [jitter.pop() for _ in range(4)] == [chunk(0), SILENT, chunk(2), chunk(3)]
    jitter.push(20, chunk(1), 0.1)  # ... and then it comes after all: too late
    stats = jitter.stats()
    assert (stats.gaps, stats.late) == (1, 1)


def test_underrun_pauses_and_primes_again_without_leaving_everything_late() -> None:
    jitter = InboundJitter(prefill=2)
    for n in (0, 1):
        jitter.push(20 * n, chunk(n), 0.0)
    assert jitter.pop() == chunk(0) and jitter.pop() == chunk(1)
    assert jitter.pop() is None  # the socket stalled
    assert jitter.stats().underruns == 1
    for n in (5, 6, 7):
        jitter.push(20 * n, chunk(n), 0.2)
    assert [jitter.pop() for _ in range(3)] == [chunk(5), chunk(6), chunk(7)]
    assert jitter.stats().late == 0


def test_more_than_the_depth_drops_the_oldest_and_duplicates_are_counted() -> None:
    jitter = InboundJitter(prefill=2, max_depth=4)
    for n in range(6):
        jitter.push(20 * n, chunk(n), 0.0)
    jitter.push(100, chunk(5), 0.0)
    assert [jitter.pop() for _ in range(4)] == [chunk(n) for n in (2, 3, 4, 5)]
    stats = jitter.stats()
    assert (stats.overflow, stats.duplicates) == (2, 1)


def test_a_long_chunk_fills_several_slots() -> None:
    jitter = InboundJitter(prefill=1)
    jitter.push(0, chunk(1) + chunk(2) + b"\x01" * 80, 0.0)
    assert [jitter.pop() for _ in range(3)] == [chunk(1), chunk(2), b"\x01" * 80 + SILENT[:80]]


def test_bursts_that_come_late_lose_nothing() -> None:
    jitter = InboundJitter(prefill=2)
    played: list[bytes] = []
    n = 0
    for tick in range(60):
        piece = jitter.pop()  # the tick comes first: each burst is a little late for it
        if piece is not None:
            played.append(piece)
        # Five chunks at once every 100 ms, every other burst 40 ms later than that.
        if tick % 5 == 1 and (tick // 5) % 2 == 0 or tick % 5 == 3 and (tick // 5) % 2 == 1:
            for _ in range(5):
                jitter.push(20 * n, chunk(n), tick * 0.02)
                n += 1
    assert played == [chunk(i) for i in range(len(played))]  # in order, none skipped
    stats = jitter.stats()
    assert len(played) >= 45 and stats.late == 0 and stats.gaps == 0 and stats.underruns > 0


def test_the_delay_a_flood_left_drains_back() -> None:
    jitter = InboundJitter(prefill=2, max_depth=10)
    for n in range(10):  # a stalled socket flushes 200 ms at once
        jitter.push(20 * n, chunk(n), 0.0)
    depth = []
    for n in range(10, 200):  # then chunks come at the clock's pace
        jitter.push(20 * n, chunk(n), 0.0)
        jitter.pop()
        depth.append(len(jitter))
    assert depth[0] >= 9 and depth[-1] <= 4  # ... and the excess is trimmed, slowly
    assert jitter.stats().overflow >= 5
