"""Asyncio side of the pjsua2 worker: place calls, run a listener, the ``call`` CLI.

Every worker process started here is awaited before the coroutine or context
returns, whatever happened (timeout, cancellation, a failing test): first
SIGTERM (the worker hangs up and closes its WAV files), then SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections import deque
from types import TracebackType
from typing import Any

from voice.pjsua.protocol import CallEnded, CallResult, ProtocolError, Ready, parse_event

_TERM_GRACE_S = 5.0
# Headroom on top of the call's own timers for process start and teardown.
_CALL_SLACK_S = 15.0
_STDERR_TAIL_LINES = 40


class PjsuaError(RuntimeError):
    """The worker failed without producing the expected JSON.

    ``stderr`` holds the tail of what PJSIP and Python printed there.
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message if not stderr else f"{message}\n--- worker stderr ---\n{stderr}")
        self.stderr = stderr


class PjsuaTimeoutError(PjsuaError):
    """The worker did not finish (or get ready) in time and was stopped."""


async def _spawn(*args: str, stderr: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voice.pjsua.worker",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, wait, SIGKILL, and always reap."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), _TERM_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    await proc.wait()


def call_args(
    uri: str,
    *,
    play: str | os.PathLike[str] | None = None,
    record: str | os.PathLike[str] | None = None,
    dtmf: str | None = None,
    dtmf_delay: float = 1.0,
    dtmf_at: tuple[tuple[float, str], ...] = (),
    duration: float = 5.0,
    answer_timeout: float = 30.0,
    bind: str | None = None,
    transport: str = "udp",
    from_user: str = "caller",
) -> list[str]:
    """The worker's ``call`` command line for these options."""
    args = [
        "call",
        uri,
        "--duration",
        str(duration),
        "--timeout",
        str(answer_timeout),
        "--transport",
        transport,
        "--from",
        from_user,
    ]
    if play is not None:
        args += ["--play", os.fspath(play)]
    if record is not None:
        args += ["--record", os.fspath(record)]
    if dtmf:
        args += ["--dtmf", dtmf, "--dtmf-delay", str(dtmf_delay)]
    for at, digits in dtmf_at:
        args += ["--dtmf-at", f"{at}:{digits}"]
    if bind is not None:
        args += ["--bind", bind]
    return args


async def place_call(
    uri: str,
    *,
    play: str | os.PathLike[str] | None = None,
    record: str | os.PathLike[str] | None = None,
    dtmf: str | None = None,
    dtmf_delay: float = 1.0,
    dtmf_at: tuple[tuple[float, str], ...] = (),
    duration: float = 5.0,
    answer_timeout: float = 10.0,
    timeout: float | None = None,  # noqa: ASYNC109 - the brief's API; maps to a typed error
    bind: str | None = None,
    transport: str = "udp",
    from_user: str = "caller",
) -> CallResult:
    """Dial ``uri`` from a fresh pjsua2 worker and return how the call went.

    ``play`` is a WAV sent once answered; ``record`` a WAV of what the far end
    sent, from the moment media is up; ``dtmf`` digits go out as RFC 4733 events
    ``dtmf_delay`` s after answer; the worker hangs up ``duration`` s after
    answer, or cancels after ``answer_timeout`` s unanswered.  ``timeout``
    bounds the whole process (default: the call's own timers plus slack).

    A call that fails at the SIP level is a result (``connected=False``), not an
    exception; :class:`PjsuaError` means the worker itself broke and
    :class:`PjsuaTimeoutError` that it overran ``timeout``.
    """
    if timeout is None:
        timeout = answer_timeout + duration + _CALL_SLACK_S
    args = call_args(
        uri,
        play=play,
        record=record,
        dtmf=dtmf,
        dtmf_delay=dtmf_delay,
        dtmf_at=dtmf_at,
        duration=duration,
        answer_timeout=answer_timeout,
        bind=bind,
        transport=transport,
        from_user=from_user,
    )
    proc = await _spawn(*args, stderr=asyncio.subprocess.PIPE)
    try:
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            raise PjsuaTimeoutError(f"pjsua worker still running after {timeout:g} s") from None
    finally:
        await _stop(proc)
    stderr_tail = _tail(err.decode(errors="replace"))
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise PjsuaError(f"pjsua worker exited {proc.returncode} without a result", stderr_tail)
    try:
        result = CallResult.parse(lines[-1])
    except ProtocolError as exc:
        raise PjsuaError(f"pjsua worker printed a bad result: {exc}", stderr_tail) from exc
    # 0 and 1 are the worker's answers; anything else (an abort in PJSIP's
    # teardown, a signal) is a broken peer even if it printed a result first.
    if proc.returncode not in (0, 1):
        raise PjsuaError(f"pjsua worker exited {proc.returncode} after {result}", stderr_tail)
    return result


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-_STDERR_TAIL_LINES:])


class PjsuaListener:
    """An auto-answering pjsua2 UAS in a worker process, as an async context.

    ``async with PjsuaListener(0, record=tmp / "heard.wav") as peer:`` starts
    ``listen``, waits for its ready line, and sets :attr:`port` / :attr:`uri`;
    :meth:`next_call` returns each :class:`CallEnded` as it is printed.  On exit
    the worker is terminated and awaited; calls it ended while shutting down
    are appended to :attr:`events`, and a worker that did not exit cleanly
    raises :class:`PjsuaError` (unless the block already raised).  ``record`` may contain ``{n}`` for the call
    number (see :func:`voice.pjsua.uas.recording_path`).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        record: str | os.PathLike[str] | None = None,
        play: str | os.PathLike[str] | None = None,
        answer_after: float = 0.0,
        reject: int = 0,
        max_calls: int = 0,
        duration: float = 0.0,
        transport: str = "udp",
        ready_timeout: float = 10.0,
    ) -> None:
        self._args = [
            "listen",
            "--bind",
            f"{host}:{port}",
            "--transport",
            transport,
            "--answer-after",
            str(answer_after),
            "--max-calls",
            str(max_calls),
            "--duration",
            str(duration),
        ]
        if record is not None:
            self._args += ["--record", os.fspath(record)]
        if play is not None:
            self._args += ["--play", os.fspath(play)]
        if reject:
            self._args += ["--reject", str(reject)]
        self.host = host
        self.port = port
        self.transport = transport
        self.events: list[CallEnded] = []
        self.returncode: int | None = None
        """The worker's exit status once the context has exited (0: clean)."""
        self._ready_timeout = ready_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
        self._drain: asyncio.Task[None] | None = None

    @property
    def uri(self) -> str:
        """A SIP URI that reaches this listener."""
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:listener@{self.host}:{self.port}{suffix}"

    @property
    def stderr(self) -> str:
        """The last lines the worker wrote to stderr."""
        return "\n".join(self._stderr)

    async def __aenter__(self) -> PjsuaListener:
        self._proc = await _spawn(*self._args, stderr=asyncio.subprocess.PIPE)
        self._drain = asyncio.create_task(self._drain_stderr(self._proc))
        try:
            line = await asyncio.wait_for(self._readline(), self._ready_timeout)
            if line is None:
                raise PjsuaError("pjsua listener exited before it was ready", self.stderr)
            self.port = Ready.parse(line).port
        except TimeoutError:
            await self._close()
            raise PjsuaTimeoutError("pjsua listener not ready in time", self.stderr) from None
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()
        if exc_type is None and self.returncode != 0:
            raise PjsuaError(f"pjsua listener exited {self.returncode}", self.stderr)

    async def next_call(self, timeout: float = 30.0) -> CallEnded:  # noqa: ASYNC109
        """Wait for the next ``call_ended`` line; it is also appended to :attr:`events`."""
        try:
            line = await asyncio.wait_for(self._readline(), timeout)
        except TimeoutError:
            raise PjsuaTimeoutError(f"no call ended within {timeout:g} s") from None
        if line is None:
            raise PjsuaError("pjsua listener exited", self.stderr)
        event = parse_event(line)
        if not isinstance(event, CallEnded):
            raise PjsuaError(f"unexpected listener event {event!r}")
        self.events.append(event)
        return event

    async def _readline(self) -> bytes | None:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        return line or None

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        # Must keep reading: a full stderr pipe would block PJSIP's logger.
        assert proc.stderr is not None
        async for raw in proc.stderr:
            self._stderr.append(raw.decode(errors="replace").rstrip())

    async def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            await _stop(proc)
            self.returncode = proc.returncode
            assert proc.stdout is not None
            for line in (await proc.stdout.read()).splitlines():
                event = parse_event(line)
                if isinstance(event, CallEnded):
                    self.events.append(event)
        finally:
            if self._drain is not None:
                # The pipe is at EOF once the process is gone; bounded wait anyway.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain, _TERM_GRACE_S)
                self._drain = None


# -- `centralita call` ---------------------------------------------------------


def add_call_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``call`` subcommand to a CLI's ``add_subparsers()`` object.

    ``centralita call SIP_URI [--play WAV] [--record WAV] [--dtmf DIGITS]
    [--dtmf-delay S] [--duration S] [--timeout S] [--transport udp|tcp]
    [--from USER]``; sets ``func=run_call_command`` as the default.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "call",
        help="dial a SIP URI with pjsua2, play a WAV, record what is heard",
        description="Place one test call through pjsua2 (a real SIP/RTP peer) and print "
        "its outcome as one JSON line. Exit status 0 when the call connected.",
    )
    parser.add_argument("uri", metavar="SIP_URI")
    parser.add_argument("--play", metavar="WAV", help="WAV to play into the call once answered")
    parser.add_argument("--record", metavar="WAV", help="WAV to record what the far end sends")
    parser.add_argument("--dtmf", metavar="DIGITS", help="digits to send as RFC 4733 events")
    parser.add_argument(
        "--dtmf-delay",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds after answer before sending DTMF (default 1)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds after answer before hanging up (default 10)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="give up if not answered within S seconds (default 30)",
    )
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--from", dest="from_user", default="caller", metavar="USER")
    parser.set_defaults(func=run_call_command)
    return parser


def run_call_command(args: argparse.Namespace) -> int:
    """Run a parsed ``call`` subcommand; print the result JSON; return the exit code."""
    try:
        result = asyncio.run(
            place_call(
                args.uri,
                play=args.play,
                record=args.record,
                dtmf=args.dtmf,
                dtmf_delay=args.dtmf_delay,
                duration=args.duration,
                answer_timeout=args.timeout,
                transport=args.transport,
                from_user=args.from_user,
            )
        )
    except PjsuaError as exc:
        print(f"centralita call: {exc}", file=sys.stderr)
        return 2
    print(result.to_json())
    return 0 if result.connected else 1
