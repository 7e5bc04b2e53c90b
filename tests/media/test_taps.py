"""`media.taps.TapFanout`: every tap gets every frame; a tap that raises is detached there and
then, counted, logged once per kind without the exception's text; the others go on."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from media.frames import AudioFrame
from media.taps import TAP_STATS, TapFanout, tap_name


def frame(value: int = 0) -> AudioFrame:
    return AudioFrame(np.full(160, value, np.int16), 8000)


class Broken:
    """Raises on every frame, with personal data in the message (it must not be logged)."""

    def __init__(self) -> None:
        self.calls = 0

    def on_frame(self, f: AudioFrame) -> None:
        self.calls += 1
        raise ValueError("card 4111 1111 1111 1111")


def test_every_tap_gets_every_frame_in_order() -> None:
    fanout = TapFanout()
    got: list[tuple[str, int]] = []
    fanout.attach(lambda f: got.append(("a", int(f.samples[0]))))
    fanout.attach(lambda f: got.append(("b", int(f.samples[0]))))
    fanout.deliver(frame(1))
    fanout.deliver(frame(2))
    assert got == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert len(fanout) == 2 and fanout.failures == 0


def test_a_raising_tap_is_detached_counted_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fanout = TapFanout("test in")
    broken = Broken()
    before, after = [], []
    fanout.attach(before.append)
    fanout.attach(broken.on_frame)
    fanout.attach(after.append)
    total = TAP_STATS.failures
    with caplog.at_level(logging.DEBUG, logger="media.taps"):
        for v in range(50):
            fanout.deliver(frame(v))  # never raises
    assert broken.calls == 1  # detached at its first failure, not called again
    assert len(before) == len(after) == 50  # the taps on either side missed nothing
    assert fanout.failures == 1 and TAP_STATS.failures == total + 1
    assert TAP_STATS.by_tap[tap_name(broken.on_frame)] >= 1
    assert broken.on_frame not in fanout and len(fanout) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) <= 1
    assert all("4111" not in m and "card" not in m for m in messages)


def test_a_kind_of_tap_is_logged_once_however_many_legs_it_breaks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class OnceOnly:
        def on_frame(self, f: AudioFrame) -> None:
            raise RuntimeError("x")

    with caplog.at_level(logging.DEBUG, logger="media.taps"):
        for _ in range(5):
            fanout = TapFanout()
            fanout.attach(OnceOnly().on_frame)
            fanout.deliver(frame())
            assert fanout.failures == 1 and not fanout
    assert len([r for r in caplog.records if "OnceOnly" in r.getMessage()]) == 1


def test_detach_inside_a_delivery_applies_from_the_next_frame() -> None:
    fanout = TapFanout()
    got: list[int] = []

    def once(f: AudioFrame) -> None:
        got.append(1)
        fanout.detach(once)

    fanout.attach(once)
    fanout.attach(lambda f: got.append(2))
    fanout.deliver(frame())
    fanout.deliver(frame())
    assert got == [1, 2, 2]


def test_a_bound_method_detaches_as_itself_and_unknown_taps_are_refused() -> None:
    fanout = TapFanout()
    broken = Broken()
    fanout.attach(broken.on_frame)
    assert fanout.detach(broken.on_frame) is True  # a new bound-method object, equal
    assert fanout.detach(broken.on_frame) is False
    fanout.deliver(frame())
    assert broken.calls == 0 and fanout.failures == 0
