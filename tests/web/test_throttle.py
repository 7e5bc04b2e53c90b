"""Login throttling per user and per source address."""

from __future__ import annotations

from media.clock import FakeClock
from web.auth.throttle import LoginThrottle, ThrottlePolicy

POLICY = ThrottlePolicy(max_failures=3, source_max_failures=5, failure_window=60, lockout=120)


def test_user_locked_after_limit_then_released(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    for _ in range(2):
        throttle.failed("ana", "10.0.0.1")
        assert throttle.locked_for("ana", "10.0.0.1") is None
    throttle.failed("ana", "10.0.0.1")
    assert throttle.locked_for("ana", "10.0.0.1") == 120
    # Locked from any address: it is the account being guessed.
    assert throttle.locked_for("ana", "10.0.0.2") == 120
    assert throttle.locked_for("sam", "10.0.0.2") is None
    clock.advance(119)
    assert throttle.locked_for("ana", "10.0.0.2") == 1
    clock.advance(1)
    assert throttle.locked_for("ana", "10.0.0.2") is None


def test_failures_outside_the_window_do_not_count(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    for _ in range(5):
        throttle.failed("ana", "10.0.0.1")
        clock.advance(31)
    assert throttle.locked_for("ana", "10.0.0.1") is None


def test_source_locked_after_spraying_many_users(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    for n in range(5):
        throttle.failed(f"user{n}", "10.0.0.9")
    assert throttle.locked_for("someone-else", "10.0.0.9") == 120
    assert throttle.locked_for("someone-else", "10.0.0.8") is None


def test_success_clears_the_users_failures(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    throttle.failed("ana", "10.0.0.1")
    throttle.failed("ana", "10.0.0.1")
    throttle.succeeded("ana")
    throttle.failed("ana", "10.0.0.1")
    throttle.failed("ana", "10.0.0.1")
    assert throttle.locked_for("ana", "10.0.0.1") is None


def test_tracked_keys_are_bounded(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, ThrottlePolicy(max_tracked=100))
    for n in range(1000):
        throttle.failed(f"invented{n}", f"10.0.{n // 250}.{n % 250}")
    assert len(throttle._users._failures) <= 100
    assert len(throttle._sources._failures) <= 100
