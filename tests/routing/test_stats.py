"""Service figures over a scripted day, every figure worked out by hand in the comments."""

from __future__ import annotations

import copy

import pytest

from routing.model import QueueRecord
from routing.stats import AgentFigures, QueueFigures, agent_figures, queue_figures

DAY = 1_700_000_000.0  # the first call's arrival; calls arrive every 10 minutes


def answered(
    n: int, wait: float, agent: str, talk: float | None, wrapup: float = 0.0
) -> QueueRecord:
    t0 = DAY + 600 * (n - 1)
    return QueueRecord(
        f"r{n}",
        "support",
        "call",
        enqueued_wall=t0,
        outcome="answered",
        left_wall=t0 + wait,
        answered_wall=t0 + wait,
        ended_wall=None if talk is None else t0 + wait + talk,
        wrapup_s=wrapup if talk is not None else 0.0,
        agent_id=agent,
    )


def left(n: int, outcome: str, wait: float) -> QueueRecord:
    t0 = DAY + 600 * (n - 1)
    return QueueRecord(
        f"r{n}", "support", "call", enqueued_wall=t0, outcome=outcome, left_wall=t0 + wait
    )


def day() -> list[QueueRecord]:
    return [
        answered(1, 5, "ana", talk=100, wrapup=10),  # handle 110
        answered(2, 10, "bo", talk=200, wrapup=20),  # handle 220
        answered(3, 15, "ana", talk=300, wrapup=30),  # handle 330
        answered(4, 20, "bo", talk=150, wrapup=0),  # handle 150
        answered(5, 30, "ana", talk=250, wrapup=10),  # handle 260
        answered(6, 60, "cy", talk=None),  # still talking: no handle time yet
        left(7, "abandoned", 8),
        left(8, "abandoned", 45),
        left(9, "overflow", 120),
        left(10, "callback", 25),
        cancelled_callback(10),  # r10's callback, withdrawn later: r10 is offered once
    ]


def cancelled_callback(n: int) -> QueueRecord:
    t0 = DAY + 600 * (n - 1)
    return QueueRecord(
        f"cb{n}", "support", "callback", enqueued_wall=t0, outcome="cancelled",
        left_wall=t0 + 100,
    )  # fmt: skip


def test_the_day_by_hand() -> None:
    figures = queue_figures(day(), threshold=20)
    # asa = (5 + 10 + 15 + 20 + 30 + 60) / 6 = 140 / 6
    # aht = (110 + 220 + 330 + 150 + 260) / 5 = 1070 / 5 = 214 (r6 has not ended)
    # within 20 s (<= 20): 5, 10, 15, 20 -> 4; service level = 4 / (6 answered + 2 abandoned)
    # abandonment = 2 / 10; max wait = the overflow's 120
    assert figures == QueueFigures(
        threshold=20,
        offered=10,
        answered=6,
        abandoned=2,
        short_abandoned=0,
        overflowed=1,
        callbacks=1,
        deflected=0,
        timed_out=0,
        waiting=0,
        answered_within=4,
        asa=140 / 6,
        aht=214.0,
        abandonment_rate=0.2,
        service_level=0.5,
        max_wait=120.0,
    )


def test_threshold_and_short_abandons() -> None:
    # T = 30: 5 answered within -> 5 / 8.
    assert queue_figures(day(), threshold=30).service_level == 5 / 8
    # short_abandon = 10: the 8 s abandon is dropped from the rates (not the 45 s one).
    # abandonment = (2 - 1) / (10 - 1) = 1/9; service level = 4 / (6 + 2 - 1) = 4/7
    figures = queue_figures(day(), threshold=20, short_abandon=10)
    assert (figures.abandoned, figures.short_abandoned) == (2, 1)
    assert figures.abandonment_rate == pytest.approx(1 / 9)
    assert figures.service_level == pytest.approx(4 / 7)
    # The boundary: an abandon at exactly the short threshold is not short.
    assert queue_figures(day(), threshold=20, short_abandon=8).short_abandoned == 0


def test_timeouts_count_against_service_level_and_waiting_records_are_offered() -> None:
    records = [
        *day(),
        left(11, "timeout", 300),
        QueueRecord("r12", "support", "call", enqueued_wall=DAY + 6600),  # still waiting
    ]
    figures = queue_figures(records, threshold=20)
    # offered 12; service level = 4 / (6 + 2 + 1 timeout); abandonment = 2 / 12
    assert (figures.offered, figures.timed_out, figures.waiting) == (12, 1, 1)
    assert figures.service_level == pytest.approx(4 / 9)
    assert figures.abandonment_rate == pytest.approx(2 / 12)
    assert figures.max_wait == 300.0  # the waiting one has no wait yet


def test_a_callback_entry_is_served_as_its_own_record() -> None:
    # r10 took a callback after 25 s; its callback entry (kept from r10's arrival) is
    # answered by bo 400 s after r10 arrived, talks 60 s, wraps up 5 s.
    t0 = DAY + 600 * 9
    callback = QueueRecord(
        "cb10", "support", "callback", enqueued_wall=t0, outcome="answered",
        left_wall=t0 + 400, answered_wall=t0 + 400, ended_wall=t0 + 460, wrapup_s=5,
        agent_id="bo",
    )  # fmt: skip
    records = [r for r in day() if r.id != "cb10"] + [callback]
    figures = queue_figures(records, threshold=20)
    # offered 10 (r10 and its callback are one contact), answered 7;
    # asa = (140 + 400) / 7; aht = (1070 + 65) / 6
    # service level = 4 / (7 + 2): the callback waited longer than T
    assert (figures.offered, figures.answered, figures.callbacks) == (10, 7, 1)
    assert figures.asa == pytest.approx(540 / 7)
    assert figures.aht == pytest.approx(1135 / 6)
    assert figures.service_level == pytest.approx(4 / 9)


def test_a_caller_who_took_a_callback_is_offered_once() -> None:
    call = left(1, "callback", 30)
    waiting = QueueRecord("cb1", "support", "callback", enqueued_wall=DAY)
    figures = queue_figures([call, waiting], threshold=20)
    assert (figures.offered, figures.callbacks, figures.waiting) == (1, 1, 1)
    # The callback ran out of attempts: one contact, lost; not an abandon.
    failed = QueueRecord("cb1", "support", "callback", enqueued_wall=DAY, outcome="timeout",
                         left_wall=DAY + 900)
    figures = queue_figures([call, failed], threshold=20)
    assert (figures.offered, figures.timed_out, figures.abandonment_rate) == (1, 1, 0.0)
    assert figures.service_level == 0.0


def test_agent_figures_by_hand() -> None:
    figures = agent_figures(day())
    assert list(figures) == ["ana", "bo", "cy"]
    # ana: r1, r3, r5. talk 100 + 300 + 250 = 650, wrap-up 10 + 30 + 10 = 50,
    # aht 700 / 3, asa (5 + 15 + 30) / 3 = 50 / 3
    assert figures["ana"] == AgentFigures(
        agent="ana",
        answered=3,
        handled=3,
        talk_time=650.0,
        wrapup_time=50.0,
        aht=700 / 3,
        asa=50 / 3,
    )
    # bo: r2, r4. talk 350, wrap-up 20, aht 370 / 2 = 185, asa (10 + 20) / 2 = 15
    assert figures["bo"] == AgentFigures("bo", 2, 2, 350.0, 20.0, 185.0, 15.0)
    # cy: r6 still on the call: answered but not handled yet
    assert figures["cy"] == AgentFigures("cy", 1, 0, 0.0, 0.0, None, 60.0)


def test_window_selects_by_arrival_half_open() -> None:
    # [r4's arrival, r7's arrival): r4, r5, r6 (r7 arrives exactly at `until`: excluded).
    since, until = DAY + 600 * 3, DAY + 600 * 6
    figures = queue_figures(day(), threshold=20, since=since, until=until)
    # asa (20 + 30 + 60) / 3; aht (150 + 260) / 2 = 205; within 20: only r4 -> 1/3
    assert (figures.offered, figures.answered, figures.abandoned) == (3, 3, 0)
    assert figures.asa == pytest.approx(110 / 3)
    assert figures.aht == 205.0
    assert figures.service_level == pytest.approx(1 / 3)
    assert figures.abandonment_rate == 0.0
    assert figures.max_wait == 60.0
    agents = agent_figures(day(), since=since, until=until)
    assert {a: (f.answered, f.handled) for a, f in agents.items()} == {
        "ana": (1, 1),
        "bo": (1, 1),
        "cy": (1, 0),
    }
    # Open on one side.
    assert queue_figures(day(), threshold=20, since=DAY + 600 * 8).offered == 2
    assert queue_figures(day(), threshold=20, until=DAY + 1).offered == 1


def test_empty_input_divides_by_nothing() -> None:
    figures = queue_figures([], threshold=20)
    assert figures.offered == 0
    assert (figures.asa, figures.aht, figures.abandonment_rate) == (None, None, None)
    assert (figures.service_level, figures.max_wait) == (None, None)
    assert agent_figures([]) == {}
    # Only callers still waiting and one overflow: offered, but no answered/abandoned.
    only = [QueueRecord("w", "support", "call", enqueued_wall=DAY), left(2, "overflow", 90)]
    figures = queue_figures(only, threshold=20)
    assert (figures.offered, figures.service_level, figures.asa) == (2, None, None)
    assert figures.abandonment_rate == 0.0


def test_a_wall_clock_step_back_counts_as_no_wait() -> None:
    record = left(1, "abandoned", -3)  # left "before" it arrived
    assert queue_figures([record], threshold=20).max_wait == 0.0


def test_records_are_not_modified_and_to_dict_is_json_shaped() -> None:
    records = day()
    before = copy.deepcopy(records)
    figures = queue_figures(records, threshold=20)
    agents = agent_figures(records)
    assert records == before
    as_dict = figures.to_dict()
    assert as_dict["service_level"] == 0.5 and as_dict["offered"] == 10
    assert set(as_dict) == set(QueueFigures.__dataclass_fields__)
    assert agents["cy"].to_dict() == {
        "agent": "cy", "answered": 1, "handled": 0, "talk_time": 0.0,
        "wrapup_time": 0.0, "aht": None, "asa": 60.0,
    }  # fmt: skip
