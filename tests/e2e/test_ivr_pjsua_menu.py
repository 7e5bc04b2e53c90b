"""A menu driven by pjsua2 (the `centralita call` worker) with spoken audio and DTMF: the
caller first says something that is no choice (an invalid spoken answer, recognised by the
server's whisper engine), then stays silent past the timeout, then presses 2. Each try, the
variables set and the path are read back from the stored interaction on the caller's case.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOW = """\
name: pjsua-menu
default: true
steps:
  - label: menu
    menu:
      prompt: "Billing or support?"
      choices:
        - {digits: "1", phrases: [billing, bill, invoice, payment], goto: billing}
        - {digits: "2", phrases: [support, help, technical], goto: support}
      input: both
      retries: 2
      timeout: 8
      invalid_prompt: "Not an option."
      timeout_prompt: "I did not hear you."
      on_failure: goodbye
      variable: choice
  - label: billing
    set: {team: billing}
  - goto: goodbye
  - label: support
    set: {team: support, routed_by: keypad}
  - label: goodbye
    say: "Goodbye."
  - hangup
"""

SENTENCE = "I would like to order a pizza"
LEAD_SILENCE_S = 2.0
# The server's side, roughly: the prompt ends at ~1.3 s; the sentence (from 2 s to ~4 s) is
# recognised by ~5-6 s and matches no choice; "Not an option." and the prompt again end by
# ~8 s; 8 s of silence plus the recogniser's 4 s grace make the timeout at ~20 s; "I did not
# hear you." and the prompt end by ~22.5 s, and that try would time out at ~34.5 s. The key at
# 27 s leaves some 7 s on either side (a slow recogniser shifts everything later).
DTMF_AT_S = 27.0


@pytest.fixture(scope="module")
def invalid_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentence as an 8 kHz mono 16-bit WAV, after `LEAD_SILENCE_S` of silence."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("ivr-menu-speech")
    raw, wav = directory / "raw.wav", directory / "pizza.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), SENTENCE],
                   check=True, timeout=60)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
         str(wav), "pad", str(LEAD_SILENCE_S), "1.0"],
        check=True, timeout=60,
    )
    return wav


async def test_menu_invalid_speech_then_timeout_then_key(
    server_factory: ServerFactory, tmp_path: Path, invalid_speech: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "menu.yaml").write_text(FLOW)
    server = await server_factory(ServerOptions(extra_args=["--flows", str(flows)]))
    result = await place_call(
        f"sip:100@{server.sip_target}", play=invalid_speech, dtmf="2", dtmf_delay=DTMF_AT_S,
        from_user="+15550401", duration=45.0,
    )
    assert result.connected, result
    events = (await ended_interaction(server, path_recorded=True))["ivr_events"]

    tries = [e for e in events if e["step"] == "menu" and e["kind"] in ("speech", "digits")]
    assert [(t["kind"], t["value"]["outcome"]) for t in tries] == [
        ("speech", "invalid"), ("digits", "timeout"), ("digits", "match"),
    ], events
    spoken, silent, pressed = (t["value"] for t in tries)
    assert spoken["match"] is None and spoken["engine"] == "whisper"
    assert spoken["text"].strip(), spoken  # what was heard is kept, whatever tiny.en made of it
    assert silent["digits"] == ""
    assert pressed["digits"] == "2" and pressed["variable"] == "choice"

    variables = [(e["step"], e["value"]) for e in events if e["kind"] == "variable"]
    assert variables == [("support", {"team": "support"}),
                         ("support", {"routed_by": "keypad"})], events
    path = next(e["value"] for e in events if e["kind"] == "path")
    assert [s["label"] for s in path][:3] == ["menu", "support", "goodbye"], path
    assert [s["verb"] for s in path] == ["menu", "set", "say", "hangup"], path
