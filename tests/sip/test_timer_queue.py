"""FixedDelayClock: one-delay timers in a FIFO behind one loop timer, on a FakeClock."""

from __future__ import annotations

from media.clock import FakeClock
from voice.sip.timer_queue import FixedDelayClock


def test_fixed_delay_timers_fire_at_their_own_time_in_order() -> None:
    fake = FakeClock()
    clock = FixedDelayClock(fake, 32.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(32.0, lambda: fired.append(("a", fake.now())))
    fake.advance(1.0)
    b = clock.call_later(32.0, lambda: fired.append(("b", fake.now())))
    fake.advance(0.5)
    clock.call_later(32.0, lambda: fired.append(("c", fake.now())))
    clock.call_later(0.25, lambda: fired.append(("short", fake.now())))  # passed through
    assert fake.pending == 2  # the FIFO's head and the short one: not one per timer
    b.cancel()
    assert clock.pending == 2
    fake.advance(40.0)
    assert fired == [("short", 1.75), ("a", 32.0), ("c", 33.5)]
    assert fake.pending == 0


def test_a_timer_armed_by_a_firing_callback_keeps_the_queue_in_time_order() -> None:
    fake = FakeClock()
    clock = FixedDelayClock(fake, 10.0)
    fired: list[tuple[str, float]] = []

    def first() -> None:
        fired.append(("first", fake.now()))
        clock.call_later(10.0, lambda: fired.append(("again", fake.now())))

    clock.call_later(10.0, first)
    fake.advance(2.0)
    clock.call_later(10.0, lambda: fired.append(("second", fake.now())))
    fake.advance(30.0)
    assert fired == [("first", 10.0), ("second", 12.0), ("again", 20.0)]
