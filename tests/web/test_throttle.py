"""Login throttling per (user, source), per user and per source address."""

from __future__ import annotations

from media.clock import FakeClock
from web.auth.throttle import Attempt, LoginThrottle, Refused, ThrottlePolicy

POLICY = ThrottlePolicy(
    max_failures=3, user_max_failures=6, source_max_failures=5, failure_window=60, lockout=120
)


def _fail(throttle: LoginThrottle, user: str, source: str) -> None:
    attempt = throttle.reserve(user, source)
    assert isinstance(attempt, Attempt), attempt
    attempt.failed()


def _wait(throttle: LoginThrottle, user: str, source: str) -> float | None:
    attempt = throttle.reserve(user, source)
    if isinstance(attempt, Refused):
        return attempt.retry_after
    attempt.release()
    return None


def test_pair_locked_after_limit_then_released(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    for _ in range(2):
        _fail(throttle, "ana", "10.0.0.1")
        assert _wait(throttle, "ana", "10.0.0.1") is None
    _fail(throttle, "ana", "10.0.0.1")
    assert _wait(throttle, "ana", "10.0.0.1") == 120
    # Was: locked from every address. Now the (user, source) pair is locked; ana's own
    # desk elsewhere is not, until the higher per-user ceiling.
    assert _wait(throttle, "ana", "10.0.0.2") is None
    assert _wait(throttle, "sam", "10.0.0.1") is None
    clock.advance(119)
    assert _wait(throttle, "ana", "10.0.0.1") == 1
    clock.advance(1)
    assert _wait(throttle, "ana", "10.0.0.1") is None


def test_failures_outside_the_window_do_not_count(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    for _ in range(5):
        _fail(throttle, "ana", "10.0.0.1")
        clock.advance(31)
    assert _wait(throttle, "ana", "10.0.0.1") is None


def test_source_locked_after_spraying_many_users(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    for n in range(5):
        _fail(throttle, f"user{n}", "10.0.0.9")
    assert _wait(throttle, "someone-else", "10.0.0.9") == 120
    assert _wait(throttle, "someone-else", "10.0.0.8") is None


def test_success_clears_the_pairs_failures(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, POLICY)
    _fail(throttle, "ana", "10.0.0.1")
    _fail(throttle, "ana", "10.0.0.1")
    ok = throttle.reserve("ana", "10.0.0.1")
    assert isinstance(ok, Attempt)
    ok.succeeded()
    _fail(throttle, "ana", "10.0.0.1")
    _fail(throttle, "ana", "10.0.0.1")
    assert _wait(throttle, "ana", "10.0.0.1") is None


def test_tracked_keys_are_bounded(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock.now, ThrottlePolicy(max_tracked=100))
    for n in range(1000):
        _fail(throttle, f"invented{n}", f"10.0.{n // 250}.{n % 250}")
    assert len(throttle._pairs) <= 100
    assert len(throttle._users) <= 100
    assert len(throttle._sources) <= 100
