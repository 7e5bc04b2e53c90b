"""Hot reload on real calls: a flow file edited while a call runs it. The call in progress
finishes on the version it started with, the next call runs the new one, and a broken edit is
refused (its `file:line:column` error in the server log) while the last good version serves.
Which version ran is read back from the variables stored on each call's interaction.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import get_json
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

V1 = """\
name: reload
default: true
steps:
  - say: "Thank you for calling. This is the first version of this flow, and this prompt is
      long on purpose, so that the flow file can be edited while it plays."
  - set: {version: one}
  - say: "Goodbye."
  - hangup
"""

V2 = """\
name: reload
default: true
steps:
  - say: "Second version."
  - set: {version: two}
  - hangup
"""

# Line 5, column 5: the unknown verb.
V3_BROKEN = """\
name: reload
default: true
steps:
  - say: "Third version."
  - dance: {version: three}
  - hangup
"""


def server_log(server: ServerProcess) -> str:
    return server.stderr_path.read_text(encoding="utf-8", errors="replace")


async def log_shows(server: ServerProcess, pattern: str, count: int = 1,
                    within: float = 30.0, caller: asyncio.Task[Any] | None = None,
                    ) -> list[re.Match[str]]:
    """Wait until the server log holds `count` matches of `pattern`; return them. If the
    `caller` task ends first, fail with how its call went."""
    deadline = time.monotonic() + within
    while True:
        found = list(re.finditer(pattern, server_log(server)))
        if len(found) >= count:
            return found
        if caller is not None and caller.done():
            raise AssertionError(f"the call ended first: {caller.result()}\n"
                                 f"{server.stderr_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"log never showed {count} x {pattern!r}\n{server.stderr_tail()}"
            )
        await asyncio.sleep(0.1)


async def stored_variables(server: ServerProcess, call_id: str,
                           within: float = 15.0) -> list[dict[str, Any]]:
    """The `variable` events of the call's interaction, once its flow has ended."""
    deadline = time.monotonic() + within
    while True:
        case = await get_json(server, f"/api/calls/{call_id}/case")
        timeline = await get_json(server, f"/api/cases/{case['case_id']}")
        for interaction in timeline["interactions"]:
            events = interaction["ivr_events"]
            if interaction["ended_at"] and any(e["kind"] == "path" for e in events):
                return [e["value"] for e in events if e["kind"] == "variable"]
        if time.monotonic() > deadline:
            raise AssertionError(f"call {call_id}: no ended interaction in time")
        await asyncio.sleep(0.3)


# The interpreter logs "call <id>: flow <name> (version <hash>)" as it takes a call's flow.
STARTED = r"call (\S+): flow reload \(version (\w+)\)"


async def test_edit_during_a_call_then_a_broken_edit(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    path = flows / "reload.yaml"
    path.write_text(V1)
    server = await server_factory(
        ServerOptions(extra_args=["--flows", str(flows), "--transcription", "off"])
    )
    uri = f"sip:100@{server.sip_target}"

    # Call A takes version 1; the file changes while A is still in its long prompt.
    call_a = asyncio.create_task(place_call(uri, from_user="+15550301", duration=30.0))
    try:
        (started_a,) = await log_shows(server, STARTED, 1, caller=call_a)
        path.write_text(V2)
        # The registry polls every second; it logs the new version when it takes it.
        await log_shows(server, r"flow reload reloaded: version \w+ -> \w+", 1)
        assert not call_a.done(), "call A ended before the edit: its prompt is too short"
        result_a = await call_a
    finally:
        if not call_a.done():
            call_a.cancel()
            await asyncio.wait({call_a})
    assert result_a.connected, result_a
    assert await stored_variables(server, started_a[1]) == [{"version": "one"}]

    # Call B, after the reload: version 2.
    result_b = await place_call(uri, from_user="+15550302", duration=15.0)
    assert result_b.connected, result_b
    started_b = (await log_shows(server, STARTED, 2))[1]
    assert started_b[2] != started_a[2]
    assert await stored_variables(server, started_b[1]) == [{"version": "two"}]

    # A broken edit is refused with its position; version 2 keeps serving.
    path.write_text(V3_BROKEN)
    (rejected,) = await log_shows(server, rf"flow rejected: {re.escape(str(path))}:5:5: .*")
    assert "dance" in rejected[0], rejected[0]
    await log_shows(server, rf"flow reload: keeping version {started_b[2]}")
    result_c = await place_call(uri, from_user="+15550303", duration=15.0)
    assert result_c.connected, result_c
    started_c = (await log_shows(server, STARTED, 3))[2]
    assert started_c[2] == started_b[2]
    assert await stored_variables(server, started_c[1]) == [{"version": "two"}]
