"""Mixer bench: CPU per party per 20 ms tick, N = 2..max parties, against the two-party
`Bridge` that live calls used before the mixer.

    python3 bench/mixer.py [--parties 2,3,4,8,16] [--ticks 5000] [--repeat 3]

What is timed is the whole media path between the legs' taps and what the legs play, as a
live call runs it (voice/bridging.py, voice/conference.py), without the legs' own codec work:

* bridge: each leg's frame goes through `Bridge.feed` into the other's `FrameQueue`; each leg
  pulls one frame from its queue (two parties only);
* mixer: each leg's frame goes through `Mixer.feed`; each leg pulls from its `PulledMix`
  (the first pull of a tick runs the mix for everyone). Parties are all `both` (a conference),
  plus, for N = 3, the supervisor cases `listen` and `whisper:agent` (two speakers heard by
  one listener: a real sum).

Figures are process CPU time (time.process_time) per tick, the best of `--repeat` runs (the
machine is shared: the best run is the one least disturbed), divided by the parties.

Figures of one run here (2 shared cores, --repeat 5 --ticks 10000):

    case                   parties   us/tick  us/party
    bridge                       2       1.3       0.7
    mixer both                   2       1.3       0.7   (pure routing: forwarded, no mix)
    mixer both                   3      23.6       7.9
    mixer both                   4      33.4       8.4
    mixer both                   8      67.0       8.4   (total minus own voice)
    mixer both                  16     139.1       8.7
    mixer sup listen             3      10.4       3.5   (one real sum: the supervisor's)
    mixer sup whisper            3      17.1       5.7   (two sums: the agent's, the sup's)

Two parties cost what the Bridge did (1.01x); a real mix costs ~8 us per listener per tick,
i.e. 0.04% of a core per party: a three-way call is ~0.12% of a core.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media.bridge import Bridge, Mixer, PulledMix  # noqa: E402
from media.frame_queue import FrameQueue  # noqa: E402
from media.frames import AudioFrame  # noqa: E402


def frames(n: int) -> list[AudioFrame]:
    rng = np.random.default_rng(n)
    return [AudioFrame(rng.integers(-8000, 8000, 160).astype(np.int16)) for _ in range(50)]


def bench_bridge(ticks: int) -> float:
    qa, qb = FrameQueue(8000), FrameQueue(8000)
    bridge = Bridge("a", qa, "b", qb)
    legs = [("a", qa.next_frame, frames(0)), ("b", qb.next_frame, frames(1))]
    return run_ticks(ticks, bridge.feed, legs)


Leg = tuple[str, Callable[[], AudioFrame | None], list[AudioFrame]]


def run_ticks(ticks: int, feed: Callable[[str, AudioFrame], None], legs: list[Leg]) -> float:
    """The same loop for both: each leg's tap feeds its frame, then the leg pulls one."""
    start = time.process_time()
    for i in range(ticks):
        k = i % 50
        for name, pull, fs in legs:
            feed(name, fs[k])
            pull()
    return (time.process_time() - start) / ticks


def bench_mixer(ticks: int, parties: int, modes: dict[int, str] | None = None) -> float:
    mixer = Mixer(forward=True)  # as voice.conference runs it
    names = [f"p{i}" for i in range(parties)]
    legs: list[Leg] = []
    for name in names:
        queue = PulledMix(mixer)
        mixer.add_leg(name, queue)
        legs.append((name, queue.next_frame, frames(len(legs))))
    for i, mode in (modes or {}).items():
        mixer.set_mode(names[i], mode)
    return run_ticks(ticks, mixer.feed, legs)


def best(run: Callable[[], float], repeat: int) -> float:
    return min(run() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parties", default="2,3,4,8,16")
    parser.add_argument("--ticks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(x) for x in args.parties.split(",")]
    bridge = best(partial(bench_bridge, args.ticks), args.repeat)
    print(f"{'case':<22}{'parties':>8}{'us/tick':>10}{'us/party':>10}")
    print(f"{'bridge':<22}{2:>8}{bridge * 1e6:>10.1f}{bridge * 1e6 / 2:>10.1f}")
    two = None
    for n in sizes:
        cost = best(partial(bench_mixer, args.ticks, n), args.repeat)
        two = cost if n == 2 else two
        print(f"{'mixer both':<22}{n:>8}{cost * 1e6:>10.1f}{cost * 1e6 / n:>10.1f}")
    for label, modes in (("mixer sup listen", {2: "listen"}),
                         ("mixer sup whisper", {2: "whisper:p1"})):
        cost = best(partial(bench_mixer, args.ticks, 3, modes), args.repeat)
        print(f"{label:<22}{3:>8}{cost * 1e6:>10.1f}{cost * 1e6 / 3:>10.1f}")
    if two is not None:
        verdict = "not slower" if two <= bridge * 1.05 else "SLOWER"
        print(f"two parties: mixer {two * 1e6:.1f} us/tick vs bridge {bridge * 1e6:.1f} "
              f"us/tick ({two / bridge:.2f}x): {verdict}")


if __name__ == "__main__":
    main()
