"""The `transcribe` sub-command, through a parser like the one centralita/cli.py builds."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from media.asr.transcribe import add_transcribe_parser, run_transcribe_command
from tests.speech.audio import LIBRIVOX


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="centralita")
    add_transcribe_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.slow
@pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="apt-get install pocketsphinx-testdata")
def test_transcribes_a_wav_with_whisper(capsys: pytest.CaptureFixture[str]) -> None:
    wav = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    assert run_transcribe_command(parse(["transcribe", str(wav)])) == 0
    out = capsys.readouterr().out.lower()
    assert "he was not" in out and "young man" in out


def test_bad_wav_and_missing_vosk_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    assert run_transcribe_command(parse(["transcribe", "--engine", "pocketsphinx", str(bad)])) == 2
    assert "cannot read WAV" in capsys.readouterr().err
    assert run_transcribe_command(parse(["transcribe", "--engine", "vosk", str(bad)])) == 2
    assert "model directory" in capsys.readouterr().err
    args = parse(["transcribe", "--engine", "vosk", "--model", str(tmp_path / "x"), str(bad)])
    assert run_transcribe_command(args) == 2  # the bad file is reported before a model loads
