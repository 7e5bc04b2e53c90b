"""`centralita transcribe FILE... [--engine NAME] [--language CODE]`: run an ASR engine over
recordings.

The same stream path a call uses (20 ms frames in, finals out), so it doubles as a check that
an engine and its model are installed, but lossless: the file is read at the recogniser's
pace (`AsrStream.write` waits while a few seconds of audio are queued) and results are read
as they come, so no audio and no final is ever dropped, however slow the engine. Times are
seconds from the start of the file.

Any WAV is accepted (other rates, stereo, 8/24/32-bit, float, µ-law): it is converted on the
way in (media.asr.audio_file) and the conversion named on stderr. Transcripts go to stdout for
the person who asked; stderr gets, per file, the real-time factor (processing time over audio
time, model loading excluded) and any dropped audio, which is a bug and exits 1. Nothing is
logged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.asr.audio_file import AudioFile, AudioFileError
from media.asr.base import AsrError, AsrStream, RecognizerEngine
from media.asr.factory import DEFAULT_ENGINE, ENGINES, create_engine
from media.frames import AudioFrame, samples_per_frame

# Kept for callers that caught the old name.
WavError = AudioFileError


def add_transcribe_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `transcribe` sub-command to the `centralita` parser."""
    p = subparsers.add_parser("transcribe", help="transcribe recordings with an ASR engine")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="WAV (any rate, channels, sample format; converted) or other audio")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                   help=f"recognition engine (default {DEFAULT_ENGINE})")
    p.add_argument("--model", help="whisper: tiny.en | base | DIR; vosk: model DIR (required)")
    p.add_argument("--language", default="en", metavar="CODE",
                   help="language spoken (ISO 639-1, e.g. en, es; whisper also 'auto'); "
                   "default en. tiny.en is English-only: other languages need --model base")
    p.add_argument("--vad", choices=("webrtc", "silero"), default="webrtc",
                   help="detector that cuts utterances for whisper/pocketsphinx")
    p.add_argument("--data-dir", type=Path, default=Path("data"),
                   help="where derived models are cached (whisper base)")
    p.add_argument("--partials", action="store_true", help="print partial results too")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples (int16 mono) and rate of an audio file, converted as the command does."""
    with AudioFile(path) as audio:
        chunks = list(audio.chunks())
        rate = audio.info.out_rate
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return pcm, rate


@dataclass
class FileReport:
    """What one file cost and whether anything was lost (printed on stderr)."""

    audio_s: float
    elapsed_s: float
    dropped_frames: int
    dropped_audio_s: float
    dropped_finals: int
    segments: int

    @property
    def rtf(self) -> float:
        return self.elapsed_s / self.audio_s if self.audio_s > 0 else 0.0

    @property
    def lossless(self) -> bool:
        return self.dropped_frames == 0 and self.dropped_finals == 0


async def _print_results(stream: AsrStream, name: str, partials: bool) -> int:
    finals = 0
    async for r in stream:
        if r.is_final:
            finals += 1
        if r.is_final or partials:
            tag = "" if r.is_final else " (partial)"
            print(f"{name} [{r.start:7.2f} - {r.end:7.2f}]{tag} {r.text}", flush=True)
    return finals


async def transcribe_file(
    engine: RecognizerEngine, audio: AudioFile, partials: bool = False
) -> FileReport:
    """Every final of `audio` on stdout, in order; the file is pushed at the engine's pace."""
    rate = audio.info.out_rate
    n = samples_per_frame(rate)
    stream = engine.stream(rate, lossless=True)
    started = time.perf_counter()
    # Results are read while the file is written: a lossless stream waits for its reader.
    reader = asyncio.create_task(_print_results(stream, audio.path.name, partials))
    pushed = 0
    try:
        carry = np.zeros(0, np.int16)
        for chunk in audio.chunks():
            if reader.done():  # the recogniser failed: the reader has its error
                break
            data = np.concatenate((carry, chunk)) if len(carry) else chunk
            whole = len(data) - len(data) % n
            for i in range(0, whole, n):
                await stream.write(AudioFrame(data[i : i + n].copy(), rate, pushed))
                pushed += n
            carry = data[whole:]
        if len(carry):
            last = np.concatenate((carry, np.zeros(n - len(carry), np.int16)))
            await stream.write(AudioFrame(last, rate, pushed))
            pushed += len(carry)
        stream.end_input()
        finals = await reader
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.wait([reader])
        await stream.aclose()
    return FileReport(
        audio_s=pushed / rate,
        elapsed_s=time.perf_counter() - started,
        dropped_frames=stream.dropped_frames,
        dropped_audio_s=stream.dropped_audio_s,
        dropped_finals=stream.dropped_finals,
        segments=finals,
    )


def _say(text: str) -> None:
    print(f"centralita transcribe: {text}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    engine = create_engine(args.engine, args.model, args.data_dir, vad=args.vad,
                           language=args.language)
    status = 0
    loaded = False
    try:
        for path in args.files:
            try:
                audio = AudioFile(path)
            except AudioFileError as exc:
                _say(str(exc))
                status = 2
                continue
            with audio:
                if audio.info.converted:
                    _say(f"{path.name}: converting {audio.info.describe()}")
                if not loaded:
                    # Off the event loop; a missing model or a language the model lacks is
                    # reported here, before any audio is pushed.
                    await asyncio.get_running_loop().run_in_executor(None, engine.load)
                    loaded = True
                report = await transcribe_file(engine, audio, args.partials)
            dropped = (
                "nothing dropped" if report.lossless else
                f"DROPPED {report.dropped_frames} frames ({report.dropped_audio_s:.2f} s) "
                f"and {report.dropped_finals} finals"
            )
            _say(f"{path.name}: {report.audio_s:.2f} s of audio in {report.elapsed_s:.2f} s, "
                 f"real-time factor {report.rtf:.3f}; {report.segments} segments; {dropped}")
            if not report.lossless:
                status = max(status, 1)
    finally:
        engine.close()
    return status


def run_transcribe_command(args: argparse.Namespace) -> int:
    """Entry point for `centralita transcribe`; returns the process exit status."""
    # faster-whisper logs every window it decodes at INFO: noise on the operator's terminal.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(args))
    except ValueError as exc:  # bad option combination (e.g. vosk without --model)
        _say(str(exc))
        return 2
    except AsrError as exc:
        cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
        _say(f"{exc}{cause}")
        return 1
