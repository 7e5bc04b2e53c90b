"""Transcription bench: N concurrent simulated calls, both parties talking, whisper engine.

    python3 bench/transcribe.py [--calls 4,8,16,24] [--seconds 40] [--engine whisper|pooled]
        [--language en|es] [--model tiny.en|base] [--workers 2] [--threads 1] [--max-batch 4]

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
event loop's health under the load. `batch` is the mean number of utterances per `generate`
call. `--language es`: each call is in Spanish, recognised the server's way (LanguagePools, the
call's language picks whisper base), the speech bench/languages_wer.py's sentences spoken by
espeak-ng (synthetic: its WER says how the pipeline hears a clear voice, not people).

Measured on this project's 2-core machine (30 s runs; CPU is % of one core, 200% = both):

    engine   hangover  calls  CPU%   WER   p50 s  p95 s
    whisper  500 ms       16    98   4.7%   1.37   3.42   (stock stream per party)
    whisper  500 ms       24   106   4.8%   6.63  16.30   (falls behind)
    pooled   300 ms       16    40   4.4%   0.47   0.59
    pooled   300 ms       24    55   4.2%   0.49   0.61
    pooled   300 ms       48   126   4.5%   0.53   0.89
    pooled   300 ms       80   142   4.6%   0.74   1.23   (2026-12-07, quiet machine)
    pooled   300 ms       80   140   4.4%   0.67   1.14   (the same, run again)
    pooled   300 ms       16    94  39.2%   0.55   0.93   (--language es: whisper base,
                                                          espeak-ng Spanish; 2026-12-07)

Decode windows of the speech + >= 2 s, 5 s at the least (tried against + >= 3 s, 10 s at
the least, and reverted: whisper repeated itself on the short windows, media.asr.whisper),
measured back to back on a machine loaded by others' tests (load average 9-14 on the 2
cores: the bench had 20-37% of a core, every run fell behind, so only ms/seg compares):

    windows      calls  ms/seg            windows      calls  ms/seg
    10 s / 3 s      24     233            5 s / 2 s       24     184
    10 s / 3 s      48     274            5 s / 2 s       48     198
    10 s / 3 s      80     293            5 s / 2 s       80     201
    whisper base, Spanish (--language es), 5 s / 2 s: 16 calls 232, 32 calls 295

`--flat-out` writes every stream into the pool as fast as it takes them (no ticker, nothing
dropped): CPU per segment and WER that a busy machine moves much less than latency.

2026-12-07, before (8ee6c3e) and after media.asr.whisper.log_mel (the mel spectrogram over
the speech only, bit for bit the same, and numpy's OpenBLAS on one thread for it), run
alternately; load 8-23 on the 2 cores (others' CI, SIPp soak and 400-call runs, fuzzers):

    --flat-out --calls 24 (139 utterances)   before 196, 200, 184 ms/seg, WER 4.5%
                                             after  167, 166 ms/seg, WER 4.5%
                                             after, CTranslate2 on AVX-512 (not kept):
                                                    157, 159, 148 ms/seg, WER 4.8%
    --calls 48,80, real time                 every run fell behind (the bench had 18-49%
                                             of a core): p95 32-57 s, so only ms/seg:
        48 calls   before 257, 246, 224, 230, 215    after 239, 180
        80 calls   before 222, 225, 235, 258, 251    after 214, 203

At 80 calls the clips end 11.9 times a second: at ~165 ms of CPU each that looked like ~2
cores. On a quiet machine (the first two rows of 80 above) the pool batches (1.9 utterances
a generate call) at 128-130 ms a segment, 140-142% of a core: p95 1.14-1.23 s, 0 lost.
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
from typing import Any, cast

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.languages_wer import SPANISH  # noqa: E402
from media.asr.wer import wer  # noqa: E402
from media.clock import LoopClock  # noqa: E402
from media.codecs.g711 import PCMU  # noqa: E402
from media.frames import AudioFrame, Pcm  # noqa: E402
from media.resample import resample  # noqa: E402
from media.vad import VadConfig  # noqa: E402
from tests.speech.audio import librivox_recordings, read_wav, speak  # noqa: E402
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


def clips_8k(language: str = "en", speed: int = 130) -> list[tuple[Pcm, str]]:
    """English: the recorded utterances. Spanish: bench/languages_wer.py's sentences spoken by
    espeak-ng (no recording of real Spanish speech with references installs here)."""
    if language == "es":
        return [(speak(text, 8000, voice="es", speed=speed), text) for text in SPANISH]
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


async def run(
    n: int, seconds: float, factory: StreamFactory, clips: list[tuple[Pcm, str]], seed: int
) -> dict[str, float]:
    rng = random.Random(seed)
    clock = LoopClock()
    store = MemoryStore()
    service = TranscriptionService(store, factory, clock, close_timeout=15.0)
    calls = []
    for c in range(n):
        caller, agent = FakeLeg(), FakeLeg()
        tracks = make_tracks(clips, seconds, rng)
        # The transcriber listens to a leg's received audio only, which is all FakeLeg has.
        tx = await service.start_call(f"bench-{c}", "+15550100", cast(Any, caller))
        tx.attach(cast(Any, agent), "agent")
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
    cpu2 = time.process_time()  # the backlog's decoding after the last tick included
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
    q = (
        statistics.quantiles(latencies, n=20, method="inclusive")
        if len(latencies) > 1
        else latencies * 19 or [float("nan")] * 19  # one segment: it is every quantile
    )
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
        # CPU per segment stored, from the first tick to the last final: the cost per
        # utterance, which a busy machine moves far less than CPU% or latency.
        "ms_per_seg": 1000 * (cpu2 - cpu0) / max(1, len(latencies)),
    }


async def flat_out(
    n: int, seconds: float, pool: Any, clips: list[tuple[Pcm, str]], seed: int
) -> dict[str, float]:
    """`n` calls' streams straight into the pool, each as fast as it takes them (`write`:
    backpressure, nothing dropped), no ticker: CPU per segment and WER that hold on a machine
    too busy for the real-time run, where calls fall behind and drop utterances."""
    rng = random.Random(seed)
    tracks = [t for _ in range(n) for t in make_tracks(clips, seconds, rng)]
    texts: list[list[str]] = [[] for _ in tracks]

    async def feed(i: int, track: Track) -> None:
        stream = pool.stream(8000)

        async def read() -> None:
            async for result in stream:
                texts[i].append(result.text)

        reader = asyncio.create_task(read())
        for k, payload in enumerate(track.payloads):
            await stream.write(PCMU.decode(payload, k * FRAME))
            if k % 50 == 49:
                await asyncio.sleep(0)  # every stream's VAD takes its turn, as on a server
        stream.end_input()
        await reader

    before = (pool.batches, pool.utterances)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(feed(i, t) for i, t in enumerate(tracks)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    segments = sum(len(t) for t in texts)
    batches = pool.batches - before[0]
    return {
        "calls": n,
        "wer": wer([" ".join(t.refs) for t in tracks], [" ".join(t) for t in texts]),
        "segments": segments,
        "clips": sum(len(t.refs) for t in tracks),
        "ms_per_seg": 1000 * cpu / max(1, segments),
        "cpu": 100 * cpu / wall,
        "batch": (pool.utterances - before[1]) / max(1, batches),
    }


def make_factory(args: argparse.Namespace) -> tuple[StreamFactory, Any, Any]:
    """The stream factory, what to close after, and the pool (None for the stock engine)."""
    from media.asr.whisper import WhisperEngine

    vad = VadConfig(hangover_ms=args.hangover)
    engine = WhisperEngine(
        args.model,
        cache_dir=args.data_dir / "models",
        language=args.language,
        vad_config=vad,
        cpu_threads=args.threads,
        workers=args.workers,
    )
    if args.engine == "whisper":
        engine.load()
        return engine.stream, engine, None
    from voice.utterance_pool import UtterancePool

    pool = UtterancePool(engine, vad_config=vad, workers=args.workers, max_batch=args.max_batch)
    if args.language == "en":
        pool.load()
        return pool.stream, pool, pool
    # Another language goes the server's way (centralita.speech): the call's language picks
    # the pool through LanguagePools; English stays on tiny.en, idle here.
    from voice.language_pools import LanguagePools

    english = UtterancePool(WhisperEngine("tiny.en", vad_config=vad), vad_config=vad, workers=1)
    english.load()
    pools = LanguagePools(english, lambda _code: pool)
    pool.load()  # before the clock starts (the server loads it in the background)
    language = args.language

    class Closer:
        def close(self) -> None:
            pools.close()  # closes the other language's pool
            english.close()

    return pools.bind(lambda: language), Closer(), pool


async def amain(args: argparse.Namespace) -> int:
    clips = clips_8k(args.language)
    factory, closer, pool = make_factory(args)
    print(
        f"engine {args.engine}, whisper {args.model} ({args.language}), hangover "
        f"{args.hangover} ms, workers {args.workers} x {args.threads} threads, max batch "
        f"{args.max_batch}, {args.seconds:.0f} s per run, both parties of every call "
        "transcribed"
    )
    if args.flat_out:
        print(f"{'calls':>5} {'WER':>6} {'segs':>5} {'clips':>5} {'CPU%':>6} {'batch':>5} ms/seg")
        try:
            for n in args.calls:
                r = await flat_out(n, args.seconds, pool, clips, seed=n)
                print(
                    f"{n:>5} {r['wer']:>6.1%} {r['segments']:>5.0f} {r['clips']:>5.0f} "
                    f"{r['cpu']:>6.0f} {r['batch']:>5.2f} {r['ms_per_seg']:>6.0f}",
                    flush=True,
                )
        finally:
            closer.close()
        return 0
    print(
        f"{'calls':>5} {'streams':>7} {'CPU%':>6} {'WER':>6} {'p50 s':>6} {'p95 s':>6} "
        f"{'max s':>6} {'segs':>5} {'clips':>5} {'lost':>4} {'late s':>6} {'drop':>4} "
        f"{'err':>3} {'batch':>5} ms/seg"
    )
    try:
        for n in args.calls:
            before = (pool.batches, pool.utterances) if pool is not None else (0, 0)
            r = await run(n, args.seconds, factory, clips, seed=n)
            batches = pool.batches - before[0] if pool is not None else 0
            utts = pool.utterances - before[1] if pool is not None else 0
            batch = f"{utts / batches:5.2f}" if batches else "    -"
            print(
                f"{n:>5} {2 * n:>7} {r['cpu']:>6.0f} {r['wer']:>6.1%} {r['p50']:>6.2f} "
                f"{r['p95']:>6.2f} {r['max']:>6.2f} {r['segments']:>5.0f} {r['clips']:>5.0f} "
                f"{r['lost']:>4.0f} {r['late']:>6.3f} {r['dropped']:>4.0f} {r['errors']:>3.0f} "
                f"{batch} {r['ms_per_seg']:>6.0f}",
                flush=True,
            )
    finally:
        closer.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--calls", default="4,8,16,24", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--engine", default="pooled", choices=["whisper", "pooled"])
    ap.add_argument("--hangover", type=int, default=300, help="VAD hangover (ms)")
    ap.add_argument("--workers", type=int, default=2, help="pool threads (decodes at once)")
    ap.add_argument("--threads", type=int, default=1, help="CTranslate2 threads per decode")
    ap.add_argument("--max-batch", type=int, default=4, help="utterances per generate call")
    ap.add_argument(
        "--language",
        default="en",
        choices=["en", "es"],
        help="es: espeak-ng Spanish sentences, whisper base (--model base)",
    )
    ap.add_argument("--model", default=None, help="tiny.en for en, base for es by default")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="where whisper base's halves are joined (DATA/models)",
    )
    ap.add_argument(
        "--flat-out",
        action="store_true",
        help="no ticker: every stream written as fast as the pool takes it (CPU per segment)",
    )
    args = ap.parse_args()
    if args.flat_out and args.engine != "pooled":
        ap.error("--flat-out measures the pool (--engine pooled)")
    if args.model is None:
        args.model = "tiny.en" if args.language == "en" else "base"
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
