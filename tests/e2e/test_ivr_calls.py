"""IVR flows on real calls: pjsua2 dials the server, presses keys, and the path taken, the
variables and the inputs are read back from the stored interaction on the caller's case."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOW = """\
name: e2e
default: true
steps:
  - say: "Hello."
  - label: menu
    menu:
      prompt: "Press 1 for billing or 2 for support."
      choices:
        - {digits: "1", goto: billing}
        - {digits: "2", goto: support}
      retries: 1
      timeout: 4
      invalid_prompt: "Not an option."
      on_failure: goodbye
      variable: choice
  - label: billing
    set: {team: billing}
  - goto: pin
  - label: support
    set: {team: support}
  - label: pin
    gather: {prompt: "Enter your PIN then hash.", variable: pin, terminator: "#",
             max_digits: 6, timeout: 6, on_timeout: goodbye}
    sensitive: true
  - label: goodbye
    say: "Goodbye."
  - hangup
"""


async def test_menu_choice_and_masked_pin_are_stored_on_the_interaction(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "e2e.yaml").write_text(FLOW)
    server = await server_factory(
        ServerOptions(extra_args=["--flows", str(flows), "--transcription", "off"])
    )
    # "2" lands in the menu (barge-in over its prompt); the PIN follows in the gather.
    result = await place_call(
        f"sip:100@{server.sip_target}", from_user="+15550100", dtmf="24321#",
        dtmf_delay=2.0, duration=14.0,
    )
    assert result.connected, result
    interaction = await ended_interaction(server, within=15.0)
    events = interaction["ivr_events"]
    path = next(e["value"] for e in events if e["kind"] == "path")
    labels = [step["label"] for step in path]
    assert "support" in labels and "billing" not in labels and "pin" in labels
    assert labels[-1] is None or labels[-2] == "goodbye"
    stored = str(events)
    assert "4321" not in stored  # the PIN step is sensitive: masked everywhere it is kept
    assert any(e["sensitive"] for e in events)
    assert interaction["outcome"] in ("local-bye", "hangup", "remote-bye")
    log = server.stderr_path.read_text(encoding="utf-8", errors="replace")
    assert "4321" not in log
    # Not even the debug API's digit list shows them: the call keeps them masked.
    debug = (await get_json(server, "/api/debug/calls"))[-1]
    assert debug["digits"].startswith("2") and "4321" not in debug["digits"]


async def test_broken_flow_is_refused_at_start_with_its_position(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "good.yaml").write_text(FLOW)
    (flows / "bad.yaml").write_text("name: bad\nnumbers: ['200']\nsteps:\n  - dance: {}\n")
    server = await server_factory(
        ServerOptions(extra_args=["--flows", str(flows), "--transcription", "off"])
    )
    log = server.stderr_path.read_text(encoding="utf-8", errors="replace")
    assert f"{flows / 'bad.yaml'}:4:5:" in log and "dance" in log
    # The good flow still serves calls.
    result = await place_call(f"sip:100@{server.sip_target}", duration=2.0)
    assert result.connected, result
