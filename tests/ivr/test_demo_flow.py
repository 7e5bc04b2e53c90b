"""The demo flow `scripts/run-server.sh` serves: open at every hour (a newcomer reaches a queue
on a Sunday night), with the office-hours step still shown working behind key 9."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.flow import FlowDoc
from ivr.validator import check_paths
from ivr.verbs.base import Step
from ivr.verbs.hours import status

DEMO = Path(__file__).resolve().parents[2] / "ivr" / "flows" / "demo.yaml"
MADRID = "Europe/Madrid"


@pytest.fixture(scope="module")
def demo() -> FlowDoc:
    flows, problems = check_paths([DEMO])
    assert problems.lines() == []
    (flow,) = flows
    return flow


def labelled(flow: FlowDoc, label: str) -> Step:
    return flow.steps[flow.labels[label]]


def first_of(flow: FlowDoc, verb: str) -> Step:
    return next(s for s in flow.steps if s.verb == verb)


def test_the_line_is_open_every_hour_of_the_week(demo: FlowDoc) -> None:
    line = first_of(demo, "hours")
    assert line.params["open"] == "menu"
    # Sunday 2026-12-06 00:00 UTC, then every 30 minutes for a week, holidays included.
    start = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    for half_hours in range(7 * 48):
        now = start + dt.timedelta(minutes=30 * half_hours)
        assert status(line.params, now) == "open", now.isoformat()
    assert status(line.params, dt.datetime(2026, 12, 25, 12, tzinfo=dt.UTC)) == "open"


def test_key_nine_runs_the_office_hours_step(demo: FlowDoc) -> None:
    menu = labelled(demo, "menu")
    nine = next(c for c in menu.params["choices"] if c["digits"] == "9")
    assert nine["goto"] == "office_hours"
    assert "press 9" in menu.params["prompt"]
    office = labelled(demo, "office_hours")
    assert office.verb == "hours" and office.params["timezone"] == MADRID
    # Each branch says where the clock put the caller, then goes back to the menu.
    for branch in ("open", "closed", "holiday"):
        say = labelled(demo, office.params[branch])
        assert say.verb == "say"
        after = demo.steps[say.index + 1]
        assert (after.verb, after.params) == ("goto", {"label": "menu"})


@pytest.mark.parametrize(("utc", "branch"), [
    ("2026-12-06T12:00:00", "closed"),    # a Sunday
    ("2026-12-09T09:00:00", "open"),      # Wednesday 10:00 in Madrid
    ("2026-12-09T19:30:00", "closed"),    # Wednesday 20:30 in Madrid
    ("2026-12-25T10:00:00", "holiday"),   # Christmas, a Friday
])
def test_the_office_hours_branches(demo: FlowDoc, utc: str, branch: str) -> None:
    office = labelled(demo, "office_hours")
    now = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert status(office.params, now) == branch
