"""Run SIPp as a subprocess and read its verdict.

`run_sipp()` starts `sipp` on loopback with statistics (`-trace_stat -stf`), unexpected
messages (`-trace_err`) and the final screen (`-trace_screen`) written into a per-run
directory, awaits it (killing it on timeout or cancellation) and returns a `SippResult`
with the final counters parsed from the statistics CSV. `SippResult.report()` is what a
failed assertion should show: the command, the counters, the exit code and the tails of
SIPp's error log, screen and stderr.

SIPp exit codes: 0 all calls succeeded, 1 at least one failed, 97 exit on internal command,
99 normal exit without calls processed, 255 (-1) fatal error, 254 (-2) cannot bind.

`TlsBridge` exists because Debian's sipp is built without OpenSSL (`-t l1` is refused):
SIPp speaks TCP to the bridge, the bridge speaks TLS to the server. Scenarios that go through
it put `SIP/2.0/TLS` in their Via so the server sees a consistent TLS request.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import os
import shutil
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.helpers.server import free_port

LOOPBACK = "127.0.0.1"
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "sipp" / "scenarios"
_run_ids = itertools.count(1)


class SippError(AssertionError):
    """SIPp's run did not produce what the test required; the message is the full report."""


@dataclass
class SippResult:
    argv: list[str]
    returncode: int
    run_dir: Path
    stats: dict[str, str]
    stdout: str
    stderr: str
    timed_out: bool = False

    def _count(self, name: str) -> int:
        """A cumulative counter: column `name(C)`, or `name` for those without a period."""
        value = self.stats.get(f"{name}(C)", self.stats.get(name, ""))
        return int(value) if value.strip().isdigit() else 0

    @property
    def successful(self) -> int:
        return self._count("SuccessfulCall")

    @property
    def failed(self) -> int:
        return self._count("FailedCall")

    @property
    def created(self) -> int:
        return self._count("TotalCallCreated")

    @property
    def retransmissions(self) -> int:
        return self._count("Retransmissions")

    def failure_breakdown(self) -> dict[str, int]:
        """The non-zero cumulative `Failed*` counters, e.g. {'FailedTimeoutOnRecv': 3}."""
        out: dict[str, int] = {}
        for key in self.stats:
            if key.startswith("Failed") and key.endswith("(C)") and key != "FailedCall(C)":
                count = self._count(key[:-3])
                if count:
                    out[key[:-3]] = count
        return out

    def _tail(self, pattern: str, limit: int) -> str:
        chunks = []
        for path in sorted(self.run_dir.glob(pattern)):
            text = path.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                chunks.append(f"--- {path.name} (last {limit} chars) ---\n{text[-limit:]}")
        return "\n".join(chunks)

    def report(self) -> str:
        parts = [
            f"sipp exit {self.returncode}{' (killed on timeout)' if self.timed_out else ''}: "
            f"created={self.created} successful={self.successful} failed={self.failed} "
            f"retransmissions={self.retransmissions} failures={self.failure_breakdown()}",
            "argv: " + " ".join(self.argv),
            f"run dir: {self.run_dir}",
        ]
        for pattern, limit in (("errors.log", 5000), ("calldebug.log", 3000), ("screen.log", 2500)):
            tail = self._tail(pattern, limit)
            if tail:
                parts.append(tail)
        if self.stderr.strip():
            parts.append(f"--- stderr ---\n{self.stderr[-3000:]}")
        return "\n".join(parts)

    def assert_calls(self, *, successful: int, failed: int = 0) -> None:
        """Exactly `successful` calls succeeded and `failed` failed (and SIPp agreed)."""
        ok = self.successful == successful and self.failed == failed and not self.timed_out
        if failed == 0:
            ok = ok and self.returncode == 0
        if not ok:
            raise SippError(
                f"expected {successful} successful / {failed} failed calls\n{self.report()}"
            )


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise RuntimeError("sipp not found: install Debian's sip-tester (scripts/setup.sh)")
    return path


def scenario(name: str) -> Path:
    """The path of one of our scenario files, `tests/sipp/scenarios/<name>.xml`."""
    path = SCENARIO_DIR / f"{name}.xml"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def _read_final_stats(path: Path) -> dict[str, str]:
    """The last row of SIPp's `-trace_stat` CSV as {column: value}."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    rows = [row for row in csv.reader(text.splitlines(), delimiter=";") if row]
    if len(rows) < 2:
        return {}
    header, last = rows[0], rows[-1]
    return dict(zip(header, last, strict=False))


async def run_sipp(
    args: list[str],
    *,
    target: str | None,
    workdir: Path,
    scenario_file: Path | None = None,
    builtin: str | None = None,
    kill_after: float = 60.0,
    name: str | None = None,
) -> SippResult:
    """Run sipp to completion and return its result (never raises on call failures).

    `args` are extra sipp options (`-m`, `-r`, `-l`, `-t`, `-d`, `-lost`, ...); the harness
    adds the scenario, loopback addresses, `-nostdin` and the trace files. `kill_after` is the
    wall-clock limit of the subprocess (then SIGUSR1, then SIGKILL); SIPp's own `-timeout`
    may be passed in `args`.
    """
    if (scenario_file is None) == (builtin is None):
        raise ValueError("give exactly one of scenario_file and builtin")
    label = name or (builtin or (scenario_file.stem if scenario_file else "sipp"))
    run_dir = workdir / f"sipp-{next(_run_ids):02d}-{label}"
    run_dir.mkdir(parents=True, exist_ok=True)
    stat_file = run_dir / "stats.csv"
    argv = [sipp_binary()]
    argv += ["-sn", builtin] if builtin is not None else ["-sf", str(scenario_file)]
    if target is not None:
        argv.append(target)
    argv += ["-i", LOOPBACK, "-nostdin"]
    if "-p" not in args:
        # Left to itself SIPp takes 5060 when it is free, the port another SIPp (or a
        # developer's server) on the machine may be using: pick a free one.
        argv += ["-p", str(free_port())]
    if "-mi" not in args:
        argv += ["-mi", LOOPBACK]
    argv += [
        "-trace_stat", "-stf", str(stat_file), "-fd", "1",
        "-trace_err", "-error_file", str(run_dir / "errors.log"),
        "-trace_screen", "-screen_file", str(run_dir / "screen.log"),
        "-trace_calldebug", "-calldebug_file", str(run_dir / "calldebug.log"),
    ]
    argv += args
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(run_dir),
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = await asyncio.wait_for(proc.communicate(), kill_after)
    except TimeoutError:
        # SIGUSR1 asks SIPp to stop placing calls and quit, dumping its final statistics;
        # calls still waiting on Timer B/F can hold it for another 32 s, so kill after 3 s.
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGUSR1)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 3.0)
        except TimeoutError:
            _kill_group(proc)
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:  # cancelled: never leave sipp behind
            _kill_group(proc)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
    (run_dir / "stdout.log").write_bytes(out)
    (run_dir / "stderr.log").write_bytes(err)
    return SippResult(
        argv=argv,
        returncode=proc.returncode if proc.returncode is not None else -1,
        run_dir=run_dir,
        stats=_read_final_stats(stat_file),
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        timed_out=timed_out,
    )


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class SippBackground:
    """A SIPp process (typically a UAS) running beside the test; stopped on exit."""

    argv: list[str]
    run_dir: Path
    proc: asyncio.subprocess.Process | None = None
    _log: list[Path] = field(default_factory=list)

    async def __aenter__(self) -> SippBackground:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / "stdout.log").open("wb") as out, (
            self.run_dir / "stderr.log"
        ).open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=str(self.run_dir), start_new_session=True,
            )
        await asyncio.sleep(0.3)
        if self.proc.returncode is not None:
            text = (self.run_dir / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"background sipp exited {self.proc.returncode}: {text[-2000:]}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 3.0)
            except TimeoutError:
                _kill_group(self.proc)
                await self.proc.wait()


def sipp_uas(port: int, workdir: Path, extra: list[str] | None = None) -> SippBackground:
    """SIPp's built-in UAS on loopback:`port` (for harness self-tests)."""
    run_dir = workdir / f"sipp-uas-{port}"
    argv = [
        sipp_binary(), "-sn", "uas", "-i", LOOPBACK, "-p", str(port), "-nostdin",
        "-trace_err", "-error_file", str(run_dir / "errors.log"),
        *(extra or []),
    ]
    return SippBackground(argv=argv, run_dir=run_dir)


class TlsBridge:
    """Loopback TCP listener whose connections are relayed over TLS to `tls_host:tls_port`."""

    def __init__(self, tls_host: str, tls_port: int) -> None:
        self.tls_host = tls_host
        self.tls_port = tls_port
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._context = ssl.create_default_context()
        # The test server's certificate is self-signed and made per test run.
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE

    async def __aenter__(self) -> TlsBridge:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        # Closing both ends ends the relays by themselves; cancelling a handler task that
        # asyncio.start_server made would make asyncio log the CancelledError.
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.tls_host, self.tls_port, ssl=self._context, server_hostname=self.tls_host
            )
            self._writers.add(up_writer)
            async with asyncio.TaskGroup() as group:
                group.create_task(_pipe(reader, up_writer))
                group.create_task(_pipe(up_reader, writer))
        except* (OSError, ssl.SSLError):
            pass  # either side went away: the relay ends, SIPp reports what it missed
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
                    self._writers.discard(w)
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()
