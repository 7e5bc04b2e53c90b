"""Call-wide phrase hints (issue 16 item 3: hints per queue and flow for product names).

A flow's `hints:` and a queue's `hints:` are phrases the whole call's live transcript should
favour, not only a gather's: whisper hears them as hot words. On a real call a pjsua2 caller
says "billing" (espeak-ng, which tiny.en hears as "feeling" without hints:
tests/assist/test_phrase_hints.py) while the flow waits for a digit; the flow lists billing,
and the caller's transcript segment on the case says billing. Also: the settings are read and
refused with the place named, and a gather's own phrases still come first."""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest

from ivr.validator import parse_flow
from ivr.verbs.base import Problems
from routing.config import parse_routing
from routing.model import InvalidConfig
from tests.assist.test_hints_call import spoken
from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

HINTED_FLOW = """\
name: hinted
default: true
hints: [billing, billing]
steps:
  - gather:
      prompt: "Tell us what it is about."
      input: dtmf
      variable: key
      timeout: 9
      max_digits: 1
  - hangup
"""


@pytest.mark.slow
async def test_the_flows_hints_reach_the_calls_live_transcript(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hinted.yaml").write_text(HINTED_FLOW)
    server = await server_factory(ServerOptions(extra_args=["--flows", str(flows)]))
    before = {c["call_id"] for c in await get_json(server, "/api/debug/calls")}
    result = await place_call(f"sip:100@{server.sip_target}",
                              play=spoken(tmp_path, "billing", "billing"),
                              from_user="+15550310", duration=12.0)
    assert result.connected, result
    interaction = await ended_interaction(server, exclude=before, within=40.0)
    said = " ".join(s["text"] for s in interaction["segments"] if s["speaker"] == "caller")
    print(f"\nthe caller's transcript: {said!r}")
    assert "billing" in said.lower(), said


def test_a_flow_reads_its_hints_and_refuses_bad_ones_where_they_are() -> None:
    problems = Problems()
    doc = parse_flow(HINTED_FLOW.encode(), pathlib.Path("/tmp/h.yaml"), problems, file="h.yaml")
    assert problems.lines() == [] and doc is not None
    assert doc.hints == ("billing",)  # repeats dropped
    bad = HINTED_FLOW.replace("hints: [billing, billing]", "hints: [billing, 7]")
    problems = Problems()
    assert parse_flow(bad.encode(), pathlib.Path("/tmp/h.yaml"), problems, file="h.yaml") is None
    assert any("h.yaml:3" in line and "hints" in line for line in problems.lines()), \
        problems.lines()


def test_a_queue_reads_its_hints_and_refuses_bad_ones_naming_the_key() -> None:
    config = parse_routing("queues:\n  - name: sales\n    hints: [Fibra 600, ' Fibra 600 ']\n",
                           "r.yaml")
    assert config.queues["sales"].hints == ("Fibra 600",)
    with pytest.raises(InvalidConfig, match=r"r\.yaml.*queues\[0\]\.hints\[1\]"):
        parse_routing("queues:\n  - name: sales\n    hints: [ok, '']\n", "r.yaml")
    with pytest.raises(InvalidConfig, match="hints"):
        parse_routing("queues:\n  - name: sales\n    hints: Fibra\n", "r.yaml")
