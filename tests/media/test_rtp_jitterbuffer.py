"""Jitter buffer: reorder, loss, late, duplicate, wraparound, overflow, reset."""

from __future__ import annotations

from media.rtp.jitterbuffer import JitterBuffer
from media.rtp.packet import RtpPacket


def pkt(seq: int, ssrc: int = 1) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, ssrc, b"x")


def seqs(jb: JitterBuffer, ticks: int) -> list[int | None]:
    out: list[int | None] = []
    for _ in range(ticks):
        p = jb.pop()
        out.append(None if p is None else p.sequence_number)
    return out


def test_playout_delay_then_in_order() -> None:
    jb = JitterBuffer(capacity=16, delay_ms=40)
    for s in range(5):
        jb.put(pkt(s))
    assert seqs(jb, 8) == [None, None, 0, 1, 2, 3, 4, None]
    assert jb.stats.underruns == 1 and jb.stats.lost == 0


def test_not_started_returns_none_without_counting() -> None:
    jb = JitterBuffer()
    assert jb.pop() is None
    assert jb.stats.underruns == 0


def test_reorder() -> None:
    jb = JitterBuffer(delay_ms=0)
    for s in (10, 12, 11, 14, 13):
        jb.put(pkt(s))
    assert seqs(jb, 5) == [10, 11, 12, 13, 14]


def test_reordered_before_first_while_prefetching() -> None:
    jb = JitterBuffer(delay_ms=40)
    jb.put(pkt(11))
    jb.put(pkt(10))
    assert seqs(jb, 4) == [None, None, 10, 11]
    assert jb.stats.late == 0


def test_loss_and_late() -> None:
    jb = JitterBuffer(delay_ms=0)
    jb.put(pkt(1))
    jb.put(pkt(3))
    assert seqs(jb, 3) == [1, None, 3]
    assert jb.stats.lost == 1
    jb.put(pkt(2))  # its slot was already played as a gap
    assert jb.stats.late == 1


def test_underrun_waits_instead_of_losing() -> None:
    jb = JitterBuffer(delay_ms=0)
    jb.put(pkt(1))
    assert seqs(jb, 3) == [1, None, None]
    jb.put(pkt(2))
    assert seqs(jb, 1) == [2]
    assert jb.stats.lost == 0 and jb.stats.underruns == 2


def test_duplicates_buffered_and_played() -> None:
    jb = JitterBuffer(delay_ms=0)
    jb.put(pkt(1))
    jb.put(pkt(1))
    assert seqs(jb, 1) == [1]
    jb.put(pkt(1))
    assert jb.stats.duplicates == 2 and jb.stats.late == 0


def test_wraparound() -> None:
    jb = JitterBuffer(delay_ms=0)
    for s in (65534, 0, 65535, 1):
        jb.put(pkt(s))
    assert seqs(jb, 4) == [65534, 65535, 0, 1]
    assert jb.stats.lost == 0


def test_overflow_drops_oldest() -> None:
    jb = JitterBuffer(capacity=4, delay_ms=0)
    for s in range(6):
        jb.put(pkt(s))
    assert jb.stats.dropped == 2
    assert seqs(jb, 4) == [2, 3, 4, 5]


def test_ssrc_change_resets() -> None:
    jb = JitterBuffer(delay_ms=20)
    jb.put(pkt(100))
    assert seqs(jb, 2) == [None, 100]
    jb.put(pkt(7, ssrc=2))
    assert seqs(jb, 2) == [None, 7]
    assert jb.stats.resets == 1 and jb.stats.lost == 0


def test_big_jump_needs_two_packets_to_reset() -> None:
    jb = JitterBuffer(delay_ms=0)
    jb.put(pkt(1))
    assert seqs(jb, 1) == [1]
    jb.put(pkt(20000))  # a stray: ignored
    jb.put(pkt(2))
    assert seqs(jb, 1) == [2]
    jb.put(pkt(30000))
    jb.put(pkt(30001))
    assert jb.stats.resets == 1
    assert seqs(jb, 2) == [30000, 30001]


def test_non_audio_slot_is_skipped_without_loss() -> None:
    jb = JitterBuffer(delay_ms=0)
    jb.put(pkt(1))
    jb.put(pkt(2), audio=False)
    jb.put(pkt(3))
    assert seqs(jb, 2) == [1, 3]
    assert jb.stats.lost == 0
