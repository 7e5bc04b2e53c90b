"""What grows in a soaked server: the server in this process, probed between batches.

    PYTHONPATH=. python bench/_soak_probe.py --calls 40 --hold 2 4 --batches 6 --batch-s 30

bench/soak.py sees a server's RSS from outside; this runs the same server (`centralita.server.
Server` with soak.py's settings: demo handler, transcription off, no debug API, Twilio SMS
webhooks signed as soak.py sends them) in this process, under the same SIPp scenario with
short holds (many calls start and end), and after a warm-up batch compares, batch by batch:

- the RSS against glibc's own figures (`mallinfo2`: bytes the heap holds from the system and
  bytes in use), so growth of live objects can be told from freed memory glibc keeps;
- Python memory traced by `tracemalloc` (started after the warm-up), the top lines that grew;
- objects the collector tracks, counted by type (`gc.get_objects()`), and how many were left
  in reference cycles (a `gc.collect()` with DEBUG_SAVEALL per batch, so cycles are counted
  and freed, not left to pile up);
- `len()` of every dict, list, set and deque reachable from the `Server` object and from the
  project's modules, by path: a registry that grows with calls or messages ever seen shows up.

Prints one line per batch and, at the end, what grew. A diagnostic for bench/README.md's soak
section, not a benchmark: tracemalloc slows the server by a factor of ~2.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import gc
import os
import re
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import media_calls  # noqa: E402
from bench._soak_drill import twilio_config  # noqa: E402
from bench._soak_heap import arena_bytes  # noqa: E402
from bench.soak import sipp_counts, start_sipp, stop_sipp  # noqa: E402
from centralita.server import Server, tune_gc  # noqa: E402
from centralita.settings import load_settings  # noqa: E402
from tests.helpers.server import (  # noqa: E402
    LOOPBACK,
    free_port,
    free_sip_port,
    random_rtp_block,
)

PROJECT = ("assist", "cases", "centralita", "channels", "common", "ivr", "media",
           "recordings", "routing", "voice", "web")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _Mallinfo2


def heap_mib() -> tuple[float, float]:
    """(bytes glibc's heaps hold from the system incl. mmapped blocks, bytes in use), MiB."""
    info = _libc.mallinfo2()
    return (info.arena + info.hblkhd) / 2**20, (info.uordblks + info.hblkhd) / 2**20


_libc.fopen.restype = ctypes.c_void_p
_libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libc.fclose.argtypes = [ctypes.c_void_p]
_libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]


def arenas(scratch: Path) -> list[tuple[float, float]]:
    """glibc's arenas (`malloc_info`): (MiB taken from the system, MiB free inside), each."""
    return [(taken / 2**20, free / 2**20) for taken, free in arena_bytes(_libc, scratch)]


def pymalloc(scratch: Path) -> tuple[float, float]:
    """Python's object allocator (`sys._debugmallocstats`): (MiB of arenas, MiB in blocks)."""
    saved = os.dup(2)
    with scratch.open("w") as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    text = scratch.read_text()

    def figure(label: str) -> float:
        found = re.search(rf"{label}\s*=\s*([\d,]+)\s*$", text, re.M)
        return int(found[1].replace(",", "")) / 2**20 if found else 0.0

    arenas_now = re.search(r"(\d+) arenas \* (\d+) bytes/arena", text)
    size = int(arenas_now[1]) * int(arenas_now[2]) / 2**20 if arenas_now else 0.0
    return size, figure("# bytes in allocated blocks")


def rss_mib() -> float:
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) / 1024
    return 0.0


def type_counts() -> collections.Counter[str]:
    return collections.Counter(
        f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def cycle_garbage() -> collections.Counter[str]:
    """Objects only a cyclic collection frees, by type (and frees them)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = collections.Counter(
            f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    gc.collect()
    return found


_SIZED = (dict, list, set, frozenset, collections.deque, collections.OrderedDict)


def container_sizes(roots: dict[str, Any], depth: int = 7) -> dict[str, int]:
    """len() of every container reachable from `roots` through attributes and container items,
    breadth first, each object once (its shortest path names it)."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()
    frontier: list[tuple[str, Any]] = list(roots.items())
    for _ in range(depth):
        following: list[tuple[str, Any]] = []
        for path, obj in frontier:
            if id(obj) in seen or isinstance(obj, type | type(sys)):
                continue
            seen.add(id(obj))
            if isinstance(obj, _SIZED):
                sizes[path] = len(obj)
                items = obj.items() if isinstance(obj, dict) else enumerate(obj)
                for n, (key, value) in enumerate(items):
                    if n >= 50:  # the members of a big one are alike: a sample will do
                        break
                    following.append((f"{path}[{type(key).__name__}]", value))
                continue
            attrs: dict[str, Any] = {}
            try:
                with_dict = object.__getattribute__(obj, "__dict__")
            except (AttributeError, TypeError):
                with_dict = None
            if isinstance(with_dict, dict):
                attrs.update(with_dict)
            for klass in type(obj).__mro__:
                for slot in getattr(klass, "__slots__", ()) or ():
                    member = vars(klass).get(slot) if isinstance(slot, str) else None
                    if member is not None and hasattr(member, "__get__"):
                        # the slot itself: no __getattr__ of the class runs
                        with contextlib.suppress(AttributeError):
                            attrs[slot] = member.__get__(obj, klass)
            for name, value in attrs.items():
                if value is None or isinstance(value, str | bytes | int | float | bool):
                    continue
                following.append((f"{path}.{name}", value))
        frontier = following
    return sizes


def roots_of(server: Server) -> dict[str, Any]:
    roots: dict[str, Any] = {"server": server}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PROJECT + ("prometheus_client",):
            for attr, value in vars(module).items():
                if isinstance(value, _SIZED) or (
                        not isinstance(value, type | type(sys)) and not callable(value)
                        and hasattr(value, "__dict__")):
                    roots[f"{name}:{attr}"] = value
    return roots


def settings_for(workdir: Path) -> Any:
    """soak.py's server: demo handler held an hour, transcription off, no debug API, SMS."""
    config = workdir / "centralita.yaml"
    config.write_text(yaml.safe_dump(twilio_config()))
    low, high = random_rtp_block(6000)
    return load_settings(config, {
        "sip_listen": f"{LOOPBACK}:{free_sip_port()}",
        "http_listen": f"{LOOPBACK}:{free_port(also_tcp=False)}",
        "data_dir": workdir / "server-data", "rtp_port_min": low, "rtp_port_max": high,
        "demo_hangup_after": 3600.0, "transcription": "off", "debug_api": False})


POSTER = """
import asyncio, sys
from bench._soak_drill import SmsPoster
async def main():
    poster = SmsPoster(lambda: sys.argv[1], float(sys.argv[2]))
    task = asyncio.create_task(poster.run())
    await asyncio.sleep(float(sys.argv[3]))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    print(len(poster.acked), len(poster.unacked))
asyncio.run(main())
"""


async def load_batch(args: argparse.Namespace, server: Server, workdir: Path,
                     audio: Path) -> tuple[int, int]:
    """`--batch-s` of calls and webhooks, then both drained: (calls completed, SMS acked)."""
    sipp = await start_sipp(workdir, audio, str(server.settings.sip_listen), args.calls,
                            (args.hold[0], args.hold[1]))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    poster = await asyncio.create_subprocess_exec(
        sys.executable, "-c", POSTER, f"http://{server.settings.http_listen}",
        str(args.sms_rate), str(args.batch_s), env=env, stdout=asyncio.subprocess.PIPE)
    await asyncio.sleep(args.batch_s)
    await stop_sipp(sipp, args.hold[1] + 15)
    out, _ = await poster.communicate()
    assert server.calls is not None
    for _ in range(100):  # calls SIPp ended: the server lets go of them within moments
        if not server.calls.calls:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(args.settle)
    acked = int(out.split()[0]) if out.split() else 0
    counts = sipp_counts(workdir)
    if counts["failed"]:
        print(f"   SIPp: {counts['failed']} calls failed (see {workdir}/errors.log)")
    return counts["completed"], acked


async def probe(args: argparse.Namespace, workdir: Path) -> None:
    audio = media_calls.make_audio(workdir)
    server = Server(settings_for(workdir))
    await server.start()
    tune_gc()
    if args.no_gc:
        gc.disable()
    print(f"{'batch':>5} {'calls':>6} {'sms':>6} {'rss':>7} {'heap':>7} {'inuse':>7} "
          f"{'traced':>7} {'objs':>8} {'cyclic':>7} {'up':>4} {'probe s':>7}", flush=True)
    first: tuple[collections.Counter[str], dict[str, int], Any] | None = None
    last: tuple[collections.Counter[str], dict[str, int], Any] | None = None
    calls = sms = 0
    try:
        for batch in range(args.batches + 1):
            done, acked = await load_batch(args, server, workdir, audio)
            calls, sms = calls + done, sms + acked
            began = time.monotonic()
            cyclic = cycle_garbage() if not args.no_gc else collections.Counter()
            snap = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            traced = tracemalloc.get_traced_memory()[0] / 2**20 if snap else 0.0
            if snap is not None:  # what this probe keeps (the last batch's figures) is not news
                snap = snap.filter_traces([tracemalloc.Filter(False, __file__, all_frames=True),
                                           tracemalloc.Filter(False, tracemalloc.__file__)])
            t_snap = time.monotonic() - began
            counts = type_counts()
            sizes = container_sizes(roots_of(server))
            if args.verbose:
                print(f"   probe: gc+snapshot {t_snap:.1f} s, types and containers "
                      f"{time.monotonic() - began - t_snap:.1f} s")
            heap, inuse = heap_mib()
            assert server.calls is not None
            print(f"{batch:>5} {calls:>6} {sms:>6} {rss_mib():>7.1f} {heap:>7.1f} "
                  f"{inuse:>7.1f} {traced:>7.1f} {sum(counts.values()):>8} "
                  f"{sum(cyclic.values()):>7} {len(server.calls.calls):>4} "
                  f"{time.monotonic() - began:>7.1f}", flush=True)
            if cyclic and batch > 0:
                print("   cyclic:", ", ".join(f"{k} {v}" for k, v in cyclic.most_common(8)))
            if batch == 0:  # the warm-up: everything compared starts here
                if not args.no_trace:
                    tracemalloc.start(args.frames)
                continue
            if first is None:
                first = (counts, sizes, snap)
            last = (counts, sizes, snap)
    finally:
        if first is not None and last is not None:
            report(first, last, args.top)
        before = rss_mib()
        _libc.malloc_trim(0)
        print(f"malloc_trim(0): RSS {before:.1f} -> {rss_mib():.1f} MiB")
        await server.stop()


def report(first: Any, last: Any, top: int) -> None:
    counts0, sizes0, snap0 = first
    counts1, sizes1, snap1 = last
    grew = [(counts1[k] - counts0.get(k, 0), k) for k in counts1]
    print("\nobject types that grew (first compared batch -> last):")
    for n, k in sorted(grew, reverse=True)[:top]:
        if n > 0:
            print(f"  {n:+7d} {k} ({counts1[k]})")
    print("\ncontainers that grew:")
    changes = [(sizes1[p] - sizes0[p], p) for p in sizes1 if p in sizes0]
    for n, p in sorted(changes, reverse=True)[:top]:
        if n > 0:
            print(f"  {n:+7d} {p} ({sizes0[p]} -> {sizes1[p]})")
    new = [p for p in sizes1 if p not in sizes0 and sizes1[p] > 20]
    for p in new[:top]:
        print(f"  new    {p} ({sizes1[p]})")
    if snap0 is not None and snap1 is not None:
        print("\ntraced memory that grew, by line:")
        for stat in snap1.compare_to(snap0, "lineno")[:top]:
            if stat.size_diff > 0:
                print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+6d} "
                      f"{stat.traceback[0]}")
        print("\nby traceback (largest growth):")
        for stat in snap1.compare_to(snap0, "traceback")[:5]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+6d}")
            for frame in stat.traceback.format()[-12:]:
                print("     ", frame)


async def stall(seconds: float, every: float) -> None:
    """Block the event loop `seconds` every `every` seconds, as a loaded machine does."""
    while True:
        await asyncio.sleep(every)
        time.sleep(seconds)  # noqa: ASYNC251 - the stall is the point


async def continuous(args: argparse.Namespace, workdir: Path) -> None:
    """One SIPp and one webhook sender for `--minutes`, sampled every `--batch-s` without
    disturbing the server (no collection, no tracing): RSS against glibc's arenas and
    Python's allocated blocks."""
    audio = media_calls.make_audio(workdir)
    server = Server(settings_for(workdir))
    await server.start()
    tune_gc()
    sipp = await start_sipp(workdir, audio, str(server.settings.sip_listen), args.calls,
                            (args.hold[0], args.hold[1]))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    poster = await asyncio.create_subprocess_exec(
        sys.executable, "-c", POSTER, f"http://{server.settings.http_listen}",
        str(args.sms_rate), str(args.minutes * 60), env=env, stdout=asyncio.subprocess.PIPE)
    scratch = workdir / "malloc_info.xml"
    print(f"{'min':>5} {'done':>6} {'fail':>4} {'up':>4} {'rss':>7} {'arenas':>6} "
          f"{'sys':>7} {'free':>6} {'main':>6} {'others':>6} {'inuse':>7} {'pyblocks':>9} "
          f"{'objs':>7} {'fds':>5} {'pyarena':>7} {'pyused':>6}", flush=True)
    started = time.monotonic()
    assert server.calls is not None
    stalls = asyncio.create_task(stall(args.stall, args.stall_every)) if args.stall else None
    try:
        while time.monotonic() - started < args.minutes * 60:
            await asyncio.sleep(args.batch_s)
            if args.trim:
                _libc.malloc_trim(0)
            if sipp.returncode is not None:
                print(f"SIPp exited ({sipp.returncode})")
                break
            heaps = arenas(scratch)
            py_arenas, py_used = pymalloc(scratch)
            _, inuse = heap_mib()
            done = sipp_counts(workdir)
            print(f"{(time.monotonic() - started) / 60:>5.1f} {done['completed']:>6} "
                  f"{done['failed']:>4} {len(server.calls.calls):>4} {rss_mib():>7.1f} "
                  f"{len(heaps):>6} {sum(h[0] for h in heaps):>7.1f} "
                  f"{sum(h[1] for h in heaps):>6.1f} {heaps[0][0] if heaps else 0:>6.1f} "
                  f"{sum(h[0] for h in heaps[1:]):>6.1f} {inuse:>7.1f} "
                  f"{sys.getallocatedblocks():>9} {len(gc.get_objects()):>7} "
                  f"{len(os.listdir('/proc/self/fd')):>5} {py_arenas:>7.1f} {py_used:>6.1f}",
                  flush=True)
    finally:
        if stalls is not None:
            stalls.cancel()
        poster.kill()
        await poster.wait()
        await stop_sipp(sipp, 5)
        before = rss_mib()
        _libc.malloc_trim(0)
        print(f"malloc_trim(0): RSS {before:.1f} -> {rss_mib():.1f} MiB")
        await server.stop()


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="calls kept up")
    parser.add_argument("--hold", type=float, nargs=2, default=(2.0, 4.0))
    parser.add_argument("--batches", type=int, default=6, help="compared after the warm-up")
    parser.add_argument("--batch-s", type=float, default=30.0)
    parser.add_argument("--sms-rate", type=float, default=2.0)
    parser.add_argument("--frames", type=int, default=12, help="tracemalloc frames")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-gc", action="store_true", help="gc.disable() after start")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--stall", type=float, default=0.0,
                        help="continuous: block the loop this many seconds ...")
    parser.add_argument("--stall-every", type=float, default=60.0, help="... this often")
    parser.add_argument("--trim", action="store_true",
                        help="continuous: malloc_trim(0) before each sample")
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="continuous load this long instead of drained batches")
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds after the load before measuring")
    parser.add_argument("--keep", help="work directory to keep")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="soak-probe-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)
        await (continuous if args.minutes else probe)(args, workdir)


if __name__ == "__main__":
    asyncio.run(main(_parse()))
