"""RFC 4733 telephone-event payload, receiver and sender."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp.dtmf import DtmfDigit, DtmfReceiver, TelephoneEvent, dtmf_steps
from media.rtp.packet import RtpError


def ev(event: int, duration: int, end: bool = False) -> bytes:
    return bytes(TelephoneEvent(event, end, 10, duration))


def test_event_round_trip() -> None:
    e = TelephoneEvent(11, True, 63, 0xFFFF)
    assert bytes(e) == b"\x0b\xbf\xff\xff"
    assert TelephoneEvent.parse(bytes(e)) == e
    assert e.digit == "#"
    with pytest.raises(RtpError):
        TelephoneEvent.parse(b"\x01\x02")


@given(st.binary(max_size=8))
def test_event_parse_only_raises_rtp_error(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        TelephoneEvent.parse(data)


def test_one_digit_despite_repeated_end_packets() -> None:
    rx = DtmfReceiver()
    out: list[DtmfDigit] = []
    out += rx.feed(1000, ev(5, 0), marker=True)
    for d in (400, 800, 1200):
        out += rx.feed(1000, ev(5, d))
    for _ in range(3):
        out += rx.feed(1000, ev(5, 1600, end=True))
    assert out == [DtmfDigit("5", 200)]


def test_lost_start_and_end_packets() -> None:
    rx = DtmfReceiver()
    # Start lost: the first update begins the press; end of press 1 lost entirely.
    assert rx.feed(1000, ev(1, 800)) == []
    assert rx.feed(1000, ev(1, 1200)) == []
    # A new press (new timestamp) completes the first one.
    assert rx.feed(9000, ev(2, 0), marker=True) == [DtmfDigit("1", 150)]
    assert rx.feed(9000, ev(2, 800, end=True)) == [DtmfDigit("2", 100)]
    # A late update for the finished press is not a new press.
    assert rx.feed(9000, ev(2, 400)) == []
    assert rx.flush() is None


def test_only_end_packets_received() -> None:
    rx = DtmfReceiver()
    assert rx.feed(500, ev(10, 960, end=True)) == [DtmfDigit("*", 120)]
    assert rx.feed(500, ev(10, 960, end=True)) == []


def test_flush_after_silence() -> None:
    rx = DtmfReceiver()
    rx.feed(0, ev(0, 0), marker=True)
    rx.feed(0, ev(0, 400))
    assert rx.active
    assert rx.flush() == DtmfDigit("0", 50)
    assert not rx.active


def test_long_event_segments_add_up() -> None:
    rx = DtmfReceiver()
    rx.feed(0, ev(4, 0), marker=True)
    rx.feed(0, ev(4, 0xFFFF))
    # Next segment: timestamp advanced by the first segment's duration, no marker.
    assert rx.feed(0xFFFF, ev(4, 8000, end=True)) == [DtmfDigit("4", (0xFFFF + 8000) // 8)]


def test_same_digit_twice_is_two_presses() -> None:
    rx = DtmfReceiver()
    out = rx.feed(0, ev(7, 800, end=True)) + rx.feed(4000, ev(7, 800, end=True))
    assert [d.digit for d in out] == ["7", "7"]


def test_non_dtmf_events_ignored() -> None:
    assert DtmfReceiver().feed(0, ev(32, 800, end=True)) == []


def test_sender_schedule() -> None:
    steps = dtmf_steps("9", 160)
    assert [s.at for s in steps] == [0.0, 0.05, 0.1, 0.15, 0.16, 0.18, 0.2]
    assert steps[0].marker and not any(s.marker for s in steps[1:])
    assert [s.event.duration for s in steps] == [0, 400, 800, 1200, 1280, 1280, 1280]
    assert [s.event.end for s in steps] == [False] * 4 + [True] * 3
    assert {s.event.event for s in steps} == {9}
    with pytest.raises(ValueError):
        dtmf_steps("x")


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_sender_to_receiver(digit: str) -> None:
    rx = DtmfReceiver()
    out: list[DtmfDigit] = []
    for step in dtmf_steps(digit, 120):
        out += rx.feed(4242, bytes(step.event), step.marker)
    assert out == [DtmfDigit(digit, 120)]
