"""Soak: a real server carrying calls that start and end for a long time, sampled every minute.

    python bench/soak.py --minutes 30 --calls 320          # the soak (bench/README.md)
    python bench/soak.py --drill 4 --calls 160             # kill -9 / restart drills under load

One `centralita serve` (transcription off and no debug API, which would keep every call's
audio for a WAV) takes calls from one SIPp scenario for the whole run, bench/media_calls.py's
(its scenario, clip and CPU reading are reused): INVITE / 200 / ACK, SIPp loops a spoken µ-law
clip at 50 packets/s while the server plays its prompt back, a hold drawn uniformly from
`--hold` (20-60 s by default), then BYE. SIPp keeps at most `--calls` calls up (`-l`) and
places new ones at `--calls` / mean hold calls/s, so about that many calls are always in
progress while calls keep starting and ending. Alongside, signed inbound Twilio SMS webhooks
(`--sms-rate`, 2/s) write to the case database, so it grows as a real one does.

Every `--interval` seconds it prints and records (`--out` CSV) the server's RSS
(/proc/PID/status VmRSS), open fds (/proc/PID/fd), and from /metrics (the admin token) calls
and legs in progress, asyncio tasks (`centralita_asyncio_tasks`), media tick lateness
p99/p99.9 of the ticks since the previous sample (the histogram's buckets, interpolated as
Prometheus' histogram_quantile does) and ticks skipped; the case database's bytes on disk
(cases.db with -wal and -shm), the server's CPU, SIPp's completed / failed calls. At the end it
compares the first `--window` samples after `--warmup` minutes with the last ones: RSS growth
(target < 5%) and fds (target flat: within 5%, or 5 fds), and checks that every acknowledged
webhook is in the database.

`--drill N`: the same call load plus webhooks at 20/s; every `--drill-seconds` the server is
killed with SIGKILL (the last round SIGTERM) and restarted on the same data directory and
ports (bench/_soak_drill.py). After each restart it reads the messages table: every webhook
answered 200 (acknowledged) must be stored. Prints per round the acknowledged, missing and
stored-but-unacknowledged counts; exits 1 if any acknowledged message is missing (the drill
judges: losing acknowledged data is the defect it looks for). The soak itself exits 0 once
figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the repository's packages, bench/ among them
    sys.path.insert(0, str(REPO))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench import media_calls  # noqa: E402
from bench._soak_drill import (  # noqa: E402
    DrillRound,
    SmsPoster,
    run_drills,
    stored_sids,
    twilio_config,
)
from bench._soak_heap import read_last  # noqa: E402
from tests.helpers.server import (  # noqa: E402
    ServerOptions,
    ServerProcess,
    ServerStartError,
    free_media_port,
    free_port,
    http_get,
    random_rtp_block,
)
from tests.helpers.sipp import sipp_binary  # noqa: E402

HOLD_LINE = '<pause milliseconds="${HOLD_MS}"/>'


@dataclass
class Sample:
    minute: float
    calls_up: int  # the server's calls in progress
    legs: int  # media legs on the server's clock
    completed: int  # SIPp: calls ended with the BYE answered, since the start
    failed: int
    rss_mib: float
    fds: int
    tasks: int
    db_kib: float
    p99_ms: float  # tick lateness since the previous sample (histogram, interpolated)
    p999_ms: float
    skipped: int  # ticks skipped since the previous sample
    cpu_pct: float  # server, % of one core since the previous sample
    # The RSS split (/proc/PID/status): anonymous memory (heaps, Python's arenas, stacks) and
    # pages of mapped files (libraries and modules' code, touched as code paths first run).
    anon_mib: float = 0.0
    file_mib: float = 0.0
    # From inside the server (bench/_soak_heap.py; 0 with --no-heap or an old CSV): what
    # glibc's malloc holds from the system, how much of that is free inside its arenas, and
    # the blocks Python's object allocator has handed out (thousands).
    heap_mib: float = 0.0
    heap_free_mib: float = 0.0
    py_kblocks: float = 0.0


class HeapServer(ServerProcess):
    """`centralita serve` through bench/_soak_heap.py: the same server, which also writes its
    malloc and Python allocator figures to `heap.csv` in its work directory."""

    heap_every = 60.0

    @property
    def heap_csv(self) -> Path:
        return self.workdir / "heap.csv"

    def _build_argv(self) -> list[str]:
        argv = super()._build_argv()
        if argv[1:3] != ["-m", "centralita"]:
            raise RuntimeError(f"unexpected server command line: {argv[:4]}")
        return [argv[0], "-m", "bench._soak_heap", str(self.heap_csv), f"{self.heap_every:g}",
                *argv[3:]]


def scenario_text(audio: Path, hold_s: tuple[float, float]) -> str:
    low, high = (int(h * 1000) for h in hold_s)
    template = media_calls.SCENARIO.template
    if HOLD_LINE not in template:
        raise RuntimeError("media_calls.SCENARIO no longer has its pause line")
    text = template.replace(
        HOLD_LINE, f'<pause distribution="uniform" min="{low}" max="{high}"/>')
    return text.replace("${AUDIO}", str(audio))


def server_options(config: dict[str, object] | None = None) -> ServerOptions:
    # A wide RTP block: ports are taken and given back all run long.
    # No debug API: it keeps every call's audio for a WAV, not what a soak should carry.
    return ServerOptions(debug_api=False, tls=False, demo_hangup_after=3600.0,
                         extra_args=["--transcription", "off"], config=dict(config or {}),
                         rtp_ports=random_rtp_block(6000), startup_timeout=60.0)


async def start_sipp(workdir: Path, audio: Path, target: str, calls: int,
                     hold_s: tuple[float, float]) -> asyncio.subprocess.Process:
    """SIPp keeping about `calls` calls up, placing new ones as old ones end."""
    scenario = workdir / "soak.xml"
    scenario.write_text(scenario_text(audio, hold_s))
    mean_hold = (hold_s[0] + hold_s[1]) / 2
    # -r calls per -rp ms: N / mean hold calls/s keeps N up on average; -l caps it at N.
    period_ms = 1000
    per_period = calls * period_ms / 1000 / mean_hold
    while per_period < 1:
        period_ms *= 2
        per_period *= 2
    argv = [
        sipp_binary(), "-sf", str(scenario), target, "-i", "127.0.0.1", "-mi", "127.0.0.1",
        "-p", str(free_port(also_tcp=False)), "-mp", str(free_media_port(calls)),
        "-l", str(calls), "-r", str(round(per_period)), "-rp", str(period_ms), "-nostdin",
        "-trace_stat", "-stf", str(workdir / "stats.csv"), "-fd", "5",
        "-trace_err", "-error_file", str(workdir / "errors.log"),
        "-recv_timeout", "10000", "-send_timeout", "10000",
    ]
    return await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, cwd=str(workdir), start_new_session=True)


async def stop_sipp(sipp: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGUSR1 (SIPp's soft quit: no new calls, the calls up end), then SIGKILL."""
    if sipp.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        sipp.send_signal(signal.SIGUSR1)
    try:
        await asyncio.wait_for(sipp.wait(), grace_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            sipp.kill()
        await sipp.wait()


def sipp_counts(workdir: Path) -> dict[str, int]:
    """The last row of SIPp's statistics file: calls up, completed and failed so far."""
    path = workdir / "stats.csv"
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"up": 0, "completed": 0, "failed": 0}
    if len(lines) < 2:
        return {"up": 0, "completed": 0, "failed": 0}
    head = lines[0].split(";")
    row = lines[-1].split(";")
    if len(row) < len(head) - 1:  # a row being written
        row = lines[-2].split(";") if len(lines) > 2 else row
    values = dict(zip(head, row, strict=False))

    def number(key: str) -> int:
        try:
            return int(values.get(key, "0") or 0)
        except ValueError:
            return 0

    return {"up": number("CurrentCall"), "completed": number("SuccessfulCall(C)"),
            "failed": number("FailedCall(C)")}


def status_mib(pid: int, *keys: str) -> list[float]:
    """Figures of /proc/PID/status in MiB (VmRSS, RssAnon, RssFile...), 0 when absent."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            found[key] = int(value.split()[0]) / 1024
    return [found.get(key, 0.0) for key in keys]


def rss_mib(pid: int) -> float:
    return status_mib(pid, "VmRSS")[0]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def db_kib(data_dir: Path) -> float:
    total = 0
    for path in data_dir.glob("cases.db*"):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total / 1024


async def scrape(server: ServerProcess) -> dict[str, list[tuple[dict[str, str], float]]]:
    """GET /metrics (behind the admin token), as {sample name: [(labels, value)]}."""
    status, body = await http_get(server.http_base + "/metrics", headers=server.auth_headers)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}: {body[:200]}")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def total(figures: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(value for _, value in figures.get(name, []))


def lateness_buckets(figures: dict[str, list[tuple[dict[str, str], float]]]
                     ) -> list[tuple[float, float]]:
    """The tick lateness histogram: (upper bound in seconds, cumulative count)."""
    rows = [(float(labels["le"]), value) for labels, value in
            figures.get("centralita_media_tick_lateness_seconds_bucket", [])]
    return sorted(rows)


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]],
             q: float) -> float:
    """q-quantile of the ticks observed between two scrapes, interpolated within its bucket
    (as Prometheus' histogram_quantile does); the +Inf bucket answers its lower bound."""
    start = dict(before)
    counts = [(le, n - start.get(le, 0.0)) for le, n in after]
    if not counts or counts[-1][1] <= 0:
        return 0.0
    rank = q * counts[-1][1]
    low, below = 0.0, 0.0
    for le, n in counts:
        if n >= rank:
            if le == float("inf"):
                return low
            inside = n - below
            return low + (le - low) * ((rank - below) / inside if inside else 1.0)
        low, below = le, n
    return low


class Sampler:
    """Reads one `Sample` at a time; CPU, lateness and skipped ticks since the previous one."""

    def __init__(self, server: ServerProcess, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.started = time.monotonic()
        self._cpu = media_calls.cpu_seconds(server.pid)
        self._at = self.started
        self._skipped = 0.0
        self._buckets: list[tuple[float, float]] = []

    async def take(self) -> Sample:
        srv = self.server
        figures = await scrape(srv)
        now, cpu = time.monotonic(), media_calls.cpu_seconds(srv.pid)
        cpu_pct = 100.0 * (cpu - self._cpu) / max(1e-6, now - self._at)
        skipped = total(figures, "centralita_media_ticks_skipped_total")
        buckets = lateness_buckets(figures)
        p99 = quantile(self._buckets, buckets, 0.99)
        p999 = quantile(self._buckets, buckets, 0.999)
        sample = Sample(
            minute=(now - self.started) / 60, calls_up=int(total(figures,
                                                                 "centralita_calls_active")),
            legs=int(total(figures, "centralita_legs_active")),
            completed=0, failed=0, rss_mib=rss_mib(srv.pid), fds=open_fds(srv.pid),
            tasks=int(total(figures, "centralita_asyncio_tasks")),
            db_kib=db_kib(srv.data_dir), p99_ms=1000 * p99, p999_ms=1000 * p999,
            skipped=int(skipped - self._skipped), cpu_pct=cpu_pct)
        counts = sipp_counts(self.workdir)
        sample.completed, sample.failed = counts["completed"], counts["failed"]
        sample.anon_mib, sample.file_mib = status_mib(srv.pid, "RssAnon", "RssFile")
        heap = read_last(srv.heap_csv) if isinstance(srv, HeapServer) else None
        if heap is not None:
            sample.heap_mib, sample.heap_free_mib = heap["heap_mib"], heap["heap_free_mib"]
            sample.py_kblocks = heap["py_blocks"] / 1000
        self._cpu, self._at, self._skipped, self._buckets = cpu, now, skipped, buckets
        return sample


HEADER = (f"{'min':>5} {'up':>4} {'legs':>4} {'done':>6} {'fail':>4} {'rss MiB':>8} {'fds':>5} "
          f"{'tasks':>5} {'db KiB':>8} {'p99ms':>6} {'p999ms':>6} {'skip':>4} {'cpu%':>5} "
          f"{'anon':>6} {'file':>5} {'heap':>6} {'free':>5} {'pykblk':>6}")


def line(s: Sample) -> str:
    return (f"{s.minute:>5.1f} {s.calls_up:>4} {s.legs:>4} {s.completed:>6} {s.failed:>4} "
            f"{s.rss_mib:>8.1f} {s.fds:>5} {s.tasks:>5} {s.db_kib:>8.0f} {s.p99_ms:>6.2f} "
            f"{s.p999_ms:>6.2f} {s.skipped:>4} {s.cpu_pct:>5.1f} {s.anon_mib:>6.1f} "
            f"{s.file_mib:>5.1f} {s.heap_mib:>6.1f} "
            f"{s.heap_free_mib:>5.1f} {s.py_kblocks:>6.0f}")


def slope(rows: list[Sample]) -> float:
    """RSS MiB per minute, least squares (0 with fewer than two samples)."""
    if len(rows) < 2 or len({r.minute for r in rows}) < 2:
        return 0.0
    return statistics.linear_regression([r.minute for r in rows],
                                        [r.rss_mib for r in rows]).slope


def read_samples(path: Path) -> list[Sample]:
    """Samples back from an `--out` CSV."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        # With postponed annotations a field's type is its name as text.
        values: dict[str, Any] = {
            k.name: int(row[k.name]) if k.type == "int" else float(row[k.name])
            for k in fields(Sample) if k.name in row}  # older CSVs lack the heap columns
        out.append(Sample(**values))
    return out


def verdict(samples: list[Sample], warmup_min: float, window: int) -> list[str]:
    """Growth between the first samples after the warm-up and the last ones, against targets."""
    steady = [s for s in samples if s.minute >= warmup_min] or samples
    n = max(1, min(window, len(steady) // 3))
    first, last = steady[:n], steady[-n:]

    def mean(rows: list[Sample], attr: str) -> float:
        return statistics.fmean(float(getattr(r, attr)) for r in rows)

    rss0, rss1 = mean(first, "rss_mib"), mean(last, "rss_mib")
    fd0, fd1 = mean(first, "fds"), mean(last, "fds")
    task0, task1 = mean(first, "tasks"), mean(last, "tasks")
    growth = 100.0 * (rss1 - rss0) / rss0 if rss0 else 0.0
    fd_change = fd1 - fd0
    fds_flat = abs(fd_change) <= max(5.0, 0.05 * fd0)
    half = steady[len(steady) // 2:]
    span = f"minutes {first[0].minute:.1f}-{first[-1].minute:.1f} vs " \
           f"{last[0].minute:.1f}-{last[-1].minute:.1f} ({n} samples each)"
    return [
        f"RSS {rss0:.1f} -> {rss1:.1f} MiB: growth {growth:+.1f}% "
        f"({'ok' if growth < 5.0 else 'OVER'} target < 5%), {span}",
        f"fds {fd0:.0f} -> {fd1:.0f} ({fd_change:+.0f}): "
        f"{'flat' if fds_flat else 'NOT flat'} (target within 5%)",
        f"RSS slope (least squares): {slope(steady):+.2f} MiB/min after the warm-up, "
        f"{slope(half):+.2f} MiB/min over its second half (minutes {half[0].minute:.1f}-"
        f"{half[-1].minute:.1f})",
        f"tasks {task0:.0f} -> {task1:.0f}; db {first[0].db_kib:.0f} -> {last[-1].db_kib:.0f} "
        f"KiB; p99 lateness max {max(s.p99_ms for s in steady):.2f} ms; skipped ticks "
        f"{sum(s.skipped for s in steady)}; calls completed {last[-1].completed}, "
        f"failed {last[-1].failed}",
        f"of the RSS: anonymous {mean(first, 'anon_mib'):.1f} -> {mean(last, 'anon_mib'):.1f} "
        f"MiB, file pages {mean(first, 'file_mib'):.1f} -> {mean(last, 'file_mib'):.1f} MiB; "
        f"malloc heap {mean(first, 'heap_mib'):.1f} -> {mean(last, 'heap_mib'):.1f} MiB (free "
        f"inside {mean(first, 'heap_free_mib'):.1f} -> {mean(last, 'heap_free_mib'):.1f}); "
        f"Python blocks {mean(first, 'py_kblocks'):.0f}k -> {mean(last, 'py_kblocks'):.0f}k",
        f"soak verdict: {'PASS' if growth < 5.0 and fds_flat else 'FAIL'}",
    ]


async def soak(args: argparse.Namespace, workdir: Path, audio: Path) -> int:
    options = server_options(twilio_config())
    server = ServerProcess(workdir, options) if args.no_heap else HeapServer(workdir, options)
    if isinstance(server, HeapServer):
        server.heap_every = min(10.0, args.interval / 2)  # the row read is at most this old
    try:
        await server.start()
    except ServerStartError as exc:
        print(f"soak: the server did not start:\n{exc}", file=sys.stderr)
        return 1
    hold = (args.hold[0], args.hold[1])
    sipp = await start_sipp(workdir, audio, server.sip_target, args.calls, hold)
    poster = SmsPoster(lambda: server.http_base, args.sms_rate)
    posting = asyncio.create_task(poster.run()) if args.sms_rate > 0 else None
    missing: int | None = None
    samples: list[Sample] = []
    out = open(args.out, "w", newline="") if args.out else None  # noqa: SIM115, ASYNC230
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow([f.name for f in fields(Sample)])
    print(f"soak: {args.calls} calls up, holds {hold[0]:g}-{hold[1]:g} s, "
          f"{args.minutes:g} min, a sample every {args.interval:g} s", flush=True)
    print(HEADER, flush=True)
    try:
        sampler = Sampler(server, workdir)
        end = sampler.started + args.minutes * 60
        next_at = sampler.started + args.interval
        while next_at <= end + 0.5:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += args.interval
            if sipp.returncode is not None:
                print(f"soak: SIPp exited ({sipp.returncode}); see {workdir}/errors.log",
                      file=sys.stderr)
                return 1
            sample = await sampler.take()
            samples.append(sample)
            print(line(sample), flush=True)
            if writer and out:
                writer.writerow(list(asdict(sample).values()))
                out.flush()
    finally:
        if posting is not None:
            posting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await posting
        if server.proc is not None and server.proc.returncode is None:
            missing = len(set(poster.acked) - stored_sids(server.data_dir))
        await stop_sipp(sipp, hold[1] + 15)
        await server.stop()
        if out:
            out.close()
    if not samples:
        print("soak: no sample taken (--minutes shorter than --interval)", file=sys.stderr)
        return 1
    print()
    for text in verdict(samples, args.warmup, args.window):
        print(text)
    print(f"SMS webhooks: {len(poster.acked)} acknowledged, {len(poster.unacked)} not, "
          f"{missing if missing is not None else '?'} acknowledged missing from the database")
    return 0


async def drill(args: argparse.Namespace, workdir: Path, audio: Path) -> int:
    rounds: list[DrillRound] = await run_drills(
        workdir, server_options, lambda target: start_sipp(
            workdir, audio, target, args.calls, (args.hold[0], args.hold[1])),
        stop_sipp, sipp_counts, rounds=args.drill, seconds=args.drill_seconds,
        sms_rate=args.sms_rate)
    if not rounds:
        return 1
    print(f"{'round':>5} {'signal':>7} {'acked':>6} {'missing':>7} {'unacked stored':>14} "
          f"{'down s':>6} {'calls done':>10} {'failed':>6}")
    for r in rounds:
        print(f"{r.number:>5} {r.signal:>7} {r.acked:>6} {r.missing:>7} {r.stored_unacked:>14} "
              f"{r.down_s:>6.1f} {r.completed:>10} {r.failed:>6}")
    missing = max(r.missing for r in rounds)
    restarts = sum(1 for r in rounds if r.signal != "end")
    print(f"drills: {restarts} restarts, {rounds[-1].acked} messages acknowledged, "
          f"{missing} acknowledged lost")
    return 1 if missing else 0


async def main(args: argparse.Namespace) -> int:
    if args.report:
        samples = read_samples(Path(args.report))
        print(HEADER)
        for sample in samples:
            print(line(sample))
        print()
        print("\n".join(verdict(samples, args.warmup, args.window)))
        return 0
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        audio = media_calls.make_audio(workdir)
        if args.sms_rate is None:
            args.sms_rate = 20.0 if args.drill else 2.0
        if args.drill:
            return await drill(args, workdir, audio)
        return await soak(args, workdir, audio)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--calls", type=int, default=320,
                        help="calls kept up (320 = 80%% of media_calls.py's 400)")
    parser.add_argument("--hold", type=float, nargs=2, default=(20.0, 60.0),
                        metavar=("MIN", "MAX"), help="call hold, seconds, uniform")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="minutes before the first sample compared")
    parser.add_argument("--window", type=int, default=5, help="samples averaged at each end")
    parser.add_argument("--out", help="CSV of the samples")
    parser.add_argument("--report", help="print the table and verdict of an --out CSV")
    parser.add_argument("--no-heap", action="store_true",
                        help="run `centralita serve` itself, without bench/_soak_heap.py")
    parser.add_argument("--keep", help="work directory to keep (server and SIPp logs)")
    parser.add_argument("--drill", type=int, default=0,
                        help="kill/restart rounds instead of the soak (the last is SIGTERM)")
    parser.add_argument("--drill-seconds", type=float, default=20.0,
                        help="seconds of load before each kill")
    parser.add_argument("--sms-rate", type=float, default=None,
                        help="signed inbound SMS webhooks per second (soak 2, drill 20; 0: none)")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(_parse())))
