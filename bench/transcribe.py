"""Transcription bench: N concurrent simulated calls, both parties talking, whisper engine.

    python3 bench/transcribe.py [--calls 4,8,16,24] [--seconds 40] [--engine whisper|pooled]

Each call has a caller and an agent leg. A 20 ms ticker (absolute schedule, like
media/ticker.py) plays each leg's track through PCMU decode into the transcriber's listener:
the two parties take turns reading the five recorded utterances of Debian's
pocketsphinx-testdata (whole clips only, a 0.8 s pause between turns, each call starting at a
random offset). One engine is shared by every call (model loaded once per process); segments
go to an in-memory store that notes when each was written.

Reported per N: process CPU (% of one core; 200% is both cores of this machine), WER over
every clip played, and latency from the end of speech (the segment's end as the VAD saw it)
to the segment being stored, p50/p95/max. `lost` counts clips played whose words never
reached the store (WER counts them too). `late` is the bench ticker's worst lateness: the
event loop's health under the load.

Measured on this project's 2-core machine (30 s runs; CPU is % of one core, 200% = both):

    engine   hangover  calls  CPU%   WER   p50 s  p95 s
    whisper  500 ms       16    98   4.7%   1.37   3.42   (stock stream per party)
    whisper  500 ms       24   106   4.8%   6.63  16.30   (falls behind)
    pooled   300 ms       16    40   4.4%   0.47   0.59
    pooled   300 ms       24    55   4.2%   0.49   0.61
    pooled   300 ms       48   126   4.5%   0.53   0.89
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.asr.wer import wer  # noqa: E402
from media.clock import LoopClock  # noqa: E402
from media.codecs.g711 import PCMU  # noqa: E402
from media.frames import AudioFrame, Pcm  # noqa: E402
from media.resample import resample  # noqa: E402
from media.vad import VadConfig  # noqa: E402
from tests.speech.audio import librivox_recordings, read_wav  # noqa: E402
from tests.transcription.fakes import FakeLeg, MemoryStore  # noqa: E402
from voice.transcription import StreamFactory  # noqa: E402
from voice.transcription_service import TranscriptionService  # noqa: E402

FRAME = 160
TURN_GAP_S = 0.8


@dataclass
class Track:
    """One party's audio as PCMU payloads, and the clips it reads."""

    payloads: list[bytes]
    refs: list[str] = field(default_factory=list)


def clips_8k() -> list[tuple[Pcm, str]]:
    out = []
    for rec in librivox_recordings():
        pcm, _ = read_wav(rec.path)
        out.append((resample(pcm, 16000, 8000), rec.reference))
    return out


def make_tracks(clips: list[tuple[Pcm, str]], seconds: float, rng: random.Random) -> list[Track]:
    """Caller and agent tracks: turns alternate, whole clips only, silence elsewhere."""
    total = int(seconds * 8000)
    audio = [np.zeros(total, np.int16), np.zeros(total, np.int16)]
    tracks = [Track([]), Track([])]
    t = int(rng.uniform(0.5, 6.0) * 8000)
    party = rng.randrange(2)
    order = list(range(len(clips)))
    rng.shuffle(order)
    i = 0
    while True:
        pcm, ref = clips[order[i % len(order)]]
        if t + len(pcm) > total - 8000:  # the last second stays quiet: every clip ends
            break
        audio[party][t : t + len(pcm)] = pcm
        tracks[party].refs.append(ref)
        t += len(pcm) + int(TURN_GAP_S * 8000)
        party ^= 1
        i += 1
    for a, tr in zip(audio, tracks, strict=True):
        tr.payloads = [
            PCMU.encode(AudioFrame(a[j : j + FRAME], 8000)) for j in range(0, total, FRAME)
        ]
    return tracks


async def run(n: int, seconds: float, factory: StreamFactory, clips: list[tuple[Pcm, str]],
              seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    clock = LoopClock()
    store = MemoryStore()
    service = TranscriptionService(store, factory, clock, close_timeout=15.0)
    calls = []
    for c in range(n):
        caller, agent = FakeLeg(), FakeLeg()
        tracks = make_tracks(clips, seconds, rng)
        tx = await service.start_call(f"bench-{c}", "+15550100", caller)
        tx.attach(agent, "agent")
        calls.append((tx, (caller, agent), tracks))
    frames = len(calls[0][2][0].payloads)
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), loop.time()
    worst_late = 0.0
    for k in range(frames):
        due = wall0 + k * 0.02
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        worst_late = max(worst_late, loop.time() - due)
        for _tx, legs, tracks in calls:
            for leg, track in zip(legs, tracks, strict=True):
                frame = PCMU.decode(track.payloads[k], k * FRAME)
                for listener in leg.listeners:
                    listener(frame)
    cpu1, wall1 = time.process_time(), loop.time()
    await service.close()
    refs: list[str] = []
    hyps: list[str] = []
    latencies: list[float] = []
    lost = 0
    for tx, _legs, tracks in calls:
        segs = store.interactions[tx.interaction_id].segments
        for speaker, track in zip(("caller", "agent"), tracks, strict=True):
            mine = [s for s in segs if s.speaker == speaker]
            refs.append(" ".join(track.refs))
            hyps.append(" ".join(s.text for s in sorted(mine, key=lambda s: s.start)))
            lost += max(0, len(track.refs) - len(mine))
            latencies += [s.stored_at - (tx.answered_at + s.end) for s in mine]
    stats = service.stats()
    q = statistics.quantiles(latencies, n=20, method="inclusive") if len(latencies) > 1 else [0.0] * 19
    return {
        "calls": n,
        "cpu": 100 * (cpu1 - cpu0) / (wall1 - wall0),
        # A run shorter than one clip plays no whole clip: nothing to score.
        "wer": wer(refs, hyps) if any(r.split() for r in refs) else float("nan"),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": q[18],
        "max": max(latencies, default=float("nan")),
        "segments": len(latencies),
        "clips": sum(len(t.refs) for _tx, _l, tr in calls for t in tr),
        "lost": lost,
        "late": worst_late,
        "dropped": stats.dropped_frames,
        "errors": stats.engine_errors + stats.store_errors + stats.close_timeouts,
    }


def make_factory(name: str, hangover_ms: int, workers: int) -> tuple[StreamFactory, object]:
    vad = VadConfig(hangover_ms=hangover_ms)
    if name == "whisper":
        from media.asr.whisper import WhisperEngine

        engine = WhisperEngine("tiny.en", vad_config=vad, workers=workers)
        engine.load()
        return engine.stream, engine
    if name == "pooled":
        from voice.utterance_pool import UtterancePool

        pool = UtterancePool(vad_config=vad, workers=workers)
        pool.load()
        return pool.stream, pool
    raise SystemExit(f"unknown engine {name!r}")


async def amain(args: argparse.Namespace) -> int:
    clips = clips_8k()
    factory, engine = make_factory(args.engine, args.hangover, args.workers)
    print(f"engine {args.engine}, hangover {args.hangover} ms, workers {args.workers}, "
          f"{args.seconds:.0f} s per run, both parties of every call transcribed")
    print(f"{'calls':>5} {'streams':>7} {'CPU%':>6} {'WER':>6} {'p50 s':>6} {'p95 s':>6} "
          f"{'max s':>6} {'segs':>5} {'clips':>5} {'lost':>4} {'late s':>6} {'drop':>4} {'err':>3}")
    try:
        for n in args.calls:
            r = await run(n, args.seconds, factory, clips, seed=n)
            print(f"{n:>5} {2 * n:>7} {r['cpu']:>6.0f} {r['wer']:>6.1%} {r['p50']:>6.2f} "
                  f"{r['p95']:>6.2f} {r['max']:>6.2f} {r['segments']:>5.0f} {r['clips']:>5.0f} "
                  f"{r['lost']:>4.0f} {r['late']:>6.3f} {r['dropped']:>4.0f} {r['errors']:>3.0f}",
                  flush=True)
    finally:
        engine.close()  # type: ignore[attr-defined]
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", default="4,8,16,24",
                    type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--engine", default="pooled", choices=["whisper", "pooled"])
    ap.add_argument("--hangover", type=int, default=300, help="VAD hangover (ms)")
    ap.add_argument("--workers", type=int, default=2)
    return asyncio.run(amain(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
