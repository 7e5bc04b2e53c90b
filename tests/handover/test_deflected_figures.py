"""A deflected caller (a chat link by text instead of waiting) is its own outcome in the
queue figures: offered, never abandoned, out of the service level's count."""

from __future__ import annotations

from routing.model import QueueRecord
from routing.stats import queue_figures


def _rec(n: int, outcome: str, left: float) -> QueueRecord:
    return QueueRecord(id=f"r{n}", queue="q", kind="call", enqueued_wall=100.0,
                       outcome=outcome, left_wall=left)


def test_deflected_is_counted_apart_from_abandoned() -> None:
    records = [_rec(1, "deflected", 130.0), _rec(2, "abandoned", 140.0),
               QueueRecord(id="r3", queue="q", kind="call", enqueued_wall=100.0,
                           outcome="answered", left_wall=105.0, answered_wall=105.0)]
    figures = queue_figures(records, threshold=20.0)
    assert (figures.offered, figures.deflected, figures.abandoned, figures.answered) == (3, 1, 1, 1)
    assert figures.abandonment_rate == 1 / 3
    assert figures.service_level == 1 / 2  # answered in time / (answered + abandoned)
    assert figures.to_dict()["deflected"] == 1
