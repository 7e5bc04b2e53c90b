"""`centralita transcribe`: the sub-command in process for its errors, and as a subprocess
on a 40-second passage of real human speech (tests/speech/passage.py) for what it prints.

The passage test failed on the old command: it pushed the whole file into the stream at once,
the stream kept only the newest 30 s, and the first two sentences never came out while the
rest were timed from 0 (10.5 s early).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media.asr.transcribe import add_transcribe_parser, run_transcribe_command
from media.asr.wer import normalize
from tests.speech.audio import LIBRIVOX
from tests.speech.passage import Passage, Segment, check_transcript, passage, write_wav

LINE = re.compile(r"^(\S+) \[\s*([\d.]+) -\s*([\d.]+)\] (.*)$")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="centralita")
    add_transcribe_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


needs_testdata = pytest.mark.skipif(
    not LIBRIVOX.is_dir(), reason="apt-get install pocketsphinx-testdata")


def transcribe(*args: str) -> tuple[list[Segment], str]:
    """`centralita transcribe ARGS` as a user runs it: segments from stdout, and stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "centralita", "transcribe", *args],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    segments = []
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        assert m, f"unexpected output line: {line!r}"
        segments.append(Segment(float(m.group(2)), float(m.group(3)), m.group(4)))
    return segments, proc.stderr


def assert_whole_passage(p: Passage, segments: list[Segment], stderr: str, name: str) -> None:
    assert check_transcript(p, segments) == []
    report = re.search(
        rf"{re.escape(name)}: ([\d.]+) s of audio in ([\d.]+) s, real-time factor ([\d.]+);"
        r" \d+ segments; nothing dropped", stderr)
    assert report, stderr
    assert float(report.group(1)) == pytest.approx(p.seconds, abs=0.03)


@pytest.mark.slow
@needs_testdata
def test_passage_at_8khz_every_sentence_once_in_order_at_its_time(tmp_path: Path) -> None:
    p = passage(8000)
    assert p.seconds > 40
    wav = write_wav(tmp_path / "passage.wav", p.pcm, 8000)
    segments, stderr = transcribe(str(wav))
    assert_whole_passage(p, segments, stderr, "passage.wav")


@pytest.mark.slow
@needs_testdata
def test_stereo_44k_24bit_conversion_gives_the_same_text(tmp_path: Path) -> None:
    if shutil.which("sox") is None:
        pytest.fail("sox is needed (apt-get install sox)")
    p = passage(16000)
    mono = write_wav(tmp_path / "mono.wav", p.pcm, 16000)
    stereo = tmp_path / "stereo.wav"
    subprocess.run(["sox", str(mono), "-r", "44100", "-c", "2", "-b", "24", str(stereo)],
                   check=True, capture_output=True)
    mono_segments, _ = transcribe(str(mono))
    segments, stderr = transcribe(str(stereo))
    assert "converting 44100 Hz 2-channel pcm_s24le -> 16000 Hz mono" in stderr
    assert_whole_passage(p, segments, stderr, "stereo.wav")
    words = [w for s in segments for w in normalize(s.text)]
    assert words == [w for s in mono_segments for w in normalize(s.text)]


@pytest.mark.slow
@needs_testdata
def test_transcribes_a_wav_with_whisper(capsys: pytest.CaptureFixture[str]) -> None:
    wav = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    assert run_transcribe_command(parse(["transcribe", str(wav)])) == 0
    out = capsys.readouterr()
    assert "he was not" in out.out.lower() and "young man" in out.out.lower()
    assert "real-time factor" in out.err and "nothing dropped" in out.err


def test_a_language_tiny_en_cannot_hear_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "quiet.wav", np.zeros(8000, np.int16), 8000)
    assert run_transcribe_command(parse(["transcribe", "--language", "es", str(wav)])) == 1
    err = capsys.readouterr().err
    assert "English-only" in err and "es" in err and "--model base" in err
    assert run_transcribe_command(parse(["transcribe", "--language", "xx", str(wav)])) == 1
    assert "unknown language 'xx'" in capsys.readouterr().err
    args = ["transcribe", "--engine", "pocketsphinx", "--language", "es", str(wav)]
    assert run_transcribe_command(parse(args)) == 1
    assert "English only" in capsys.readouterr().err


def test_bad_wav_and_missing_vosk_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    assert run_transcribe_command(parse(["transcribe", "--engine", "pocketsphinx", str(bad)])) == 2
    assert "cannot read WAV" in capsys.readouterr().err
    assert run_transcribe_command(parse(["transcribe", "--engine", "vosk", str(bad)])) == 2
    assert "model directory" in capsys.readouterr().err
    args = parse(["transcribe", "--engine", "vosk", "--model", str(tmp_path / "x"), str(bad)])
    assert run_transcribe_command(args) == 2  # the bad file is reported before a model loads
    missing = tmp_path / "missing.wav"
    assert run_transcribe_command(parse(["transcribe", str(missing)])) == 2
    assert "missing.wav: cannot read WAV" in capsys.readouterr().err
