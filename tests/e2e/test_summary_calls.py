"""The summary lands on the case when a real call ends: a pjsua2 caller keys an order number
and a PIN (sensitive step) by RFC 4733 DTMF into a real server's flow, then says why they call
(espeak-ng speech, 8 kHz PCMU, transcribed live by whisper). Once the call ends the case shows
the summary at the top (the caller's reason, the order number as a fact from the IVR step,
the PIN masked), the facts API lists them with their source, and the PIN is nowhere. The
same caller's next call is not asked for the order number again (`skip_if_known`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOW = """\
name: orders
default: true
steps:
  - label: ask_order
    gather: {prompt: "Key in your order number, then hash.", variable: order_number,
             terminator: "#", max_digits: 10, timeout: 8, on_timeout: pin,
             skip_if_known: true}
  - label: pin
    gather: {prompt: "Now your PIN, then hash.", variable: pin, terminator: "#",
             max_digits: 6, timeout: 8, on_timeout: talk}
    sensitive: true
  - label: talk
    gather:
      prompt: "How can we help?"
      input: speech
      variable: topic
      timeout: 15
      phrases:
        damaged: [damaged, broken, cracked]
      on_timeout: bye
      on_invalid: again
  - goto: bye
  - label: again
    gather:
      prompt: "Anything else?"
      input: speech
      variable: more
      timeout: 10
      phrases:
        done: [done]
      on_timeout: bye
      on_invalid: bye
  - label: bye
    say: "Goodbye."
  - hangup
"""

ORDER, PIN = "456789", "4321"
KEYS = ((2.0, f"{ORDER}#"), (6.5, f"{PIN}#"))
SAID = "I am calling because my parcel arrived damaged and the screen is cracked."
SPEECH_AT_S, TAIL_S = 11.0, 4.0


def caller_wav(directory: Path) -> tuple[Path, float]:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    raw, speech = directory / "said-22k.wav", directory / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), SAID],
                   check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e",
                    "signed-integer", str(speech)], check=True, timeout=60)
    with wave.open(str(speech)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    whole = np.concatenate([np.zeros(int(SPEECH_AT_S * 8000), np.int16), pcm,
                            np.zeros(int(TAIL_S * 8000), np.int16)])
    path = directory / "caller.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(whole.astype("<i2").tobytes())
    return path, len(whole) / 8000


async def test_a_real_call_ends_with_its_summary_and_facts_on_the_case(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "orders.yaml").write_text(FLOW)
    wav, seconds = caller_wav(tmp_path)
    server = await server_factory(ServerOptions(extra_args=["--flows", str(flows)]))
    result = await place_call(f"sip:100@{server.sip_target}", play=wav, dtmf_at=KEYS,
                              from_user="+15550420", duration=seconds + 1.0)
    assert result.connected, result
    interaction = await ended_interaction(server, within=60.0, path_recorded=True)
    (call,) = await get_json(server, "/api/debug/calls")
    case = await get_json(server, f"/api/calls/{call['call_id']}/case")
    timeline = await get_json(server, f"/api/cases/{case['case_id']}")

    summary: dict[str, Any] = timeline["summary"]
    assert summary is not None and summary["interaction_id"] == interaction["id"]
    assert summary["in_progress"] is False
    facts = {f["key"]: f for f in summary["facts"]}
    assert facts["order_number"]["value"] == ORDER
    assert facts["order_number"]["source"]["ivr_step"] == "ask_order"
    assert facts["pin"]["value"] == "***" and facts["pin"]["masked"] is True
    assert f"order_number {ORDER}" in summary["text"] or f"order {ORDER}" in summary["text"]
    # Why they called, in their words (the live transcript, or the gather's answer).
    assert "damage" in summary["text"].lower(), summary["text"]
    assert interaction["summary"] == summary["text"]

    listed = await get_json(server, f"/api/cases/{case['case_id']}/facts")
    stored = {(f["key"], f["value"], f["source"]["ivr_step"]) for f in listed["facts"]}
    assert ("order_number", ORDER, "ask_order") in stored
    assert ("pin", "***", "pin") in stored
    # The PIN is nowhere: not in the timeline, the facts, or the server's log.
    assert PIN not in json.dumps(timeline) and PIN not in json.dumps(listed)
    assert PIN not in server.stderr_path.read_text(errors="replace")

    # The next call from the same number: the order number is known, the flow does not ask.
    again = await place_call(f"sip:100@{server.sip_target}", dtmf_at=((2.0, f"{PIN}#"),),
                             from_user="+15550420", duration=8.0)
    assert again.connected, again
    second = await ended_interaction(server, within=60.0, exclude=[call["call_id"]],
                                     path_recorded=True)
    asked = [e for e in second["ivr_events"]
             if e["step"] == "ask_order" and e["kind"] in ("digits", "variable")]
    assert [(e["kind"], e["value"]) for e in asked] == [("variable", {"order_number": ORDER})]
    timeline = await get_json(server, f"/api/cases/{case['case_id']}")
    assert [i["id"] for i in timeline["interactions"]] == [interaction["id"], second["id"]]
