"""Realtime scheduling for the media loop (centralita.realtime): the config section, and real
servers: with the permission only the loop thread runs SCHED_RR (threads started later do not
inherit it); without it, one warning and a server that runs normally."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from centralita.settings import load_settings
from tests.helpers.server import ServerOptions, ServerProcess
from tests.helpers.sipp import run_sipp

SCHED_OTHER, SCHED_RR = 0, 2


def test_media_section_parsed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("media: {realtime_priority: 20, switch_interval_ms: 1}\n")
    media = load_settings(cfg, {}).media
    assert (media.realtime_priority, media.switch_interval_ms) == (20, 1.0)
    assert load_settings(None, {}).media.realtime_priority is None


def policies(pid: int) -> dict[int, tuple[int, int]]:
    """{thread id: (policy, realtime priority)} from /proc/PID/task/*/stat (fields 41, 40)."""
    out: dict[int, tuple[int, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
        out[int(tid)] = (int(fields[38]), int(fields[37]))
    return out


def _can_use_rr() -> bool:
    probe = ("import os; os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


async def _wait_policy(pid: int, want: tuple[int, int]) -> None:
    deadline = time.monotonic() + 20.0
    while policies(pid).get(pid) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"loop thread policy {policies(pid).get(pid)}, wanted {want}")
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_only_the_loop_thread_runs_realtime(tmp_path: Path) -> None:
    if not _can_use_rr():
        message = "this user may not use SCHED_RR (CAP_SYS_NICE or RLIMIT_RTPRIO needed)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = ServerOptions(tls=False, demo_hangup_after=1.0, config={
        "transcription": "off", "recordings": {"enabled": True},
        "media": {"realtime_priority": 7}})
    async with ServerProcess(tmp_path, options) as server:
        await _wait_policy(server.pid, (SCHED_RR, 7))
        before = policies(server.pid)
        # A recorded call: the recorder starts its disk and executor threads from the loop
        # thread now, after the raise.
        result = await run_sipp(["-m", "1", "-timeout", "30s"], target=server.sip_target,
                                workdir=tmp_path, builtin="uac", kill_after=45)
        assert result.returncode == 0, result.stderr[-500:]
        deadline = time.monotonic() + 20.0
        after = policies(server.pid)
        while not set(after) - set(before) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            after = policies(server.pid)
        started = set(after) - set(before)
        assert started, "the recorded call started no thread: nothing shows inheritance"
        assert after[server.pid] == (SCHED_RR, 7)
        others = {tid: p for tid, p in after.items() if tid != server.pid}
        assert others and all(p == (SCHED_OTHER, 0) for p in others.values()), (
            f"threads besides the loop thread: {others}; started after the raise: {started}")


@pytest.mark.slow
async def test_without_permission_one_warning_and_normal_priority(tmp_path: Path) -> None:
    """Started with CAP_SYS_NICE out of the bounding set and RLIMIT_RTPRIO 0, the process
    cannot raise any thread (root included): it says so once and serves at normal priority."""
    setpriv, prlimit = shutil.which("setpriv") or "", shutil.which("prlimit") or ""
    assert setpriv and prlimit, "setpriv and prlimit (util-linux) are needed"

    class Unprivileged(ServerProcess):
        def _build_argv(self) -> list[str]:
            return [prlimit, "--rtprio=0:0", "--", setpriv, "--inh-caps=-sys_nice",
                    "--bounding-set=-sys_nice", "--", *super()._build_argv()]

    options = ServerOptions(tls=False, extra_args=["--realtime"], config={"transcription": "off"})
    async with Unprivileged(tmp_path, options) as server:
        deadline = time.monotonic() + 20.0
        while "media loop runs at normal priority" not in server.stderr_tail(100_000):
            assert time.monotonic() < deadline, server.stderr_tail()
            await asyncio.sleep(0.1)
        status = Path(f"/proc/{server.pid}/status").read_text()  # noqa: ASYNC240 (procfs)
        cap_eff = next(line for line in status.splitlines() if line.startswith("CapEff:"))
        assert not int(cap_eff.split()[1], 16) & (1 << 23), f"CAP_SYS_NICE still held: {cap_eff}"
        assert policies(server.pid)[server.pid] == (SCHED_OTHER, 0)
        result = await run_sipp(["-m", "1", "-timeout", "30s"], target=server.sip_target,
                                workdir=tmp_path, builtin="uac", kill_after=45)
        assert result.returncode == 0, result.stderr[-500:]
        log = server.stderr_tail(100_000)
        assert log.count("realtime priority 10 not allowed") == 1, log[-2000:]
        assert "RLIMIT_RTPRIO is 0" in log
