"""The shared lockout policy (SIP digest auth and the HTTP login) on a fake clock."""

from __future__ import annotations

import pytest

from common.lockout import BUSY_RETRY, Attempt, LockoutPolicy, Lockouts, Refused
from media.clock import FakeClock

POLICY = LockoutPolicy(
    max_failures=3, user_max_failures=7, source_max_failures=5, failure_window=60,
    lockout=100, max_lockout=1000, strike_memory=5000, known_good_ttl=10_000,
)  # fmt: skip


def _gate(**overrides: float) -> tuple[FakeClock, Lockouts]:
    clock = FakeClock(1000.0)
    fields = {**POLICY.__dict__, **overrides}
    return clock, Lockouts(clock.now, LockoutPolicy(**fields))  # type: ignore[arg-type]


def _attempt(gate: Lockouts, user: str, source: str) -> Attempt:
    attempt = gate.reserve(user, source)
    assert isinstance(attempt, Attempt), attempt
    return attempt


def _refusal(gate: Lockouts, user: str, source: str) -> Refused | None:
    attempt = gate.reserve(user, source)
    if isinstance(attempt, Refused):
        return attempt
    attempt.release()
    return None


def _login(gate: Lockouts, user: str, source: str) -> None:
    _attempt(gate, user, source).succeeded()


def test_attempts_in_flight_count_toward_the_limit() -> None:
    _, gate = _gate()
    pending = [_attempt(gate, "ana", "10.0.0.1") for _ in range(3)]
    # Three guesses are still being checked: a fourth, even the right one, waits for them.
    busy = gate.reserve("ana", "10.0.0.1")
    assert busy == Refused(BUSY_RETRY, "pair")
    assert [a.failed() for a in pending] == [False, False, True]
    locked = _refusal(gate, "ana", "10.0.0.1")
    assert locked is not None and locked.retry_after == 100 and locked.limit == "pair"


def test_a_released_attempt_counts_nothing() -> None:
    _, gate = _gate()
    for _ in range(10):
        _attempt(gate, "ana", "10.0.0.1").release()
    assert _refusal(gate, "ana", "10.0.0.1") is None


def test_an_attempt_settles_once() -> None:
    _, gate = _gate()
    attempt = _attempt(gate, "ana", "10.0.0.1")
    assert attempt.failed() is False
    attempt.failed()
    attempt.release()
    attempt.succeeded()
    for _ in range(2):
        _attempt(gate, "ana", "10.0.0.1").failed()
    assert _refusal(gate, "ana", "10.0.0.1") is not None  # three failures, not more, not fewer
    assert not gate.known_good("ana", "10.0.0.1")


def test_repeated_lockouts_of_a_pair_double_up_to_the_cap() -> None:
    clock, gate = _gate()
    lengths = []
    for _ in range(6):
        for _ in range(3):
            _attempt(gate, "ana", "10.0.0.1").failed()
        refusal = _refusal(gate, "ana", "10.0.0.1")
        assert refusal is not None
        lengths.append(refusal.retry_after)
        clock.advance(refusal.retry_after)
        assert _refusal(gate, "ana", "10.0.0.1") is None
    assert lengths == [100, 200, 400, 800, 1000, 1000]


def test_a_quiet_spell_or_a_success_forgets_the_backoff() -> None:
    clock, gate = _gate()
    for _ in range(2):
        for _ in range(3):
            _attempt(gate, "ana", "10.0.0.1").failed()
        refusal = _refusal(gate, "ana", "10.0.0.1")
        assert refusal is not None
        clock.advance(refusal.retry_after)
    clock.advance(5001)
    for _ in range(3):
        _attempt(gate, "ana", "10.0.0.1").failed()
    refusal = _refusal(gate, "ana", "10.0.0.1")
    assert refusal is not None and refusal.retry_after == 100
    clock.advance(100)
    for _ in range(3):
        _attempt(gate, "ana", "10.0.0.1").failed()
    clock.advance(200)
    _login(gate, "ana", "10.0.0.1")
    for _ in range(3):
        _attempt(gate, "ana", "10.0.0.1").failed()
    refusal = _refusal(gate, "ana", "10.0.0.1")
    assert refusal is not None and refusal.retry_after == 100


def test_one_sources_lockout_leaves_the_user_free_elsewhere() -> None:
    _, gate = _gate()
    for _ in range(3):
        _attempt(gate, "admin", "10.9.9.9").failed()
    assert _refusal(gate, "admin", "10.9.9.9") is not None
    assert _refusal(gate, "admin", "10.0.0.1") is None  # never seen before, still free
    assert _refusal(gate, "ana", "10.9.9.9") is None


def test_the_user_ceiling_stops_unknown_sources_but_not_known_good_ones() -> None:
    clock, gate = _gate()
    _login(gate, "admin", "10.0.0.1")
    for source in ("10.9.9.1", "10.9.9.2", "10.9.9.3"):
        for _ in range(3):
            if _refusal(gate, "admin", source):
                break
            _attempt(gate, "admin", source).failed()
    # Seven failures from three addresses: the user's ceiling is reached.
    refusal = _refusal(gate, "admin", "10.9.9.4")
    assert refusal is not None and refusal.limit == "user"
    assert _refusal(gate, "admin", "10.0.0.1") is None
    _login(gate, "admin", "10.0.0.1")
    # Known-good lasts `known_good_ttl` from the last sign-in.
    clock.advance(10_001)
    assert not gate.known_good("admin", "10.0.0.1")
    for source in ("10.9.8.1", "10.9.8.2", "10.9.8.3"):
        for _ in range(3):
            if _refusal(gate, "admin", source):
                break
            _attempt(gate, "admin", source).failed()
    assert _refusal(gate, "admin", "10.0.0.1") is not None


def test_the_source_ceiling_lets_known_good_pairs_in() -> None:
    _, gate = _gate()
    _login(gate, "ana", "192.0.2.1")  # an office behind one NAT address
    for n in range(5):
        _attempt(gate, f"invented{n}", "192.0.2.1").failed()
    refusal = _refusal(gate, "sam", "192.0.2.1")
    assert refusal is not None and refusal.limit == "source"
    assert _refusal(gate, "ana", "192.0.2.1") is None
    # The known-good pair still meets its own per-pair limit.
    for _ in range(3):
        _attempt(gate, "ana", "192.0.2.1").failed()
    refusal = _refusal(gate, "ana", "192.0.2.1")
    assert refusal is not None and refusal.limit == "pair"


def test_memory_is_bounded() -> None:
    _, gate = _gate(max_tracked=100, max_known_good=50, source_max_failures=10_000)
    for n in range(1000):
        _attempt(gate, f"u{n}", f"10.0.{n // 250}.{n % 250}").failed()
        _login(gate, f"k{n}", "10.1.1.1")
    assert len(gate._pairs) <= 100 and len(gate._users) <= 100 and len(gate._sources) <= 100
    assert len(gate._known) <= 50
    assert gate.known_good("k999", "10.1.1.1") and not gate.known_good("k0", "10.1.1.1")


@pytest.mark.parametrize("bad", [{"max_failures": 0}, {"lockout": 0.0}, {"max_tracked": -1}])
def test_policy_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        LockoutPolicy(**bad)  # type: ignore[arg-type]
