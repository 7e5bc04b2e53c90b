"""`routing.text_stats`: the response timers and per-channel figures as pure arithmetic."""

from __future__ import annotations

import pytest

from routing.text_stats import TextRecord, TextStats, channel_figures


def test_timers_first_and_next_responses() -> None:
    stats = TextStats()
    stats.entered(1, "q", "sms", 100.0)
    stats.customer_wrote(1, 101.0)  # before any answer: part of the first wait
    stats.agent_replied(1, 160.0)
    stats.agent_replied(1, 170.0)  # a second reply with nothing waiting: no timer
    stats.customer_wrote(1, 200.0)
    stats.customer_wrote(1, 210.0)
    stats.agent_replied(1, 260.0)
    stats.closed(1, 300.0)
    stats.agent_replied(1, 400.0)  # after the close: ignored
    [record] = stats.records
    assert (record.first_response, record.next_waits, record.closed_wall) == (60.0, [60.0], 300.0)


def test_figures_window_service_level_and_line() -> None:
    records = [
        TextRecord(1, "q", "chat", 0.0, first_response_wall=30.0),
        TextRecord(2, "q", "chat", 10.0, first_response_wall=110.0, next_waits=[5.0, 15.0]),
        TextRecord(3, "q", "chat", 20.0, closed_wall=40.0),  # closed unanswered within T
        TextRecord(4, "q", "chat", 30.0, closed_wall=200.0),  # closed unanswered past T
        TextRecord(5, "q", "chat", 900.0),  # still open, 100 s at `now`
        TextRecord(6, "q", "email", 0.0, first_response_wall=5.0),
    ]
    f = channel_figures(records, channel="chat", threshold=60.0, now=1000.0,
                        in_line=[900.0, 995.0])
    assert (f.offered, f.responded, f.responded_within, f.unanswered_past_target) == (5, 2, 1, 2)
    assert f.asa == pytest.approx(65.0)
    assert f.service_level == pytest.approx(1 / 4)
    assert f.next_responses == 2
    assert f.average_next_response == pytest.approx(10.0)
    assert (f.waiting, f.longest_wait, f.max_first_response) == (2, 100.0, 100.0)
    early = channel_figures(records, channel="chat", threshold=60.0, now=1000.0, until=15.0)
    assert (early.offered, early.responded) == (2, 2)
    empty = channel_figures([], channel="sms", threshold=900.0, now=0.0)
    assert (empty.asa, empty.service_level, empty.longest_wait) == (None, None, 0.0)


def test_forget_keeps_open_and_recent_records() -> None:
    stats = TextStats()
    stats.entered(1, "q", "chat", 0.0)
    stats.entered(2, "q", "chat", 0.0)
    stats.entered(3, "q", "chat", 500.0)
    stats.closed(1, 10.0)
    stats.closed(3, 510.0)
    stats.forget_before(100.0)
    assert [r.conversation for r in stats.records] == [2, 3]
