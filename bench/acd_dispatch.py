"""How long one ACD dispatch pass takes to match waiting callers to agents (`routing.assign`).

The engine runs a pass on every change (a caller arrives or leaves, an agent frees up) on the
event loop that also carries the 20 ms media clock, so a pass must stay short however long
the line is. Each scenario builds one queue with AGENTS agents (2 skills each, some busy) and
ENTRIES waiting entries, then times `assign()` (the matching; the engine's store reads are
in-memory dict lookups around it). Prints milliseconds per pass (median of --repeat runs, 15
by default: of 3, one stray pause moved a median 2x) and the pairs made. Ratios between rows
and between runs on one machine are what to compare.

With `--store memory|redis|both` it times the whole pass as `routing.acd.Acd._dispatch` makes
it against a real store instead: read every agent's status and the line, order the line,
`assign()`, then reserve each matched agent (compare-and-set), for the in-process store
and/or `RedisRoutingStore` (on --redis-url, under a throwaway key prefix deleted after), and
prints the Redis/memory ratio and the Redis round trips (commands sent, a pipeline or a
script counting one) per pass, per routed entry in that pass, and for one entry's whole life
through the store (enqueue, pass, reserve, take, on call, wrap-up, available).

    python bench/acd_dispatch.py
    python bench/acd_dispatch.py --agents 2000 --entries 5000 --repeat 5
    python bench/acd_dispatch.py --store both
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._acd_store_pass import run_store_bench  # noqa: E402
from routing.model import AgentConfig, AgentState, AgentStatus, QueueConfig, QueueEntry  # noqa: E402
from routing.strategies import assign  # noqa: E402

SKILLS = ("billing", "spanish", "tech", "vip")


def scenario(agents: int, entries: int, free: int, strategy: str, *, rare: bool = False,
             seed: int = 7) -> tuple[
        QueueConfig, list[QueueEntry], dict[str, tuple[AgentConfig, AgentStatus]]]:
    """`rare`: every waiting entry needs a skill ("rare") that only busy agents have."""
    rng = random.Random(seed)
    queue = QueueConfig("q", strategy=strategy, aging_per_s=0.01)
    pool: dict[str, tuple[AgentConfig, AgentStatus]] = {}
    for i in range(agents):
        skills = {s: rng.randint(1, 5) for s in rng.sample(SKILLS, 2)}
        if rare and i >= free:
            skills["rare"] = 1
        config = AgentConfig(f"a{i:05d}", skills=skills, queues=("q",))
        state = AgentState.AVAILABLE if i < free else AgentState.ON_CALL
        status = AgentStatus(config.id, state=state, idle_since=rng.random() * 100,
                             active=0 if i < free else 1)
        pool[config.id] = (config, status)
    line = [QueueEntry(f"e{i}", "q", seq=i + 1, enqueued_mono=i * 0.5, enqueued_wall=i * 0.5,
                       priority=rng.choice((0, 0, 0, 1)),
                       skills=("rare",) if rare else
                       (rng.choice(SKILLS),) if rng.random() < 0.3 else ())
            for i in range(entries)]
    return queue, line, pool


def time_pass(agents: int, entries: int, free: int, strategy: str, repeat: int, *,
              rare: bool = False) -> tuple[float, int]:
    queue, line, pool = scenario(agents, entries, free, strategy, rare=rare)
    runs = []
    pairs = 0
    for _ in range(repeat):
        start = time.perf_counter()
        pairs = len(assign(queue, line, pool, now=1000.0, last=None))
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000, pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--store", choices=("memory", "redis", "both"), default=None,
                        help="time whole passes against a real store (see above)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.store is not None:
        stores = ("memory", "redis") if args.store == "both" else (args.store,)
        return asyncio.run(run_store_bench(
            stores, agents=args.agents, entries=args.entries, repeat=args.repeat,
            redis_url=args.redis_url, scenario=scenario))
    print(f"{'strategy':<16}{'agents':>7}{'free':>6}{'waiting':>9}{'ms/pass':>10}{'pairs':>7}"
          "  line")
    for strategy in ("longest-idle", "skills-weighted"):
        for free, rare in ((0, False), (5, False), (args.agents // 2, False),
                           (args.agents // 2, True)):
            ms, pairs = time_pass(args.agents, args.entries, free, strategy, args.repeat,
                                  rare=rare)
            print(f"{strategy:<16}{args.agents:>7}{free:>6}{args.entries:>9}{ms:>10.2f}"
                  f"{pairs:>7}  {'all need a skill only busy agents have' if rare else 'mixed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
