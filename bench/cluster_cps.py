"""SIP calls per second through Kamailio (deploy/kamailio/kamailio.cfg) to 1 and 2 nodes.

For each node count it starts that many `centralita serve` nodes and a Kamailio dispatching
over them (tests/cluster/cluster.py), then runs SIPp UAC calls of zero duration through
Kamailio at a ramp of offered rates, a few seconds each. The UAC sends ACK and BYE along the
record-route set, so a BYE that reached the wrong node would be a 481 and a failed call.
Per step it prints offered and completed calls/s, failed calls, how the calls were spread
over the nodes (each node's `centralita_calls_total`), 481s sent by the nodes, and Kamailio's
CPU milliseconds per call (utime + stime of all its processes from /proc/PID/stat, before and
after). Stops a node count's ramp at the first rate with failed calls. Always exits 0 once
figures are printed; exits 1 only if the cluster cannot start.

On a shared 2-core machine SIPp, Kamailio and the nodes compete for the same cores: the
figures are those of the whole loop on one box, not of Kamailio alone.

    python bench/cluster_cps.py [--nodes 1,2] [--rates 100,300,500,700] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.cluster.cluster import SCENARIO, Cluster  # noqa: E402
from tests.cluster.kamailio import KamailioError  # noqa: E402
from tests.helpers.server import ServerOptions, ServerStartError  # noqa: E402
from tests.helpers.sipp import run_sipp  # noqa: E402


@dataclass
class Step:
    nodes: int
    rate: int
    calls: int
    successful: int
    failed: int
    achieved_cps: float
    kamailio_cpu_ms_per_call: float
    per_node: list[int] = field(default_factory=list)
    no_dialog_481: int = 0
    failures: dict[str, int] = field(default_factory=dict)


async def run_step(cluster: Cluster, workdir: Path, rate: int, seconds: float) -> Step:
    calls = int(rate * seconds)
    before = await cluster.figures()
    cpu_before = cluster.kamailio.cpu_seconds()
    started = time.monotonic()
    result = await run_sipp(
        [
            "-m", str(calls), "-r", str(rate), "-l", str(max(rate, 200)), "-d", "0",
            "-s", "100", "-recv_timeout", "5000", "-timeout", f"{int(seconds * 3 + 10)}s",
            "-max_recv_loops", "10000",
        ],
        target=cluster.kamailio.target, workdir=workdir, scenario_file=SCENARIO,
        kill_after=seconds * 3 + 25, name=f"uac-{len(cluster.nodes)}n-{rate}cps",
    )
    elapsed = time.monotonic() - started
    cpu_ms = (cluster.kamailio.cpu_seconds() - cpu_before) * 1000.0
    after = await cluster.figures()
    done = max(result.successful + result.failed, 1)
    return Step(
        nodes=len(cluster.nodes),
        rate=rate,
        calls=calls,
        successful=result.successful,
        failed=result.failed + max(0, calls - result.successful - result.failed),
        achieved_cps=result.successful / elapsed if elapsed > 0 else 0.0,
        kamailio_cpu_ms_per_call=cpu_ms / done,
        per_node=[a.calls - b.calls for a, b in zip(after, before, strict=True)],
        no_dialog_481=sum(a.no_dialog_481 - b.no_dialog_481
                          for a, b in zip(after, before, strict=True)),
        failures=result.failure_breakdown(),
    )


def print_table(steps: list[Step]) -> None:
    print(f"{'nodes':>5} {'rate/s':>7} {'calls':>6} {'ok':>6} {'failed':>6} {'ok/s':>7} "
          f"{'481s':>5} {'kam ms/call':>11}  per node / failures")
    for s in steps:
        spread = "/".join(str(n) for n in s.per_node)
        print(f"{s.nodes:>5} {s.rate:>7} {s.calls:>6} {s.successful:>6} {s.failed:>6} "
              f"{s.achieved_cps:>7.0f} {s.no_dialog_481:>5} {s.kamailio_cpu_ms_per_call:>11.3f}"
              f"  {spread} {s.failures or ''}")


async def ramp(nodes: int, rates: list[int], seconds: float, workdir: Path,
               children: int) -> list[Step]:
    options = ServerOptions(debug_api=False, tls=False, extra_args=["--transcription", "off"])
    # The shipped defaults but a 1 s ping: a loaded node may answer its health check late,
    # 2 s before a ping counts as lost, 3 lost in a row to leave the rotation, and 10 s for an
    # INVITE it took (100 Trying) to be answered.
    cluster = Cluster(workdir / f"{nodes}-nodes", nodes=nodes, options=options,
                      probing_threshold=3, fr_timer_ms=2000, fr_inv_timer_ms=10000,
                      kamailio_children=children)
    await cluster.start()
    steps: list[Step] = []
    try:
        await run_step(cluster, workdir, min(rates[0], 50), 1.0)  # warm-up
        for rate in rates:
            step = await run_step(cluster, workdir, rate, seconds)
            steps.append(step)
            print(f"  {nodes} node(s) {rate}/s: {step.successful}/{step.calls} ok "
                  f"({step.achieved_cps:.0f}/s)", flush=True)
            if step.failed:
                break
    finally:
        await cluster.stop()
    return steps


async def main(node_counts: list[int], rates: list[int], seconds: float, keep: Path | None,
               children: int) -> int:
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="cluster-cps-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for nodes in node_counts:
            try:
                steps += await ramp(nodes, rates, seconds, workdir, children)
            except (ServerStartError, KamailioError) as exc:
                print(f"cluster_cps: the cluster did not start:\n{exc}", file=sys.stderr)
                return 1
    print()
    print_table(steps)
    print()
    for nodes in node_counts:
        clean = [s for s in steps if s.nodes == nodes and s.failed == 0]
        if not clean:
            print(f"{nodes} node(s): no rate completed without failed calls")
            continue
        best = clean[-1]
        print(f"{nodes} node(s): highest rate with 0 failed calls: {best.rate} calls/s "
              f"({best.achieved_cps:.0f} completed/s), Kamailio CPU "
              f"{best.kamailio_cpu_ms_per_call:.3f} ms per call, spread "
              f"{'/'.join(str(n) for n in best.per_node)}")
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,2", help="comma-separated node counts")
    parser.add_argument("--rates", default="100,300,500,700",
                        help="comma-separated offered call rates (calls/s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per rate")
    parser.add_argument("--children", type=int, default=4,
                        help="Kamailio UDP worker processes (CHILDREN)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep SIPp's, Kamailio's and the nodes' logs in DIR")
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse()
    sys.exit(asyncio.run(main(
        [int(n) for n in args.nodes.split(",")], [int(r) for r in args.rates.split(",")],
        args.seconds, args.keep, args.children,
    )))
