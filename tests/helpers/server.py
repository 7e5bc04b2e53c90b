"""Start and stop a real `python -m centralita serve` on free loopback ports.

`ServerProcess` is an async context manager: entering it starts the server in a fresh data
directory and waits for `GET /healthz` to answer 200; leaving it sends SIGTERM, waits, then
SIGKILLs. The server's stdout/stderr go to files in the log directory (the test's tmp dir),
so nothing blocks on a full pipe and the logs survive a failed test. If the server does not
come up in time, `ServerStartError` carries the tail of its stderr.

Every HTTP route but `/healthz` needs credentials: each server gets an admin bearer token
through its config file (`auth.tokens`); send `server.auth_headers` with API requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


class ServerStartError(RuntimeError):
    """The server exited or did not report healthy in time; the message holds its stderr."""


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Below the RTP blocks (random_rtp_block) when the kernel leaves too little above its range.
FALLBACK_PORTS = (10000, 11999)


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the ports it picks itself (connect, bind to port 0)."""
    try:
        low, high = (int(x) for x in EPHEMERAL_RANGE.read_text().split()[:2])
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def _port_slice() -> range:
    """The ports this process picks from: above the kernel's ephemeral range, so no client
    socket (ours, SIPp's, a database driver's) can be handed one of them between the pick and
    the server's bind; cut into one slice per xdist worker, so two workers never pick the same
    port. Seen twice in one CI run, with ports the kernel picked: a server that could not bind
    its SIP port, and a test whose requests reached another worker's server on its HTTP port."""
    ephemeral_high = _ephemeral_range()[1]
    low, high = (ephemeral_high + 1, 65534) if 65534 - ephemeral_high >= 1000 else FALLBACK_PORTS
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size = (high - low) // max(workers, 1)
    start = low + (worker % max(workers, 1)) * size
    return range(start, start + size)


_PORTS = _port_slice()
# Round-robin from a random place: a port comes back only after the whole slice went by.
_next_port = random.randrange(len(_PORTS))


def _take(count: int) -> int:
    """The next port of the slice, round-robin; `count` ports are passed over (2: a pair)."""
    global _next_port
    port = _PORTS[_next_port % len(_PORTS)]
    _next_port += count
    return port


def _bindable(port: int, kinds: tuple[int, ...]) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def free_port(kind: int = socket.SOCK_DGRAM, *, also_tcp: bool = True) -> int:
    """A loopback port free for `kind` (and for the other of UDP/TCP when `also_tcp`) at the
    time of the call, from this process's slice (`_port_slice`)."""
    other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
    kinds = (kind, other) if also_tcp else (kind,)
    for _ in range(len(_PORTS)):
        port = _take(1)
        if _bindable(port, kinds):
            return port
    raise RuntimeError(f"no free loopback port in {_PORTS.start}-{_PORTS.stop - 1}")


def free_sip_port() -> int:
    """A port P with P free for UDP and TCP and P+1 free for TCP (SIP TLS listens there)."""
    for _ in range(len(_PORTS)):
        port = _take(2)
        if (
            port + 1 < _PORTS.stop
            and _bindable(port, (socket.SOCK_DGRAM, socket.SOCK_STREAM))
            and _bindable(port + 1, (socket.SOCK_STREAM,))
        ):
            return port
    raise RuntimeError("no free SIP port pair found")


def free_media_port(calls: int = 1) -> int:
    """An even port P for SIPp's `-mp`: SIPp binds its calls' RTP ports from P upwards (up to
    4 a call), a block `free_port` cannot give (it hands out single ports from a small slice,
    one after another, so a block there would run into the next test's server). Picked inside
    the kernel's ephemeral range instead, below its top by the block's size: clear of the
    `free_port` slices above it and of the servers' RTP blocks (`random_rtp_block`) below it;
    only client sockets compete there, for a port at a time."""
    low, high = _ephemeral_range()
    span = 4 * max(calls, 1) + 4
    for _ in range(200):
        port = random.randrange(low, high - span, 2)
        if _bindable(port, (socket.SOCK_DGRAM,)) and _bindable(port + 1, (socket.SOCK_DGRAM,)):
            return port
    raise RuntimeError("no free media port found")


def make_self_signed_cert(directory: Path, host: str = LOOPBACK) -> tuple[Path, Path]:
    """Write a self-signed certificate and key (PEM) into `directory`, as the server makes."""
    from centralita.tls import self_signed

    cert_path = directory / "tls-cert.pem"
    key_path = directory / "tls-key.pem"
    self_signed(cert_path, key_path, host="localhost")
    return cert_path, key_path


@dataclass
class ServerOptions:
    """What the test wants from the server beyond free ports and a fresh data dir."""

    config: dict[str, Any] = field(default_factory=dict)
    demo_hangup_after: float | None = None
    debug_api: bool = True
    tls: bool = True
    extra_args: list[str] = field(default_factory=list)
    # Seen: 6-9 s to /healthz on a 2-core machine, over 20 s with three xdist workers and
    # other loads on it (13 of 47 e2e tests failed so); a healthy start returns at once.
    startup_timeout: float = 60.0
    # None: a random block of 2,000 ports outside the default 20000-30000, so servers that
    # other suites or a developer run at the same time do not take each other's RTP ports
    # (seen: 503 "no media ports" when two loaded servers walked the same range in step).
    rtp_ports: tuple[int, int] | None = None


class ServerProcess:
    """One running `centralita serve`; use `async with ServerProcess(tmp, opts) as srv:`."""

    def __init__(self, workdir: Path, options: ServerOptions | None = None) -> None:
        self.workdir = workdir
        self.options = options or ServerOptions()
        self.sip_port = free_sip_port()
        self.tls_port = self.sip_port + 1
        self.http_port = free_port(socket.SOCK_STREAM, also_tcp=False)
        self.data_dir = workdir / "server-data"
        self.stdout_path = workdir / "server.stdout.log"
        self.stderr_path = workdir / "server.stderr.log"
        self.cert_path: Path | None = None
        self.key_path: Path | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.argv: list[str] = []
        self.api_token = "ctk_tests_" + secrets.token_urlsafe(32)

    @property
    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer` with this server's admin token (from its config file)."""
        return {"Authorization": f"Bearer {self.api_token}"}

    @property
    def database_url(self) -> str:
        """Where this server keeps its cases: `cases_url` from its config, else its SQLite
        file (read it with `tests.helpers.databases.rows`)."""
        configured = self.options.config.get("cases_url")
        if configured:
            return str(configured)
        return f"sqlite:///{self.data_dir.resolve() / 'cases.db'}"

    @property
    def sip_target(self) -> str:
        return f"{LOOPBACK}:{self.sip_port}"

    @property
    def http_base(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the server is not running")
        return self.proc.pid

    def stderr_tail(self, limit: int = 6000) -> str:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no stderr file)"
        return text[-limit:] if text else "(stderr empty)"

    def _build_argv(self) -> list[str]:
        argv = [
            sys.executable, "-m", "centralita", "serve",
            "--sip-listen", self.sip_target,
            "--http-listen", f"{LOOPBACK}:{self.http_port}",
            "--data-dir", str(self.data_dir),
        ]
        config = dict(self.options.config)
        token_file = self.workdir / "api-token"
        token_file.write_text(self.api_token + "\n", encoding="utf-8")
        auth = dict(config.get("auth", {}))
        auth["tokens"] = [
            *auth.get("tokens", []),
            {"name": "tests", "role": "admin", "token_file": str(token_file)},
        ]
        config["auth"] = auth
        if self.options.tls:
            self.cert_path, self.key_path = make_self_signed_cert(self.workdir)
            argv += ["--tls-cert", str(self.cert_path), "--tls-key", str(self.key_path)]
        config_path = self.workdir / "centralita.yaml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        argv += ["--config", str(config_path)]
        if self.options.demo_hangup_after is not None:
            argv += ["--demo-hangup-after", f"{self.options.demo_hangup_after:g}"]
        if self.options.debug_api:
            argv.append("--debug-api")
        low, high = self.options.rtp_ports or random_rtp_block()
        argv += ["--rtp-ports", f"{low}-{high}"]
        return argv + self.options.extra_args

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.argv = self._build_argv()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("PYTHONUNBUFFERED", "1")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=str(self.workdir), env=env, start_new_session=True,
            )
        try:
            await self._wait_healthy()
        except BaseException:
            await self.stop()
            raise

    async def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.options.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise ServerStartError(
                    f"server exited with {self.proc.returncode} before /healthz answered\n"
                    f"argv: {' '.join(self.argv)}\n--- stderr ---\n{self.stderr_tail()}"
                )
            status, body = await http_get(self.http_base + "/healthz", limit=1.0)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200]!r}" if status else body
            await asyncio.sleep(0.1)
        raise ServerStartError(
            f"server not healthy after {self.options.startup_timeout:g}s (last: {last})\n"
            f"argv: {' '.join(self.argv)}\n--- stderr ---\n{self.stderr_tail()}"
        )

    async def stop(self, term_timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to `term_timeout`, then SIGKILL; always reaps the process."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), term_timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        return proc.returncode

    async def __aenter__(self) -> ServerProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def debug_calls(self) -> list[dict[str, Any]]:
        """`GET /api/debug/calls` (the server must run with --debug-api)."""
        status, body = await http_get(
            self.http_base + "/api/debug/calls", limit=5.0, headers=self.auth_headers
        )
        if status != 200:
            raise AssertionError(f"/api/debug/calls answered {status}: {body[:500]}")
        calls = json.loads(body)
        if not isinstance(calls, list):
            raise AssertionError(f"/api/debug/calls is not a list: {body[:500]}")
        return calls

    def cpu_seconds(self) -> float:
        """utime + stime of the server process, from /proc/PID/stat."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return ticks / os.sysconf("SC_CLK_TCK")


def random_rtp_block(size: int = 2000) -> tuple[int, int]:
    # Below the kernel's ephemeral range (32768-60999 here): ports the kernel hands to other
    # sockets (SIPp, pjsua2, clients) would otherwise make RTP binds fail at random.
    low = random.randrange(12000, 32000 - size, 2)
    return low, low + size


def _blocking_get(url: str, timeout: float, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - loopback
            return int(resp.status), resp.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


async def http_get(
    url: str, limit: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """GET on loopback without blocking the loop: (status, body); status 0 = no connection."""
    return await asyncio.to_thread(_blocking_get, url, limit, headers or {})


def loopback_config(data_dir: Path) -> str:
    """The YAML head of a config file for an in-process `Server` on free loopback ports, its
    own RTP block and `data_dir`, transcription off; a test appends its own sections."""
    low, high = random_rtp_block()
    return (
        f'sip_listen: "{LOOPBACK}:{free_sip_port()}"\n'
        f'http_listen: "{LOOPBACK}:{free_port(socket.SOCK_STREAM, also_tcp=False)}"\n'
        f'data_dir: "{data_dir}"\n'
        f"rtp_port_min: {low}\n"
        f"rtp_port_max: {high}\n"
        'transcription: "off"\n'
    )
