"""Privacy mode end to end: a pjsua2 caller SPEAKS a card number (espeak-ng, 8 kHz PCMU) into a
`sensitive` speech gather of a real server with live transcription on (whisper). While the
step runs the call's privacy is paused: no transcript segment of the caller falls inside the
span, the digits are nowhere (case, transcript, debug capture, the server's log), the debug
capture holds silence for the span, and the case carries a note of the gap (start, end, who
paused). What the caller says after the step is transcribed again.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from centralita.call_cases import PRIVACY_AUTHOR, PrivacyGap
from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOW = """\
name: pci
default: true
steps:
  - label: card
    sensitive: true
    gather:
      prompt: "Please say your card number."
      input: speech
      variable: card
      timeout: 8
      phrases:
        done: [done]
      on_timeout: after
      on_invalid: after
  - label: after
    gather:
      prompt: "Thank you. What else can we do?"
      input: speech
      variable: topic
      timeout: 12
      phrases:
        balance: [balance, account]
      on_timeout: bye
      on_invalid: bye
  - label: bye
    say: "Goodbye."
  - hangup
"""

CARD = "four one one one, two two two two, three three three three"
# The card's digit groups as written digits (not inside a longer number or after a colon: the
# log names host:port pairs, and a test port can be 62222) and as spoken words.
CARD_NEEDLES = [re.compile(r"(?<![\d:])" + group) for group in ("4111", "2222", "3333")] + [
    re.compile(words) for words in ("four one", "one one one")
]
AFTER = "I would like to check my balance please"
# The card is said after the prompt (~2 s); the second sentence long after the sensitive
# gather has ended (VAD end + a whisper decode, slower under load) and the next prompt.
LEAD_S, BETWEEN_S, TAIL_S = 3.0, 11.0, 2.0
DIGIT_WORDS = re.compile(r"\d|four|one|two|three", re.IGNORECASE)


def speak(directory: Path, name: str, text: str) -> np.ndarray[Any, np.dtype[np.int16]]:
    raw, wav = directory / f"{name}-22k.wav", directory / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text],
                   check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                    str(wav)], check=True, timeout=60)
    with wave.open(str(wav)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("privacy")
    silence = [np.zeros(int(s * 8000), np.int16) for s in (LEAD_S, BETWEEN_S, TAIL_S)]
    pcm = np.concatenate([silence[0], speak(directory, "card", CARD), silence[1],
                          speak(directory, "after", AFTER), silence[2]])
    path = directory / "caller.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.astype("<i2").tobytes())
    return path


def wav_rms(path: Path, start: float, end: float) -> float:
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    part = pcm[int(start * 8000) : int(end * 8000)]
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


async def test_a_sensitive_spoken_card_number_is_never_transcribed_and_the_case_shows_the_gap(
    server_factory: ServerFactory, tmp_path: Path, caller_wav: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "pci.yaml").write_text(FLOW)
    server = await server_factory(ServerOptions(extra_args=["--flows", str(flows)]))
    with wave.open(str(caller_wav)) as w:
        seconds = w.getnframes() / 8000
    result = await place_call(f"sip:100@{server.sip_target}", play=caller_wav,
                              from_user="+15550310", duration=seconds + 1.0)
    assert result.connected, result
    interaction = await ended_interaction(server, within=60.0, path_recorded=True)
    (call,) = [c for c in await get_json(server, "/api/debug/calls")]
    case = await get_json(server, f"/api/calls/{call['call_id']}/case")
    timeline = await get_json(server, f"/api/cases/{case['case_id']}")

    # The case shows the gap: when, and who paused it (the sensitive step), never content.
    notes = [n for n in timeline["notes"] if n["author"] == PRIVACY_AUTHOR]
    gaps = [PrivacyGap.parse(n["text"]) for n in notes]
    assert len(gaps) == 1 and gaps[0] is not None, notes
    gap = gaps[0]
    assert gap.call_id == call["call_id"]
    assert (gap.paused_by, gap.resumed_by) == ("ivr:card", "ivr:card")
    # The step ran from the answer, past the end of the spoken number.
    card_end = LEAD_S + 2.0
    assert gap.start < 0.5 and gap.end > card_end, gap

    segments = interaction["segments"]
    # No segment of either party inside the span, and no digit anywhere in the transcript.
    inside = [s for s in segments if s["start"] < gap.end and s["end"] > gap.start]
    assert inside == [], (gap, inside)
    assert not [s for s in segments if DIGIT_WORDS.search(s["text"])], segments
    # ...while what the caller said after the step was transcribed: the transcriber is back.
    after = [s for s in segments if s["speaker"] == "caller" and s["start"] >= gap.end]
    assert after and any("balance" in s["text"].lower() for s in after), segments
    # The gather heard the number (its answer is masked on the case, as before).
    speech = [e for e in interaction["ivr_events"] if e["kind"] == "speech" and e["sensitive"]]
    assert speech and speech[0]["value"]["text"] == "***", interaction["ivr_events"]

    # The debug capture keeps silence for the span, and audio after it.
    capture = Path(call["decoded_audio_wav"])
    assert wav_rms(capture, LEAD_S, card_end) == 0.0
    assert wav_rms(capture, gap.end + 0.5, seconds - TAIL_S) > 100.0

    # The digits are nowhere: not in the case, not in the server's log.
    assert not DIGIT_WORDS.search(json.dumps([s["text"] for s in segments]))
    log_text = server.stderr_path.read_text(errors="replace")
    for needle in CARD_NEEDLES:
        assert not needle.search(log_text) and not needle.search(json.dumps(timeline)), needle
