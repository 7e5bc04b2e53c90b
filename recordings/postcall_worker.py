"""The post-call accuracy pass's worker: one recording, each channel (party) transcribed again
with the larger whisper model, in a process of its own at a low CPU priority.

    python3 -m recordings.postcall_worker < request.json > segments.jsonl

It reads one `PassRequest` (JSON) on stdin and writes JSON lines on stdout: one
`{"type": "segment", ...}` per segment, then `{"type": "done", ...}` with what it measured
(audio seconds, CPU seconds, wall seconds). Errors go to stderr as a class name (no
transcript text, STYLE.md §12), and the exit status is not 0.

Why a process and not a thread: whisper base keeps a core busy for a third of the audio's
length, and the GIL plus CTranslate2's threads would share the server's cores with the
media clock at the same priority. In a process of its own the pass is scheduled
`SCHED_IDLE` (only when a core would otherwise idle) or `nice`d (`priority`), and its
CTranslate2 threads (created after that) inherit it. bench/postcall.py measures both.

Privacy: a recording's paused spans hold silence, and this worker transcribes only the
regions between them (`speech_regions`): whatever a paused span holds never reaches the
model, and no segment can start or end inside one.

The worker dies with its parent (`PR_SET_PDEATHSIG`): a killed server leaves no orphan
decoding a call nobody will store; the job's lease runs out and the next start claims it
again (recordings.postcall_queue).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16000
PR_SET_PDEATHSIG = 1
# Regions shorter than this are not worth a decode (and whisper invents words in them).
MIN_REGION_S = 0.3


@dataclass(frozen=True)
class PassRequest:
    """What to transcribe: the recording's file, which channel is which party, the spans to
    leave out (seconds of the file), the model, and how to run."""

    path: str
    model: str
    cache_dir: str | None = None
    language: str | None = None  # None: detected per channel (multilingual models)
    # (party, channel, from second): nothing of the channel before it is transcribed.
    channels: tuple[tuple[str, int, float], ...] = (("caller", 0, 0.0), ("agent", 1, 0.0))
    paused: tuple[tuple[float, float], ...] = ()
    beam_size: int = 5
    cpu_threads: int = 1
    priority: str = "idle"  # "idle" (SCHED_IDLE) or "nice"
    nice: int = 19
    hints: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PassRequest:
        return cls(
            path=str(raw["path"]), model=str(raw["model"]), cache_dir=raw.get("cache_dir"),
            language=raw.get("language"),
            channels=tuple((str(c[0]), int(c[1]), float(c[2]) if len(c) > 2 else 0.0)
                           for c in raw.get("channels", cls.channels)),
            paused=tuple((float(a), float(b)) for a, b in raw.get("paused", ())),
            beam_size=int(raw.get("beam_size", 5)), cpu_threads=int(raw.get("cpu_threads", 1)),
            priority=str(raw.get("priority", "idle")), nice=int(raw.get("nice", 19)),
            hints=tuple(str(h) for h in raw.get("hints", ())),
        )


@dataclass(frozen=True)
class PostSegment:
    """One segment of the pass: seconds of the recording, the party, the text."""

    speaker: str
    start: float
    end: float
    text: str
    language: str | None
    confidence: float | None = None


@dataclass
class PassFigures:
    """What one pass cost: `rtf` = wall seconds / audio seconds (every channel counted)."""

    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    load_s: float = 0.0
    regions: int = 0
    languages: dict[str, str] = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0


def lower_priority(priority: str, nice: int) -> None:
    """Make this process (and the threads it starts later) yield the CPU to the server."""
    if priority not in ("idle", "nice"):
        raise ValueError(f"priority must be idle or nice, not {priority!r}")
    os.nice(max(0, min(19, nice)))
    if priority == "idle":
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return


def read_channels(path: Path) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
    """Every channel of `path` (WAV or Opus: anything FFmpeg decodes), as float32 at 16 kHz."""
    import av

    chunks: list[np.ndarray[Any, Any]] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        count = stream.codec_context.channels or 1
        layout = "stereo" if count == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=RATE)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    if not chunks:
        return []
    planes = np.concatenate(chunks, axis=1).astype(np.float32)
    return [planes[i] for i in range(planes.shape[0])]


def speech_regions(duration: float, paused: tuple[tuple[float, float], ...]
                   ) -> list[tuple[float, float]]:
    """[0, duration] less the paused spans: the only parts of the file transcribed."""
    regions: list[tuple[float, float]] = []
    at = 0.0
    for start, end in sorted(paused):
        start, end = max(0.0, start), min(duration, end)
        if start > at:
            regions.append((at, start))
        at = max(at, end)
    if duration > at:
        regions.append((at, duration))
    return [(a, b) for a, b in regions if b - a >= MIN_REGION_S]


def load_model(request: PassRequest) -> Any:
    """The faster-whisper model the request names (packaged or a directory; never fetched)."""
    from faster_whisper import WhisperModel

    from media.asr.whisper import resolve_whisper_model

    cache = Path(request.cache_dir) if request.cache_dir else None
    path = resolve_whisper_model(request.model, cache)
    return WhisperModel(str(path), device="cpu", compute_type="int8",
                        cpu_threads=request.cpu_threads, num_workers=1,
                        local_files_only=True)


def transcribe_channel(
    model: Any, pcm: np.ndarray[Any, np.dtype[np.float32]], speaker: str,
    request: PassRequest, skip: tuple[tuple[float, float], ...] = (),
) -> tuple[list[PostSegment], str | None]:
    """One party's audio, region by region (paused spans left out), with whisper's own loop:
    30 s windows with the text before as context, the Silero VAD (shipped in faster-whisper)
    skipping silence, temperature fallback. Returns the segments and the language."""
    from media.asr.junk import is_junk

    duration = len(pcm) / RATE
    language = request.language
    if language is None and not model.model.is_multilingual:
        language = "en"
    hotwords = ", ".join(h for h in request.hints if h.strip()) or None
    segments: list[PostSegment] = []
    for start, end in speech_regions(duration, request.paused + skip):
        piece = pcm[int(start * RATE):int(end * RATE)]
        found, info = model.transcribe(
            piece, language=language, beam_size=request.beam_size, vad_filter=True,
            condition_on_previous_text=True, hotwords=hotwords)
        for seg in found:
            text = seg.text.strip()
            if not text or is_junk(text):
                continue
            if seg.no_speech_prob > 0.6 and seg.avg_logprob < -1.0:
                continue
            seg_start = min(end, start + max(0.0, seg.start))
            seg_end = min(end, max(seg_start, start + seg.end))
            confidence = float(np.exp(seg.avg_logprob)) if seg.avg_logprob is not None else None
            segments.append(PostSegment(speaker, round(seg_start, 3), round(seg_end, 3), text,
                                        info.language, confidence))
        language = language or info.language  # detected once, kept for the rest
    return segments, language


def run(request: PassRequest, emit: Any) -> PassFigures:
    """The whole pass: read, load, transcribe every channel; `emit` gets each segment."""
    figures = PassFigures()
    wall0, cpu0 = time.monotonic(), time.process_time()
    planes = read_channels(Path(request.path))
    t = time.monotonic()
    model = load_model(request)
    figures.load_s = time.monotonic() - t
    for speaker, index, start in request.channels:
        if index >= len(planes):
            continue
        pcm = planes[index]
        skip = ((0.0, start),) if start > 0 else ()
        figures.audio_s += len(pcm) / RATE
        figures.regions += len(speech_regions(len(pcm) / RATE, request.paused + skip))
        segments, language = transcribe_channel(model, pcm, speaker, request, skip)
        if language:
            figures.languages[speaker] = language
        for seg in segments:
            emit(seg)
    figures.wall_s = time.monotonic() - wall0
    figures.cpu_s = time.process_time() - cpu0
    return figures


def main() -> int:
    die_with_parent()
    try:
        request = PassRequest.from_json(json.loads(sys.stdin.read()))
        lower_priority(request.priority, request.nice)

        def emit(seg: PostSegment) -> None:
            print(json.dumps({"type": "segment", **asdict(seg)}), flush=True)

        figures = run(request, emit)
    except Exception as exc:  # the parent gets the class; no text of the call on stderr
        print(f"post-call pass failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(json.dumps({"type": "done", "audio_s": figures.audio_s, "wall_s": figures.wall_s,
                      "cpu_s": figures.cpu_s, "load_s": figures.load_s,
                      "regions": figures.regions, "languages": figures.languages}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
