"""The demo flow's hours step on a real call: key 9 runs the Madrid office-hours step, which
takes the branch the clock says (stored on the caller's case), and the call goes back to the
menu; the line's own hours step let the call in, whatever the day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.validator import check_paths
from ivr.verbs.hours import status
from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction
from tests.helpers.server import REPO_ROOT, ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOWS = REPO_ROOT / "ivr" / "flows"


def office_branch(now: dt.datetime) -> str:
    (flow,), problems = check_paths([FLOWS / "demo.yaml"])
    assert problems.lines() == []
    return status(flow.steps[flow.labels["office_hours"]].params, now)


async def test_key_nine_takes_the_office_hours_branch_of_the_clock(
    server_factory: ServerFactory, tmp_path: Path,
) -> None:
    server = await server_factory(ServerOptions(extra_args=[
        "--flows", str(FLOWS), "--routing", str(REPO_ROOT / "routing" / "demo.yaml"),
        "--transcription", "off"]))
    before = office_branch(dt.datetime.now(dt.UTC))
    # Long enough for the office step's prompt and the way back to the menu on a loaded
    # machine (16 s ended a CI call in the middle of the closed-office prompt).
    result = await place_call(f"sip:demo@{server.sip_target}", dtmf="9", dtmf_delay=3.0,
                              duration=30.0, from_user="+15550123")
    after = office_branch(dt.datetime.now(dt.UTC))
    assert result.connected, result
    interaction = await ended_interaction(server, within=20.0, path_recorded=True)
    events = interaction["ivr_events"]
    hours = [e["value"] for e in events if e["kind"] == "hours"]
    # The line (open at every hour), then the office step, as the clock had it then.
    assert hours[0] == "open", events
    assert hours[1] in {before, after}, events
    path = next(e["value"] for e in events if e["kind"] == "path")
    labels = [step["label"] for step in path]
    branch = {"open": "office_open", "closed": "office_closed", "holiday": "office_holiday"}
    assert "office_hours" in labels and branch[hours[1]] in labels, labels
    # ... and back to the menu afterwards.
    assert labels.index("menu", labels.index("office_hours")) > 0, labels
