"""Wallboard bench: what one change costs the server and the wire, deltas against sending
everything (what the desk's directory does: every agent to every desk on every change).

    python3 bench/wallboard.py [--queues 50] [--agents 500] [--calls 200] [--viewers 20]
                               [--changes 2000]

A board of that size (`web.supervisor.board`: queues, agents, calls, rows as the server builds
them) changes one agent at a time (a state and its start time, and now and then a call that
begins or ends with its queue's counts), `--changes` times. For each change it times, in
process CPU time: `diff` of the two boards (what the feed does once per change, whatever the
number of viewers), and the fan-out of the delta to `--viewers` viewers' queues through a real
`WallboardFeed` (the socket writes are left out: both ways write per viewer). Then the bytes on
the wire per change: the delta's JSON against the whole board's (the cost of re-sending
everything), times the viewers.

Figures of one run here (2 cores shared with other work, defaults):

                                   p50       p99      mean
    diff (us)                    771.0    1503.5     818.7
    build+fan-out (us)          1561.2    3160.9    1746.0
    encode delta (us)             11.8      58.8      17.5
    encode whole (us)           1144.9    1905.1    1163.6
    delta (bytes)                  114       360       148
    whole board (bytes)                             111250

A change is ~150 bytes to each page instead of ~110 KB (750x less on the wire), and ~2 ms of
server CPU for 20 pages instead of ~24 ms (the whole board encoded once per page). The diff
is the cost that stays (~0.8 ms for 750 rows) and it does not grow with the pages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from web.supervisor.board import Board, diff  # noqa: E402
from web.supervisor.feed import WallboardFeed  # noqa: E402

STATES = ("available", "on_call", "wrap_up", "break", "reserved")
T0 = 1_765_000_000.0


def make_board(queues: int, agents: int, calls: int, rng: random.Random) -> Board:
    qs = {f"queue-{q:03d}": {
        "waiting": rng.randint(0, 5), "callbacks": 0, "oldest": T0 - rng.randint(0, 300),
        "agents": {"available": 3, "on_call": 5}, "offered": rng.randint(0, 900),
        "answered": rng.randint(0, 800), "abandoned": rng.randint(0, 50),
        "service_level": round(rng.random(), 3), "asa": round(rng.uniform(5, 60), 1),
        "threshold": 20.0} for q in range(queues)}
    ags = {f"agent-{a:04d}": {
        "name": f"Agent {a}", "state": rng.choice(STATES), "reason": None,
        "since": T0 - rng.randint(0, 3600), "call": None, "conversations": 0}
        for a in range(agents)}
    board: Board = {"queues": qs, "agents": ags, "channels": {}, "calls": {}}
    for c in range(calls):
        start_call(board, f"call-{c:05d}", f"agent-{c % agents:04d}", rng)
    return board


def start_call(board: Board, call_id: str, agent_id: str, rng: random.Random) -> None:
    queue = rng.choice(sorted(board["queues"]))
    board["calls"][call_id] = {"agent": agent_id, "queue": queue, "caller": "+34600000000",
                               "phase": "connected", "case_id": "c" + call_id,
                               "since": T0, "muted": False, "supervisors": {}}
    board["agents"][agent_id].update(state="on_call", call=call_id)
    board["queues"][queue]["answered"] += 1


def change(board: Board, n: int, rng: random.Random) -> Board:
    """The next board: one agent changes state; every fourth change a call ends or begins."""
    new = copy.deepcopy(board)
    agent_id = rng.choice(sorted(new["agents"]))
    row = new["agents"][agent_id]
    row.update(state=rng.choice(STATES), since=T0 + n)
    if n % 4 == 0:
        if row["call"] is not None and row["call"] in new["calls"]:
            del new["calls"][row["call"]]
            row["call"] = None
        else:
            start_call(new, f"new-{n:06d}", agent_id, rng)
    return new


def size(message: object) -> int:
    return len(json.dumps(message, separators=(",", ":")).encode())


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    boards = [make_board(args.queues, args.agents, args.calls, rng)]
    for n in range(args.changes):
        boards.append(change(boards[-1], n + 1, rng))

    diff_s: list[float] = []
    delta_bytes: list[int] = []
    encode_delta_s: list[float] = []
    encode_whole_s: list[float] = []
    for n, (old, new) in enumerate(zip(boards, boards[1:], strict=False)):
        t = time.process_time()
        delta = diff(old, new)
        diff_s.append(time.process_time() - t)
        message = delta.to_json(1)
        t = time.process_time()
        delta_bytes.append(size(message))  # what each viewer's socket encodes
        encode_delta_s.append(time.process_time() - t)
        if n % 20 == 0:
            t = time.process_time()
            size({"type": "snapshot", "seq": 1, "board": new})
            encode_whole_s.append(time.process_time() - t)
    whole = statistics.mean(size({"type": "snapshot", "seq": 1, "board": b})
                            for b in boards[:: max(1, len(boards) // 50)])

    # The fan-out through a real feed: one build per change, the same delta to every viewer.
    current = iter(boards)
    feed = WallboardFeed(lambda: _next(current), refresh=3600.0, settle=0.0)
    fan_s: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        viewers = [await stack.enter_async_context(feed.watch()) for _ in range(args.viewers)]
        for viewer in viewers:
            await viewer.next()  # the snapshot (the first board)
        for _ in range(args.changes):
            t = time.process_time()
            await feed.build_now()  # what the feed's task does on a poke
            for viewer in viewers:
                await viewer.next()
            fan_s.append(time.process_time() - t)

    us = 1e6
    print(f"board: {args.queues} queues, {args.agents} agents, {args.calls} calls; "
          f"{args.changes} changes, {args.viewers} viewers")
    print(f"{'':24}{'p50':>10}{'p99':>10}{'mean':>10}")
    print(f"{'diff (us)':24}{_p(diff_s, 50) * us:10.1f}{_p(diff_s, 99) * us:10.1f}"
          f"{statistics.mean(diff_s) * us:10.1f}")
    print(f"{'build+fan-out (us)':24}{_p(fan_s, 50) * us:10.1f}{_p(fan_s, 99) * us:10.1f}"
          f"{statistics.mean(fan_s) * us:10.1f}")
    print(f"{'encode delta (us)':24}{_p(encode_delta_s, 50) * us:10.1f}"
          f"{_p(encode_delta_s, 99) * us:10.1f}{statistics.mean(encode_delta_s) * us:10.1f}")
    print(f"{'encode whole (us)':24}{_p(encode_whole_s, 50) * us:10.1f}"
          f"{_p(encode_whole_s, 99) * us:10.1f}{statistics.mean(encode_whole_s) * us:10.1f}")
    mean_delta = statistics.mean(delta_bytes)
    print(f"{'delta (bytes)':24}{_p(delta_bytes, 50):10.0f}{_p(delta_bytes, 99):10.0f}"
          f"{mean_delta:10.0f}")
    print(f"{'whole board (bytes)':24}{'':20}{whole:10.0f}")
    print(f"per change to {args.viewers} viewers: deltas {mean_delta * args.viewers / 1024:.1f} KiB,"
          f" whole boards {whole * args.viewers / 1024:.1f} KiB "
          f"({whole / mean_delta:.0f}x more); server CPU per change (build, fan-out, encode "
          f"per viewer): deltas {(statistics.mean(fan_s) + statistics.mean(encode_delta_s) * args.viewers) * us:.0f} us, "
          f"whole boards {(statistics.mean(fan_s) - statistics.mean(diff_s) + statistics.mean(encode_whole_s) * args.viewers) * us:.0f} us")


def _p(values: list[float] | list[int], pct: int) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))])


async def _next(boards: Any) -> Board:
    board: Board = next(boards)
    return board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--changes", type=int, default=2000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
