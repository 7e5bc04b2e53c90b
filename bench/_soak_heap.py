"""`python -m bench._soak_heap CSV SECONDS serve ...`: `centralita serve ...` that also writes
its own memory figures to CSV every SECONDS (bench/soak.py's `--heap`).

From inside the server a daemon thread reads what /proc cannot tell apart: of the RSS, how
much glibc's malloc holds from the system (`malloc_info`: every arena, the main one and the
threads' apart, and how much of that is free inside them), how much of it is in use
(`mallinfo2`), and how many blocks Python's object allocator has handed out
(`sys.getallocatedblocks()`). Growth in use is live objects; growth held but free is the
allocator keeping memory it got at a peak. The thread touches no server object.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading
import time
from pathlib import Path

FIELDS = ("t", "rss_mib", "arenas", "heap_mib", "heap_free_mib", "main_mib", "threads_mib",
          "mmap_mib", "in_use_mib", "py_blocks")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return libc


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def arena_bytes(libc: ctypes.CDLL, scratch: Path) -> list[tuple[int, int]]:
    """glibc's arenas (`malloc_info`, written through `scratch`): (bytes taken from the
    system, bytes free inside) for each."""
    fp = libc.fopen(str(scratch).encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    heaps = []
    for heap in re.findall(r'<heap nr="\d+">(.*?)</heap>', scratch.read_text(), re.S):
        current = re.search(r'<system type="current" size="(\d+)"', heap)
        free = sum(int(n) for n in re.findall(
            r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"', heap))
        heaps.append((int(current[1]) if current else 0, free))
    return heaps


def sample(libc: ctypes.CDLL, scratch: Path) -> dict[str, float]:
    heaps = arena_bytes(libc, scratch)
    info = libc.mallinfo2()
    mib = 2**20
    return {
        "rss_mib": rss_mib(), "arenas": len(heaps),
        "heap_mib": sum(h[0] for h in heaps) / mib,
        "heap_free_mib": sum(h[1] for h in heaps) / mib,
        "main_mib": heaps[0][0] / mib if heaps else 0.0,
        "threads_mib": sum(h[0] for h in heaps[1:]) / mib,
        "mmap_mib": info.hblkhd / mib, "in_use_mib": info.uordblks / mib,
        "py_blocks": sys.getallocatedblocks(),
    }


def _record(csv: Path, every: float) -> None:
    libc = _libc()
    scratch = csv.with_suffix(".xml")
    started = time.monotonic()
    with csv.open("w", buffering=1) as out:
        out.write(",".join(FIELDS) + "\n")
        while True:
            time.sleep(every)
            row = sample(libc, scratch)
            row["t"] = time.monotonic() - started
            out.write(",".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k])
                               for k in FIELDS) + "\n")


def read_last(csv: Path) -> dict[str, float] | None:
    """The latest complete row the server wrote, or None."""
    try:
        lines = csv.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 2 or len(lines[-1].split(",")) != len(FIELDS):
        return None
    return dict(zip(FIELDS, (float(v) for v in lines[-1].split(",")), strict=True))


def main() -> int:
    csv, every = Path(sys.argv[1]), float(sys.argv[2])
    threading.Thread(target=_record, args=(csv, every), name="soak-heap", daemon=True).start()
    sys.argv = ["centralita", *sys.argv[3:]]
    from centralita.cli import main as centralita

    return centralita()


if __name__ == "__main__":
    sys.exit(main())
