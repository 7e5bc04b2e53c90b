"""The `media:` section of the config file: realtime scheduling for the media loop.

    media:
      realtime_priority: 10     # SCHED_RR priority (1-99) for the event-loop thread; absent: off
      switch_interval_ms: 1     # the GIL's switch interval (Python's default is 5 ms)

`centralita serve --realtime` asks for the same with priority `DEFAULT_PRIORITY` when the config
names none. The 20 ms media clock (media.ticker) runs on the event loop, so every tick waits for
whatever else the kernel runs on the loop's core: on a machine shared with a SIPp load
generator, a database or a CI run, the loop thread queues behind them and ticks start late.
Realtime priority, as Asterisk's `-p` and FreeSWITCH's `-rp` offer it, lets the loop thread
preempt every normal process the moment its timer is due.

Only the loop thread is raised. Threads started before it (OpenBLAS's, the ONNX runtime's) keep
the normal policy, and the policy is set with `SCHED_RESET_ON_FORK`, so every thread or process
the loop thread starts afterwards (executor threads for the database, recording encoders,
transcription workers, espeak-ng or ffmpeg) starts on the normal policy: their bulk work must not
compete with the media clock at realtime priority. Without the permission to do it
(`CAP_SYS_NICE`, or `RLIMIT_RTPRIO` at least the priority asked for) one warning says so and the
server runs at normal priority.

The cost: a realtime thread that spins would starve normal processes on its core (the kernel
still keeps 5% for them, /proc/sys/kernel/sched_rt_runtime_us). The loop never busy-waits; it
sleeps in epoll between ticks and packets.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# What `--realtime` asks for when the config does not say: the priority Asterisk's -p uses. Low
# in the 1-99 range, so kernel threads and anything an operator raises on purpose stay above.
DEFAULT_PRIORITY = 10
MIN_PRIORITY = 1
MAX_PRIORITY = 99


class MediaConfigError(ValueError):
    """The `media:` section is wrong; the message names the key."""


@dataclass(frozen=True)
class MediaSettings:
    # SCHED_RR priority for the event-loop thread; None: normal scheduling.
    realtime_priority: int | None = None
    # The GIL's switch interval in ms (sys.setswitchinterval); None: Python's default (5 ms).
    switch_interval_ms: float | None = None


def parse_media(value: Any, where: str) -> MediaSettings:
    """`media:` as read from YAML into `MediaSettings`."""
    if not isinstance(value, dict):
        raise MediaConfigError(
            f"{where} must be a mapping (realtime_priority, switch_interval_ms)")
    unknown = set(value) - {"realtime_priority", "switch_interval_ms"}
    if unknown:
        raise MediaConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    priority = value.get("realtime_priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)
                                 or not MIN_PRIORITY <= priority <= MAX_PRIORITY):
        raise MediaConfigError(
            f"{where}.realtime_priority must be a whole number from {MIN_PRIORITY} to "
            f"{MAX_PRIORITY} (SCHED_RR priority), got {priority!r}")
    interval = value.get("switch_interval_ms")
    if interval is not None and (isinstance(interval, bool)
                                 or not isinstance(interval, int | float)
                                 or not 0.05 <= interval <= 100):
        raise MediaConfigError(
            f"{where}.switch_interval_ms must be a number of milliseconds from 0.05 to 100, "
            f"got {interval!r}")
    return MediaSettings(priority, None if interval is None else float(interval))


def apply_media_scheduling(settings: MediaSettings) -> bool:
    """Apply `settings` to the calling thread (the event loop's); True if it runs realtime.

    Call it from the loop thread once the server is up.
    """
    if settings.switch_interval_ms is not None:
        sys.setswitchinterval(settings.switch_interval_ms / 1000.0)
    if settings.realtime_priority is None:
        return False
    return raise_thread_priority(settings.realtime_priority)


def raise_thread_priority(priority: int) -> bool:
    """SCHED_RR at `priority` for the calling thread only; False (one warning) if not allowed.

    On Linux pid 0 names the calling thread, not the process: the other threads keep their
    policy, and `SCHED_RESET_ON_FORK` puts threads and processes started from this one back on
    the normal policy.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK,
                              os.sched_param(priority))
    except PermissionError:
        soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
        log.warning(
            "media realtime priority %d not allowed (needs CAP_SYS_NICE or RLIMIT_RTPRIO >= %d; "
            "RLIMIT_RTPRIO is %s): the media loop runs at normal priority",
            priority, priority, soft)
        return False
    log.info("media loop thread on SCHED_RR priority %d", priority)
    return True

