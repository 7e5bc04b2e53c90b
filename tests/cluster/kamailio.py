"""Start and stop Debian's Kamailio with the shipped `deploy/kamailio/kamailio.cfg`.

`KamailioProcess` is an async context manager: it writes the dispatcher list (one line per
node, set 1), starts `kamailio -DD -E` in the foreground as this user on a free loopback UDP
port with its pid file, runtime and working directories in the test's tmp dir, and waits until
Kamailio answers an OPTIONS addressed to itself. Leaving it SIGTERMs the process group (then
SIGKILLs). Kamailio logs to a file in the tmp dir, kept for a failed test.

`cpu_seconds()` adds utime + stime of every Kamailio process (the main one and its forked
workers share its session), which is what bench/cluster_cps.py divides by the calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import time
from pathlib import Path
from types import TracebackType

from tests.helpers.server import LOOPBACK, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_CFG = REPO_ROOT / "deploy" / "kamailio" / "kamailio.cfg"
# Shared memory (MB) holds every transaction until its wait timer ends: 64 MB ran out at
# ~500 calls/s with a backlog (tm "out of mem", 500s to the callers).
SHM_MB = 256


class KamailioError(RuntimeError):
    """Kamailio is missing, exited, or did not answer in time; the message holds its log."""


def kamailio_binary() -> str:
    path = shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists(
        "/usr/sbin/kamailio") else None)
    if path is None:
        raise KamailioError("kamailio not found: install Debian's kamailio (scripts/setup.sh)")
    return path


def dispatcher_list(nodes: list[str]) -> str:
    """The dispatcher file: set 1, one `sip:host:port` per node, in order."""
    return "".join(f"1 sip:{node}\n" for node in nodes)


def options_ping(host: str, port: int, timeout: float = 0.5) -> int:
    """Send one OPTIONS to `host:port` over UDP; the status code answered, 0 if none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        tag = secrets.token_hex(6)
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local};branch=z9hG4bK{tag}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{LOOPBACK}>;tag={tag}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {tag}@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), (host, port))
        try:
            data = sock.recv(65535)
        except OSError:
            return 0
    first = data.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else 0


class KamailioProcess:
    """One Kamailio in front of `nodes` (`host:port` strings); `async with` starts and stops."""

    def __init__(
        self,
        workdir: Path,
        nodes: list[str],
        *,
        ping_interval: int = 1,
        probing_threshold: int = 2,
        fr_timer_ms: int = 1000,
        fr_inv_timer_ms: int = 3000,
        children: int = 4,
        defines: dict[str, str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.workdir = workdir / "kamailio"
        self.nodes = nodes
        self.port = free_port()
        self.ping_interval = ping_interval
        self.probing_threshold = probing_threshold
        self.fr_timer_ms = fr_timer_ms
        self.fr_inv_timer_ms = fr_inv_timer_ms
        self.children = children
        self.defines = defines or {}
        self.startup_timeout = startup_timeout
        self.log_path = self.workdir / "kamailio.log"
        self.list_path = self.workdir / "dispatcher.list"
        self.proc: asyncio.subprocess.Process | None = None
        self.argv: list[str] = []

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("kamailio is not running")
        return self.proc.pid

    def log_tail(self, limit: int = 6000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log file)"
        return text[-limit:] if text else "(log empty)"

    def build_argv(self) -> list[str]:
        run_dir = self.workdir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        defines = {
            "DS_LIST": f'"{self.list_path}"',
            "DS_PING_INTERVAL": str(self.ping_interval),
            "DS_PROBING_THRESHOLD": str(self.probing_threshold),
            "FR_TIMER": str(self.fr_timer_ms),
            "FR_INV_TIMER": str(self.fr_inv_timer_ms),
            "CHILDREN": str(self.children),
            **self.defines,
        }
        argv = [
            kamailio_binary(), "-DD", "-E", "-f", str(KAMAILIO_CFG),
            "-l", f"udp:{self.target}",
            "-P", str(self.workdir / "kamailio.pid"), "-Y", str(run_dir),
            "-w", str(self.workdir), "-m", str(SHM_MB), "-M", "8",
        ]
        for name, value in defines.items():
            argv += ["-A", f"{name}={value}"]
        return argv

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.list_path.write_text(dispatcher_list(self.nodes), encoding="utf-8")
        self.argv = self.build_argv()
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=str(self.workdir), start_new_session=True,
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise KamailioError(
                    f"kamailio exited with {self.proc.returncode}\nargv: {' '.join(self.argv)}"
                    f"\n--- log ---\n{self.log_tail()}"
                )
            if await asyncio.to_thread(options_ping, LOOPBACK, self.port) == 200:
                return
            await asyncio.sleep(0.1)
        raise KamailioError(
            f"kamailio did not answer OPTIONS in {self.startup_timeout:g}s\n"
            f"argv: {' '.join(self.argv)}\n--- log ---\n{self.log_tail()}"
        )

    async def stop(self, term_timeout: float = 5.0) -> int | None:
        """SIGTERM the process group, wait up to `term_timeout`, then SIGKILL it."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), term_timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        # Forked workers that outlived the main process.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def cpu_seconds(self) -> float:
        """utime + stime of all processes in Kamailio's session, from /proc/PID/stat."""
        total = 0
        sid = self.pid
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # field 6: session id
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    async def __aenter__(self) -> KamailioProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
