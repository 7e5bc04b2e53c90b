"""`centralita transcribe FILE... [--engine NAME]`: run an ASR engine over WAV files.

The same stream path a call uses (20 ms frames in, finals out), so it doubles as a check that
an engine and its model are installed. Transcripts go to stdout for the person who asked;
nothing is logged.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import wave
from pathlib import Path

import numpy as np

from media.asr.base import AsrError, RecognizerEngine
from media.asr.factory import DEFAULT_ENGINE, ENGINES, create_engine
from media.frames import SAMPLE_RATES, AudioFrame, Pcm, samples_per_frame


class WavError(ValueError):
    """A file the command cannot read as 16-bit mono 8/16 kHz WAV."""


def add_transcribe_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `transcribe` sub-command to the `centralita` parser."""
    p = subparsers.add_parser("transcribe", help="transcribe WAV files with an ASR engine")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="16-bit mono WAV at 8000 or 16000 Hz")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                   help=f"recognition engine (default {DEFAULT_ENGINE})")
    p.add_argument("--model", help="whisper: tiny.en | base | DIR; vosk: model DIR (required)")
    p.add_argument("--vad", choices=("webrtc", "silero"), default="webrtc",
                   help="detector that cuts utterances for whisper/pocketsphinx")
    p.add_argument("--data-dir", type=Path, default=Path("data"),
                   help="where derived models are cached (whisper base)")
    p.add_argument("--partials", action="store_true", help="print partial results too")


def read_wav(path: Path) -> tuple[Pcm, int]:
    """Samples and rate of a 16-bit mono 8/16 kHz WAV file."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise WavError(f"{path}: cannot read WAV: {exc}") from exc
    if width != 2 or channels != 1 or rate not in SAMPLE_RATES:
        raise WavError(
            f"{path}: need 16-bit mono at 8000 or 16000 Hz, got {8 * width}-bit, "
            f"{channels} channel(s), {rate} Hz (convert: sox IN -r 16000 -c 1 -b 16 OUT.wav)"
        )
    return np.frombuffer(data, dtype="<i2").astype(np.int16), rate


async def _transcribe_file(engine: RecognizerEngine, path: Path, partials: bool) -> None:
    pcm, rate = read_wav(path)
    stream = engine.stream(rate)
    n = samples_per_frame(rate)
    try:
        for i in range(0, len(pcm), n):
            chunk = pcm[i : i + n]
            if len(chunk) < n:
                chunk = np.concatenate((chunk, np.zeros(n - len(chunk), np.int16)))
            stream.push_frame(AudioFrame(chunk, rate, i))
        stream.end_input()
        async for r in stream:
            if r.is_final or partials:
                tag = "" if r.is_final else " (partial)"
                print(f"{path.name} [{r.start:7.2f} - {r.end:7.2f}]{tag} {r.text}", flush=True)
    finally:
        await stream.aclose()


async def _run(args: argparse.Namespace) -> int:
    engine = create_engine(args.engine, args.model, args.data_dir, vad=args.vad)
    status = 0
    try:
        for path in args.files:
            try:
                await _transcribe_file(engine, path, args.partials)
            except WavError as exc:
                print(f"centralita transcribe: {exc}", file=sys.stderr)
                status = 2
    finally:
        engine.close()
    return status


def run_transcribe_command(args: argparse.Namespace) -> int:
    """Entry point for `centralita transcribe`; returns the process exit status."""
    try:
        return asyncio.run(_run(args))
    except ValueError as exc:  # bad option combination (e.g. vosk without --model)
        print(f"centralita transcribe: {exc}", file=sys.stderr)
        return 2
    except AsrError as exc:
        cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
        print(f"centralita transcribe: {exc}{cause}", file=sys.stderr)
        return 1
