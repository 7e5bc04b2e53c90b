"""Server-side sessions: idle and absolute expiry, revocation, memory bounds."""

from __future__ import annotations

from media.clock import FakeClock
from web.auth.roles import Role
from web.auth.sessions import SessionPolicy, SessionStore


def test_session_found_by_id_only(clock: FakeClock) -> None:
    store = SessionStore(clock.now)
    sid, session = store.create("ana", Role.AGENT)
    assert store.get(sid) is session
    assert (session.user, session.role) == ("ana", Role.AGENT)
    assert session.csrf and session.csrf != sid
    assert store.get(sid + "x") is None
    assert store.get(session.csrf) is None
    # Kept by digest: the cookie value itself is not in the store.
    assert sid not in store._sessions


def test_idle_timeout_restarts_on_use_and_ends_the_session(clock: FakeClock) -> None:
    store = SessionStore(clock.now, SessionPolicy(idle_timeout=60, max_age=1000))
    sid, _ = store.create("ana", Role.AGENT)
    clock.advance(59)
    assert store.get(sid) is not None
    clock.advance(59)
    assert store.get(sid) is not None  # used 59 s ago, not 118
    clock.advance(60)
    assert store.get(sid) is None
    assert len(store) == 0


def test_max_age_ends_an_active_session(clock: FakeClock) -> None:
    store = SessionStore(clock.now, SessionPolicy(idle_timeout=60, max_age=100))
    sid, _ = store.create("ana", Role.AGENT)
    for _ in range(3):
        clock.advance(30)
        assert store.get(sid) is not None
    clock.advance(10)
    assert store.get(sid) is None


def test_revoke_one_and_all_of_a_user(clock: FakeClock) -> None:
    store = SessionStore(clock.now)
    a1, _ = store.create("ana", Role.AGENT)
    a2, _ = store.create("ana", Role.AGENT)
    s1, _ = store.create("sam", Role.SUPERVISOR)
    store.revoke(a1)
    assert store.get(a1) is None and store.get(a2) is not None
    assert store.revoke_user("ana") == 1
    assert store.get(a2) is None
    assert store.get(s1) is not None
    store.revoke("never-issued")


def test_sessions_per_user_and_in_total_are_bounded(clock: FakeClock) -> None:
    store = SessionStore(clock.now, SessionPolicy(max_sessions=20, max_per_user=3))
    ids = []
    for _ in range(5):
        clock.advance(1)
        ids.append(store.create("ana", Role.AGENT)[0])
    assert [store.get(i) is not None for i in ids] == [False, False, True, True, True]
    for n in range(30):
        clock.advance(1)
        store.create(f"user{n}", Role.AGENT)
    assert len(store) <= 20
    # The least recently used went first; the newest survive.
    assert store.get(ids[-1]) is None
