"""A speech gather on real calls: pjsua2 (`centralita call`'s worker) speaks espeak-ng
sentences through 8 kHz PCMU, the server's whisper engine (transcription on, the same ASR
factory live transcripts use) recognises them, and the gather tells billing from support,
a synonym included; a caller who says nothing and presses 2 falls back to DTMF. Every
outcome is read back from the stored interaction on the caller's case.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions, ServerProcess
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOW = """\
name: speech
default: true
steps:
  - label: ask
    gather:
      prompt: "Billing or support?"
      input: both
      variable: topic
      timeout: 8
      max_digits: 1
      terminator: ""
      phrases:
        billing: [billing, bill, invoice, payment]
        support: [support, help, technical]
      on_timeout: goodbye
      on_invalid: goodbye
  - branch:
      when:
        - {var: topic, in: [billing, "1"], goto: billing}
        - {var: topic, in: [support, "2"], goto: support}
      else: goodbye
  - label: billing
    set: {team: billing}
  - goto: goodbye
  - label: support
    set: {team: support}
  - label: goodbye
    say: "Goodbye."
  - hangup
"""

# The prompt lasts ~1.2 s; the caller starts speaking after 2 s of silence (after the prompt,
# not over it) and leaves 1.5 s of silence at the end so the VAD closes the utterance.
LEAD_SILENCE_S = 2.0
TAIL_SILENCE_S = 1.5

# whisper tiny.en hears espeak-ng's "billing" as "feeling" or "building" whatever the voice
# or rate (tried: en-us, en-gb, +m3, +f3, +m7, 130/150 wpm), so the billing caller says
# "bill", the phrase list's own short form; the synonym caller says "invoice".
SENTENCES = {
    "billing": "I have a question about my bill",
    "support": "I need technical support",
    "synonym": "I want to pay my invoice",
}


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each sentence as an 8 kHz mono 16-bit WAV, padded with silence before and after."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("ivr-speech")
    out: dict[str, Path] = {}
    for name, text in SENTENCES.items():
        raw = directory / f"{name}-22k.wav"
        wav = directory / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text],
                       check=True, timeout=60)
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
             str(wav), "pad", str(LEAD_SILENCE_S), str(TAIL_SILENCE_S)],
            check=True, timeout=60,
        )
        out[name] = wav
    return out


async def call_ids(server: ServerProcess) -> set[str]:
    return {c["call_id"] for c in await get_json(server, "/api/debug/calls")}


def branch_taken(events: list[dict[str, Any]]) -> str | None:
    teams = [e["value"]["team"] for e in events if e["kind"] == "variable"]
    assert len(teams) <= 1, events
    return teams[0] if teams else None


async def test_speech_gather_tells_billing_from_support_and_falls_back_to_dtmf(
    server_factory: ServerFactory, tmp_path: Path, spoken: dict[str, Path]
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "speech.yaml").write_text(FLOW)
    # Transcription on (whisper, the default): the gather's recogniser comes from the same
    # factory as the live transcript, and shares its utterance pool.
    server = await server_factory(ServerOptions(extra_args=["--flows", str(flows)]))
    uri = f"sip:100@{server.sip_target}"

    for name, expected in (("billing", "billing"), ("support", "support"),
                           ("synonym", "billing")):
        before = await call_ids(server)
        result = await place_call(uri, play=spoken[name], from_user=f"+1555020{len(before)}",
                                  duration=20.0)
        assert result.connected, result
        events = (await ended_interaction(server, exclude=before, path_recorded=True))["ivr_events"]
        speech = [e for e in events if e["kind"] == "speech"]
        assert len(speech) == 1, (name, events)
        assert speech[0]["value"]["match"] == expected, (name, speech[0]["value"])
        assert speech[0]["value"]["outcome"] == "match"
        assert speech[0]["value"]["variable"] == "topic"
        assert not [e for e in events if e["kind"] == "digits"], (name, events)
        assert branch_taken(events) == expected, (name, events)
        labels = [s["label"] for s in next(e["value"] for e in events if e["kind"] == "path")]
        assert labels[0] == "ask" and expected in labels, (name, labels)

    # DTMF fallback: silence on the line, then "2" after the prompt.
    before = await call_ids(server)
    result = await place_call(uri, dtmf="2", dtmf_delay=3.0, from_user="+15550299",
                              duration=20.0)
    assert result.connected, result
    events = (await ended_interaction(server, exclude=before, path_recorded=True))["ivr_events"]
    assert not [e for e in events if e["kind"] == "speech"], events
    digits = [e["value"] for e in events if e["kind"] == "digits"]
    assert digits == [{"digits": "2", "outcome": "match", "variable": "topic"}], events
    assert branch_taken(events) == "support", events
