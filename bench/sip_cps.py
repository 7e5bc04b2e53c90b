"""SIP calls per second: SIPp's built-in `uac` against a real `centralita serve`.

Starts the server on free loopback ports, then runs INVITE / 200 / ACK / BYE calls of zero
duration at increasing rates, a few seconds each. Prints one row per rate and the highest
rate at which every call succeeded, with the server's CPU milliseconds per call (utime +
stime from /proc/PID/stat, before and after each step). Stops at the first rate with failed
calls. Always exits 0 once figures are printed (it measures, it does not judge); exits 1 only
if the server cannot start.

    python bench/sip_cps.py [--rates 500,1000,1500,2000,2500] [--seconds 4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.helpers.server import (  # noqa: E402
    ServerOptions,
    ServerProcess,
    ServerStartError,
    random_rtp_block,
)
from tests.helpers.sipp import run_sipp  # noqa: E402


@dataclass
class Step:
    rate: int
    calls: int
    successful: int
    failed: int
    achieved_cps: float
    server_cpu_ms_per_call: float
    retransmissions: int
    failures: dict[str, int]


async def run_step(server: ServerProcess, workdir: Path, rate: int, seconds: float) -> Step:
    calls = int(rate * seconds)
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    result = await run_sipp(
        [
            "-m", str(calls), "-r", str(rate), "-l", str(max(rate, 200)), "-d", "0",
            "-recv_timeout", "5000", "-timeout", f"{int(seconds * 3 + 10)}s",
            "-max_recv_loops", "10000",
        ],
        target=server.sip_target, workdir=workdir, builtin="uac",
        kill_after=seconds * 3 + 25, name=f"uac-{rate}cps",
    )
    elapsed = time.monotonic() - started
    cpu_ms = (server.cpu_seconds() - cpu_before) * 1000.0
    done = max(result.successful + result.failed, 1)
    return Step(
        rate=rate,
        calls=calls,
        successful=result.successful,
        failed=result.failed + max(0, calls - result.successful - result.failed),
        achieved_cps=result.successful / elapsed if elapsed > 0 else 0.0,
        server_cpu_ms_per_call=cpu_ms / done,
        retransmissions=result.retransmissions,
        failures=result.failure_breakdown(),
    )


def print_table(steps: list[Step]) -> None:
    print(f"{'rate/s':>7} {'calls':>6} {'ok':>6} {'failed':>6} {'ok/s':>7} "
          f"{'retrans':>7} {'cpu ms/call':>11}  failures")
    for s in steps:
        print(f"{s.rate:>7} {s.calls:>6} {s.successful:>6} {s.failed:>6} "
              f"{s.achieved_cps:>7.0f} {s.retransmissions:>7} "
              f"{s.server_cpu_ms_per_call:>11.3f}  {s.failures or ''}")


async def main(
    rates: list[int], seconds: float, keep: Path | None, transcription: str,
    warmup: int = 100,
) -> int:
    with tempfile.TemporaryDirectory(prefix="sip-cps-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        # 5,000 RTP port pairs, as many as the default range: calls that pile up when the server
        # falls behind should fail on SIP, not on a test-sized port block.
        options = ServerOptions(
            debug_api=False, tls=False, rtp_ports=random_rtp_block(10000),
            extra_args=["--transcription", transcription],
        )
        server = ServerProcess(workdir, options)
        try:
            await server.start()
        except ServerStartError as exc:
            print(f"sip_cps: the server did not start:\n{exc}", file=sys.stderr)
            return 1
        steps: list[Step] = []
        try:
            # Warm-up: imports, first allocations, the port allocator.
            if warmup > 0:
                await run_step(server, workdir, warmup, 1.0)
            for rate in rates:
                step = await run_step(server, workdir, rate, seconds)
                steps.append(step)
                print(f"  {rate}/s: {step.successful}/{step.calls} ok", flush=True)
                if step.failed:
                    break
        finally:
            await server.stop()
    print()
    print_table(steps)
    clean = [s for s in steps if s.failed == 0]
    print()
    if clean:
        best = clean[-1]
        print(f"highest rate with 0 failed calls: {best.rate} calls/s "
              f"({best.achieved_cps:.0f} completed/s), "
              f"server CPU {best.server_cpu_ms_per_call:.3f} ms per call")
        if best.achieved_cps < 0.8 * best.rate:
            print("  (the server fell behind the offered rate there: calls completed late, "
                  "kept alive by retransmissions)")
        kept_up = [s for s in clean if s.achieved_cps >= 0.8 * s.rate]
        if kept_up and kept_up[-1] is not best:
            k = kept_up[-1]
            print(f"highest rate it kept up with: {k.rate} calls/s "
                  f"({k.achieved_cps:.0f} completed/s, {k.server_cpu_ms_per_call:.3f} ms CPU "
                  "per call)")
    else:
        print("no rate completed without failed calls")
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="500,1000,1500,2000,2500",
                        help="comma-separated call rates (calls/s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per rate")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep SIPp's and the server's logs in DIR")
    # The answer path is measured on its own by default; bench/transcribe.py measures speech.
    parser.add_argument("--transcription", default="off",
                        help="the server's --transcription engine (default off)")
    parser.add_argument("--warmup", type=int, default=100, metavar="CALLS",
                        help="calls placed at that rate for 1 s before measuring (0: none)")
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse()
    rates = [int(r) for r in args.rates.split(",")]
    sys.exit(asyncio.run(main(rates, args.seconds, args.keep, args.transcription, args.warmup)))
