"""The IVR's `handover` and `sms` verbs: validated with file:line errors, and on real pjsua2
calls they text the caller (the real `twilio` client to the loopback stand-in) the summary
and the chat link, or the flow's own words; an untrusted call takes `on_unavailable` and
nothing is sent."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.validator import check_paths
from tests.handover.test_deflect_call import LINK, NUMBER, Live, _live
from tests.helpers.databases import ServerDatabase
from voice.pjsua.client import place_call

FLOW = """name: texts
default: true
steps:
  - set: {ref: "A-77"}
  - handover: {channel: sms, then: words, on_unavailable: sorry}
  - label: words
    sms: {text: "Your reference is ${ref}.", on_unavailable: sorry}
  - say: "Sent."
  - hangup
  - label: sorry
    set: {failed: "yes"}
  - say: "Sorry."
  - hangup
"""


def _problems(tmp_path: pathlib.Path, steps: str) -> list[str]:
    path = tmp_path / "f.yaml"
    path.write_text(f"name: f\ndefault: true\nsteps:\n{steps}")
    _, problems = check_paths([path])
    return problems.lines()


def test_the_validator_names_bad_steps(tmp_path: pathlib.Path) -> None:
    assert _problems(tmp_path, "  - handover: {}\n  - hangup\n") == []
    [line] = _problems(tmp_path, "  - handover: {then: nowhere}\n  - hangup\n")
    assert "f.yaml:4" in line and "nowhere" in line
    assert _problems(tmp_path, "  - handover: {channel: fax}\n  - hangup\n")
    [line] = _problems(tmp_path, "  - sms: {link: true}\n  - hangup\n")
    assert "f.yaml:4" in line and "text" in line


@pytest.fixture
async def live(tmp_path: Path, server_database: ServerDatabase) -> AsyncIterator[Live]:
    async for one in _live(tmp_path, None, FLOW, server_database):
        yield one


@pytest.fixture
async def untrusting(tmp_path: Path) -> AsyncIterator[Live]:
    async for one in _live(tmp_path, "192.0.2.0/24", FLOW):
        yield one


async def _call(live: Live) -> None:
    sip = live.server.settings.sip_listen
    result = await place_call(f"sip:100@{sip.host}:{sip.port}", from_user=NUMBER,
                              duration=20.0, timeout=40.0)
    assert result.connected and result.remote_hangup, result


@pytest.mark.slow
async def test_a_trusted_call_is_texted_the_link_then_the_flows_words(live: Live) -> None:
    await _call(live)
    for _ in range(50):
        if len(live.twilio.requests) >= 2:
            break
        await asyncio.sleep(0.1)
    bodies = [r.form["Body"] for r in live.twilio.requests]
    assert [r.form["To"] for r in live.twilio.requests] == ["+34" + NUMBER] * 2
    assert LINK.search(bodies[0]) is not None
    assert bodies[1] == "Your reference is A-77."


@pytest.mark.slow
async def test_an_untrusted_call_is_never_texted(untrusting: Live) -> None:
    await _call(untrusting)
    await asyncio.sleep(0.5)
    assert untrusting.twilio.requests == []
