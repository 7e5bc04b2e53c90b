"""Wait estimates with hand numbers, the handle-time window, and the spoken sentences."""

from __future__ import annotations

import math

import pytest

from routing.eta import HandleTimes, estimate_wait, spoken_position, spoken_wait


def test_handle_times_average_and_default() -> None:
    times = HandleTimes()
    assert len(times) == 0
    assert times.average(default=180.0) == 180.0
    for seconds in (100.0, 200.0, 330.0):
        times.add(seconds)
    assert len(times) == 3
    assert times.average(default=180.0) == 210.0  # 630 / 3


def test_handle_times_window_keeps_the_last_n() -> None:
    times = HandleTimes(size=3)
    for seconds in (1000.0, 10.0, 20.0, 30.0):  # the 1000 falls out
        times.add(seconds)
    assert len(times) == 3
    assert times.average(default=0.0) == 20.0
    default_window = HandleTimes()
    for i in range(60):
        default_window.add(float(i))
    assert len(default_window) == 50
    assert default_window.average(default=0.0) == sum(range(10, 60)) / 50  # 34.5


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_handle_times_refuse_nonsense(bad: float) -> None:
    times = HandleTimes()
    with pytest.raises(ValueError):
        times.add(bad)
    assert len(times) == 0
    with pytest.raises(ValueError):
        HandleTimes(size=0)


@pytest.mark.parametrize(
    ("position", "staffed", "available", "expected"),
    [
        (1, 4, 1, 0.0),  # a free agent for the next caller
        (3, 4, 3, 0.0),
        (1, 4, 0, 60.0),  # 1 * 240 / 4: the first of 4 busy agents frees in 60 s
        (3, 4, 0, 180.0),  # 3 * 240 / 4
        (5, 4, 2, 180.0),  # 2 take callers 1-2; caller 5 needs 3 ends: 3 * 240 / 4
        (2, 1, 0, 480.0),  # one agent: two whole calls
        (9, 3, 0, 720.0),  # 9 * 240 / 3
    ],
)
def test_estimate_wait_hand_numbers(
    position: int, staffed: int, available: int, expected: float
) -> None:
    wait = estimate_wait(position, average_handle=240.0, staffed=staffed, available=available)
    assert wait == expected


def test_estimate_wait_nobody_staffed_is_infinite() -> None:
    assert estimate_wait(1, average_handle=240.0, staffed=0, available=0) == math.inf


def test_estimate_wait_grows_with_position_and_shrinks_with_staff() -> None:
    waits = [estimate_wait(p, average_handle=200.0, staffed=5, available=0) for p in (1, 2, 3)]
    assert waits == [40.0, 80.0, 120.0]
    assert estimate_wait(3, average_handle=200.0, staffed=10, available=0) == 60.0


@pytest.mark.parametrize(
    ("position", "staffed", "available", "handle"),
    [
        (0, 1, 0, 10.0),
        (1, 1, 2, 10.0),
        (1, -1, 0, 10.0),
        (1, 1, -1, 10.0),
        (1, 1, 0, -5.0),
        (1, 1, 0, math.nan),
    ],
)
def test_estimate_wait_refuses_inconsistent_inputs(
    position: int, staffed: int, available: int, handle: float
) -> None:
    with pytest.raises(ValueError):
        estimate_wait(position, average_handle=handle, staffed=staffed, available=available)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.0, "less than a minute"),
        (59.9, "less than a minute"),
        (60.0, "about 1 minute"),
        (89.9, "about 1 minute"),
        (90.0, "about 2 minutes"),  # halves round up
        (150.0, "about 3 minutes"),
        (599.0, "about 10 minutes"),
        (629.9, "about 10 minutes"),
        (630.0, "about 10 minutes"),  # 10.5 min: now to the nearest 5
        (749.9, "about 10 minutes"),  # 12.49 min
        (750.0, "about 15 minutes"),  # 12.5 min
        (1320.0, "about 20 minutes"),  # 22 min
        (3449.9, "about 55 minutes"),
        (3450.0, "about 1 hour"),  # 57.5 min
        (5399.0, "about 1 hour"),
        (5400.0, "about 2 hours"),  # 1.5 h
        (3 * 3600.0, "about 3 hours"),
    ],
)
def test_spoken_wait_rounding(seconds: float, said: str) -> None:
    assert spoken_wait(seconds) == f"Your estimated wait time is {said}."


def test_spoken_wait_infinite_and_invalid() -> None:
    assert spoken_wait(math.inf) == "We can't estimate your wait time right now."
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError):
            spoken_wait(bad)


def test_spoken_position() -> None:
    assert spoken_position(1) == "You are next in line."
    assert spoken_position(2) == "You are caller number 2 in line."
    assert spoken_position(17) == "You are caller number 17 in line."
    with pytest.raises(ValueError):
        spoken_position(0)
