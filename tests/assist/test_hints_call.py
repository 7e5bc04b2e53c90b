"""Phrase hints on real calls: a pjsua2 caller says "billing" (espeak-ng, en-us, 150 words a
minute, 8 kHz PCMU) to a speech gather that lists it, and the gather hears billing.

Before hints the same audio was heard as "feeling" or "building" (tests/e2e/
test_ivr_speech_gather.py had its billing caller say "bill" for that reason); the unhinted
failure itself is shown on the live pool in tests/assist/test_phrase_hints.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.e2e.test_ivr_speech_gather import FLOW, LEAD_SILENCE_S, TAIL_SILENCE_S
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

# "I have a question about billing" in one sentence was heard "I am a question I'm out" with
# hints too (one run): hints help a menu's words, not a whole sentence of short-window audio.
SAID = {"alone": "billing"}


def spoken(directory: Path, name: str, text: str) -> Path:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    raw, wav = directory / f"{name}-22k.wav", directory / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text],
                   check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e",
                    "signed-integer", str(wav), "pad", str(LEAD_SILENCE_S),
                    str(TAIL_SILENCE_S)], check=True, timeout=60)
    return wav


async def test_billing_is_heard_in_a_gather_that_lists_it(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "speech.yaml").write_text(FLOW)
    server = await server_factory(ServerOptions(extra_args=["--flows", str(flows)]))
    for n, (name, text) in enumerate(SAID.items()):
        before = {c["call_id"] for c in await get_json(server, "/api/debug/calls")}
        result = await place_call(f"sip:100@{server.sip_target}",
                                  play=spoken(tmp_path, name, text),
                                  from_user=f"+1555030{n}", duration=20.0)
        assert result.connected, result
        events = (await ended_interaction(server, exclude=before,
                                          path_recorded=True))["ivr_events"]
        speech = [e["value"] for e in events if e["kind"] == "speech"]
        print(f"\n{name}: heard {[s['text'] for s in speech]}")
        assert len(speech) == 1, (name, events)
        assert speech[0]["match"] == "billing", (name, speech[0])
        assert "billing" in speech[0]["text"].lower(), (name, speech[0])
