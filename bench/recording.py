"""Recorded calls: what recording costs at N concurrent SIPp calls into a real server.

For each N two fresh `centralita serve --debug-api` runs take the same SIPp load as
bench/media_calls.py (its scenario: INVITE / 200 / ACK, a spoken µ-law clip looped at the
server by `rtp_stream`, the server's prompt back, BYE): first with recording off, then with
`recordings: {enabled: true}` (stereo WAV written as the call runs, Opus in Ogg after it).
Once the N legs are up and settled it samples, over a fixed window, the server's CPU
(utime + stime from /proc/PID/stat) and the bytes the WAVs grew by; after the BYEs it waits
until every recording is settled (compressed, verified, WAV removed) and reads the index:
Opus bytes and seconds recorded, and the server CPU the compression took.

Figures: CPU per recorded call (% of one core: the recording run's minus the plain run's,
over N), WAV and Opus bytes per minute of call, compression CPU seconds per minute of call,
and the media tick lateness p99, over the whole run (start-up and ramp included) and over the
sampled window alone with all calls up (wp99), with the ticks skipped. With `--realtime` each
pair runs again with the server's media loop on SCHED_RR (`media.realtime_priority`,
centralita/realtime.py) and both are printed side by side.
Exits 0 once figures are printed (it measures, it does not judge), 1 if a server cannot start.

    python bench/recording.py [--calls 20] [--measure 10] [--realtime]   # --calls 400: the figure

Measured here (2 cores shared with other work; the plain runs show the machine's own
lateness), 10 s sampled, 2026-12-06:

    calls  plain cpu%  rec cpu%  per call  WAV MB/min  Opus kB/min  enc cpu s/min  p99 plain/rec
      100        18.1      25.8    0.077%        1.92          161          0.445   13.4 / 4.2 ms
      400        60.3      87.7    0.068%        1.70*         159          0.326   18.6 / 19.3 ms

    * at 400 the ticker skipped ticks (54 plain, 70 recorded): fewer frames, shorter files.
    The p99 < 5 ms target at 400 is not met on this machine by the plain server either.

2026-12-07, `--calls 400 --realtime`, after the media-path changes of that day (60105b7,
85b2ca4); the machine far busier than the day before (other engineers' soak and transcription
benches, fuzzers and browser tests: load average 9-23 on the 2 cores). wp99 is over the 10 s
window with every call up; "legs" is how many of the 400 came up:

    run    mode       legs  cpu%   wp99 ms  wmax ms  p99 run  skipped
    1      plain       184  30.5    19.12    19.84    19.71      205
    1      rec         173  42.4    19.72    19.95    19.72      171
    1      plain+rt    400  69.3     5.04    10.54    12.74        0
    1      rec+rt      173  99.8    19.85    19.95    19.70      225
    2      plain       261  42.8    19.28    19.55    19.55      150
    2      rec         169  48.2    19.67    19.97    19.54      152
    2      plain+rt    400  58.4     2.06    11.56    11.33        0
    2      rec+rt      211  99.8    19.75    19.95    19.58      184

    Recorded, realtime, without waiting for the recordings to settle (run_step called with
    SETTLE_* = 0): 200 calls 200 legs, 55% of a core, wp99 1.20 ms, 0 skipped; 300 calls 282
    legs, 87%, wp99 19.1 ms, 123 skipped; 400 calls, GIL switch interval 5 ms (default) vs
    1 ms (media.switch_interval_ms), two runs each: legs 200, 202 / 181, 257, wp99 19.6-19.7
    ms either way (no gain: the interval stays Python's).

    At normal priority 400 calls do not even come up while the machine is this busy. At
    realtime priority 400 plain calls meet p99 < 5 ms (5.04 and 2.06 ms; bench/media_calls.py
    gave 2.1, 3.0 and 9.9 the same hour); 400 recorded calls do not: the process needs more than a core, and the recorder's threads holding the
    GIL take the loop's turns (README, Performance: the disk thread rewriting the WAV header
    on every chunk, and a whole case timeline loaded for every recorded call).

2026-12-07 later, on a quiet machine (nothing else running; fuzzers stopped), `--calls 400
--realtime`: first at 011faf2 (header by pwrite, call_handled), then twice at a01ae30 (the
disk thread writes in batches, heard frames decoded once per prompt frame, a leaner tick):

    run          mode       legs  cpu%   wp99 ms  wmax ms  p99 run  skipped
    011faf2      plain       400  66.2     3.58    15.19     3.96        0
    011faf2      rec         375  85.2    16.74    19.94    18.07       73
    a01ae30 #1   plain       400  58.8     1.20     1.88     1.88        0
    a01ae30 #1   rec         400  74.8     5.29     6.59    17.54        0
    a01ae30 #1   plain+rt    400  59.3     3.57    10.67     3.71        1
    a01ae30 #1   rec+rt      400  75.6     4.49     6.80    18.43        0
    a01ae30 #2   plain       400  38.1     1.65     2.64     2.09        0
    a01ae30 #2   rec         400  67.1     2.06     8.21    14.49        0
    a01ae30 #2   plain+rt    400  58.9     1.96     3.38     3.05        0
    a01ae30 #2   rec+rt      400  73.0     1.11     4.50    16.60        0

    400 recorded calls with all calls up: wp99 5.29, 2.06 ms (normal priority), 4.49, 1.11 ms
    (realtime); the whole-run p99 (14-18 ms) is the ramp of 400 calls starting.

Three more runs on the quiet machine at 193f433 (2026-12-07 11:00-11:13 UTC; the two sides of
a recording now independent Opus streams, 125 kB/min instead of 159):

    run          mode       legs  cpu%   wp99 ms  wmax ms  p99 run  skipped
    193f433 #1   plain       400  42.8     2.16     2.29     3.33        0
    193f433 #1   rec         400  57.2     2.56     3.40    17.57        0
    193f433 #1   plain+rt    400  39.5     2.12     2.17     2.41        0
    193f433 #1   rec+rt      400  58.9     1.96     2.21    16.94        0
    193f433 #2   plain       400  46.5     1.32     2.72     2.46        0
    193f433 #2   rec         400  57.8     1.32     2.21    17.08        0
    193f433 #2   plain+rt    400  42.7     1.96     6.05     2.30        0
    193f433 #2   rec+rt      400  61.1     3.18     8.47    16.56        0
    193f433 #3   plain       400  42.9     2.06     4.69     2.38        0
    193f433 #3   rec         400  54.8     2.14     2.39    15.92        0
    193f433 #3   plain+rt    400  41.3     2.12     2.52     2.12        0
    193f433 #3   rec+rt      400  63.8     2.12     4.13    16.96        0

    Recorded at realtime priority, all five runs of the day under 5 ms (4.49, 1.11, 1.96, 3.18,
    2.12); at normal priority four of five (5.29, 2.06, 2.56, 1.32, 2.14).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.media_calls import (  # noqa: E402
    RAMP_RATE,
    REALTIME_PRIORITY,
    SCENARIO,
    SETTLE_S,
    cpu_seconds,
    make_audio,
    media_config,
    media_view,
    window_lateness,
)
from tests.helpers.server import (  # noqa: E402
    ServerOptions,
    ServerProcess,
    ServerStartError,
    free_media_port,
    free_port,
)
from tests.helpers.sipp import sipp_binary  # noqa: E402

# Settling is one file at a time on one thread (~0.2-0.3 s CPU for a 20 s call: encode,
# decode to verify, hash), so the wait grows with N.
SETTLE_BASE_S = 60.0
SETTLE_PER_CALL_S = 1.0


@dataclass
class Step:
    recording: bool
    realtime: bool
    calls: int
    legs: int
    cpu_pct: float  # % of one core while all calls are up
    p99_ms: float
    max_ms: float
    skipped: int
    window_p99_ms: float  # over the measurement window only (all N calls up)
    window_max_ms: float
    wav_bytes_per_min: float = 0.0  # per call
    opus_bytes_per_min: float = 0.0
    compress_cpu_s_per_min: float = 0.0  # server CPU after the BYEs, per minute recorded
    recordings: int = 0
    settled: int = 0
    settle_s: float = 0.0  # from the last BYE until every recording was settled

    @property
    def mode(self) -> str:
        return ("rec" if self.recording else "plain") + ("+rt" if self.realtime else "")


async def view(server: ServerProcess, samples: bool = False) -> dict[str, Any]:
    """GET /api/debug/media, asked again when a loaded server is slow to answer."""
    for attempt in range(5):
        try:
            return await media_view(server, samples)
        except RuntimeError:
            if attempt == 4:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


def wav_sizes(root: Path) -> dict[Path, int]:
    """Each WAV's size now (a call that ends meanwhile has its WAV compressed away)."""
    sizes: dict[Path, int] = {}
    for path in root.rglob("*.wav") if root.exists() else ():
        try:
            sizes[path] = path.stat().st_size
        except FileNotFoundError:
            continue
    return sizes


def growth_per_file(before: dict[Path, int], after: dict[Path, int]) -> float:
    """Mean bytes a WAV grew by, over the files there both times."""
    common = before.keys() & after.keys()
    return sum(after[p] - before[p] for p in common) / len(common) if common else 0.0


def index_rows(data_dir: Path) -> list[tuple[str, str, int | None, float | None]]:
    with sqlite3.connect(data_dir / "cases.db") as db:
        return list(db.execute("SELECT status, codec, size_bytes, duration FROM recordings"))


async def run_step(workdir: Path, audio: Path, n: int, measure_s: float,
                   recording: bool, realtime: bool = False,
                   switch_interval_ms: float | None = None) -> Step | None:
    step_dir = workdir / f"n{n}-{'rec' if recording else 'plain'}{'-rt' if realtime else ''}"
    step_dir.mkdir()
    ramp_s = n / RAMP_RATE
    hold_ms = int((ramp_s + SETTLE_S + measure_s + 3.0) * 1000)
    scenario = step_dir / "caller.xml"
    scenario.write_text(SCENARIO.substitute(AUDIO=str(audio), HOLD_MS=str(hold_ms)))
    config: dict[str, Any] = {"transcription": "off",
                              **media_config(realtime, switch_interval_ms)}
    if recording:
        config["recordings"] = {"enabled": True}
    server = ServerProcess(step_dir, ServerOptions(
        debug_api=True, tls=False, demo_hangup_after=3600.0, config=config))
    try:
        await server.start()
    except ServerStartError as exc:
        print(f"recording: the server did not start:\n{exc}", file=sys.stderr)
        return None
    root = server.data_dir / "recordings"
    sipp: asyncio.subprocess.Process | None = None
    try:
        sipp = await asyncio.create_subprocess_exec(
            sipp_binary(), "-sf", str(scenario), server.sip_target, "-i", "127.0.0.1",
            "-mi", "127.0.0.1", "-p", str(free_port(also_tcp=False)),
            "-mp", str(free_media_port(n)),
            "-m", str(n), "-l", str(n), "-r", str(RAMP_RATE), "-nostdin",
            "-timeout", f"{int(hold_ms / 1000 + 30)}s",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=(step_dir / "sipp.err").open("wb"), cwd=str(step_dir),
            start_new_session=True)
        deadline = time.monotonic() + ramp_s + 15.0
        legs = 0
        while time.monotonic() < deadline:
            legs = (await view(server))["legs"]
            if legs >= n:
                break
            await asyncio.sleep(0.25)
        if legs < n:
            err = (step_dir / "sipp.err").read_text(errors="replace")[-600:]
            print(f"recording: only {legs} of {n} legs came up (SIPp "
                  f"{'exited ' + str(sipp.returncode) if sipp.returncode is not None else 'runs'}"
                  f"){': ' + err if err.strip() else ''}", file=sys.stderr)
        await asyncio.sleep(SETTLE_S)
        before = await view(server)
        cpu0, sizes0, t0 = cpu_seconds(server.pid), wav_sizes(root), time.monotonic()
        await asyncio.sleep(measure_s)
        cpu1, sizes1, t1 = cpu_seconds(server.pid), wav_sizes(root), time.monotonic()
        after = await view(server, samples=True)
        try:
            await asyncio.wait_for(sipp.wait(), hold_ms / 1000 + 20)
        except TimeoutError:
            sipp.kill()
            await sipp.wait()
        step = Step(recording, realtime, n, min(legs, after["legs"]),
                    100.0 * (cpu1 - cpu0) / (t1 - t0), after["lateness_ms"]["p99"],
                    after["lateness_ms"]["max"], after["skipped_ticks"] - before["skipped_ticks"],
                    *window_lateness(before, after)[1:])
        if recording:
            cpu_bye, t_bye = cpu_seconds(server.pid), time.monotonic()
            settle_deadline = time.monotonic() + SETTLE_BASE_S + SETTLE_PER_CALL_S * n
            rows = index_rows(server.data_dir)
            while time.monotonic() < settle_deadline:
                rows = index_rows(server.data_dir)
                if rows and all(size is not None for _, _, size, _ in rows):
                    break
                await asyncio.sleep(0.25)
            cpu_settled, settle_s = cpu_seconds(server.pid), time.monotonic() - t_bye
            minutes = sum(d or 0.0 for *_, d in rows) / 60.0
            opus = [(size, d) for _, codec, size, d in rows if codec == "opus" and size]
            step.recordings, step.settled = len(rows), len(opus)
            step.wav_bytes_per_min = growth_per_file(sizes0, sizes1) / ((t1 - t0) / 60)
            if opus:
                step.opus_bytes_per_min = sum(s for s, _ in opus) / (
                    sum(d or 0.0 for _, d in opus) / 60.0)
            if minutes:
                step.compress_cpu_s_per_min = (cpu_settled - cpu_bye) / minutes
            step.settle_s = settle_s
        return step
    finally:
        if sipp is not None and sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
        await server.stop()


def print_table(steps: list[Step]) -> None:
    print(f"{'mode':<8} {'calls':>5} {'legs':>5} {'cpu%':>6} {'p99ms':>6} {'maxms':>6} "
          f"{'wp99':>6} {'wmax':>6} {'skip':>5} {'recs':>5} {'opus':>5} {'WAV B/min':>10} "
          f"{'Opus B/min':>10} "
          f"{'enc cpu s/min':>13}")
    for s in steps:
        print(f"{s.mode:<8} {s.calls:>5} {s.legs:>5} "
              f"{s.cpu_pct:>6.1f} {s.p99_ms:>6.2f} {s.max_ms:>6.2f} {s.window_p99_ms:>6.2f} "
              f"{s.window_max_ms:>6.2f} {s.skipped:>5} "
              f"{s.recordings:>5} {s.settled:>5} {s.wav_bytes_per_min:>10.0f} "
              f"{s.opus_bytes_per_min:>10.0f} {s.compress_cpu_s_per_min:>13.3f}")


async def main(counts: list[int], measure_s: float, realtime: bool = False,
               switch_interval_ms: float | None = None) -> int:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"recording: {tool} is not installed", file=sys.stderr)
            return 1
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="recording-bench-") as tmp:
        workdir = Path(tmp)
        audio = make_audio(workdir)
        for n in counts:
            for rt in (False, True) if realtime else (False,):
                pair = []
                for recording in (False, True):
                    step = await run_step(workdir, audio, n, measure_s, recording, rt,
                                          switch_interval_ms)
                    if step is None:
                        return 1
                    pair.append(step)
                    steps.append(step)
                plain, rec = pair
                per_call = (rec.cpu_pct - plain.cpu_pct) / n
                print(f"  {n} calls{' (realtime)' if rt else ''}: server {plain.cpu_pct:.0f}% "
                      f"plain, {rec.cpu_pct:.0f}% recorded; recording costs {per_call:.3f}% "
                      f"of a core per call; p99 lateness with all calls up "
                      f"{plain.window_p99_ms:.2f} ms plain, {rec.window_p99_ms:.2f} ms recorded",
                      flush=True)
    print()
    print("cpu%: server, % of one core (2 cores here) with all calls up; p99/max: media tick")
    print("lateness over the run (start-up and ramp included); wp99/wmax: over the measurement")
    print("window only, all calls up; recs/opus: index rows / settled as Opus; WAV B/min: bytes")
    print("the WAVs grew per call per minute; Opus B/min: per minute of call after")
    print("compression; enc cpu s/min: server CPU seconds after the BYEs per minute recorded;")
    print(f"+rt: the server's media loop thread on SCHED_RR {REALTIME_PRIORITY} "
          "(media.realtime_priority)")
    print_table(steps)
    for n in counts:
        for rt in (False, True) if realtime else (False,):
            plain = next(s for s in steps if s.calls == n and not s.recording
                         and s.realtime == rt)
            rec = next(s for s in steps if s.calls == n and s.recording and s.realtime == rt)
            print(f"recording at {n} calls{' (realtime)' if rt else ''}: "
                  f"{(rec.cpu_pct - plain.cpu_pct) / n:.3f}% of a core per "
                  f"call, WAV {rec.wav_bytes_per_min / 1e6:.2f} MB/min, Opus "
                  f"{rec.opus_bytes_per_min / 1e3:.0f} kB/min, p99 {rec.window_p99_ms:.2f} ms "
                  f"with all calls up ({rec.p99_ms:.2f} ms over the run); "
                  f"{rec.settled}/{rec.recordings} settled {rec.settle_s:.0f} s after the BYEs")
    if realtime:
        print("p99 tick lateness with all calls up (over the run), normal / realtime priority:")
        for n in counts:
            for recording in (False, True):
                pair = [s for s in steps if s.calls == n and s.recording == recording]
                normal = next(s for s in pair if not s.realtime)
                rt_step = next(s for s in pair if s.realtime)
                print(f"  {n} calls {'recorded' if recording else 'plain':<8}: "
                      f"{normal.window_p99_ms:6.2f} ({normal.p99_ms:.2f}) / "
                      f"{rt_step.window_p99_ms:6.2f} ({rt_step.p99_ms:.2f}) ms "
                      f"(skipped ticks {normal.skipped} / {rt_step.skipped})")
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="20",
                        help="comma-separated numbers of concurrent recorded calls "
                             "(400 for the full figure)")
    parser.add_argument("--measure", type=float, default=10.0,
                        help="seconds of sampling once all calls are up")
    parser.add_argument("--realtime", action="store_true",
                        help="run each pair a second time with the media loop at realtime "
                             "priority (media.realtime_priority) and print both")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="the server's GIL switch interval (media.switch_interval_ms)")
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse()
    sys.exit(asyncio.run(main([int(c) for c in args.calls.split(",")], args.measure,
                              args.realtime, args.switch_interval_ms)))
