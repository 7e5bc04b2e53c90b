"""bench/soak.py's data traffic and its kill / restart drills (a helper module, not a script).

`SmsPoster` sends signed inbound Twilio SMS webhooks (the twilio package's RequestValidator,
as Twilio signs them) to a running server at a steady rate and remembers which MessageSids
were acknowledged (answered 200, which the server does only once the message is committed)
and which were not (an error, a refused connection while the server was down, a timeout).
`stored_sids` reads what the server's SQLite database holds. `run_drills` kills a loaded
server (SIGKILL; the last round SIGTERM), restarts it on the same data directory and ports,
and compares the two after every restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from channels.twilio_messaging import INBOUND_PATH
from tests.helpers.server import ServerOptions, ServerProcess, ServerStartError

ACCOUNT = "AC" + "5" * 32
TOKEN = "soak-drill-auth-token"
PUBLIC = "https://contact.example.test"
OUR_NUMBER = "+34910000000"
CUSTOMERS = 50


def twilio_config() -> dict[str, object]:
    """The server's `twilio:` section for inbound webhooks signed with TOKEN."""
    return {"twilio": {"account_sid": ACCOUNT, "auth_token": TOKEN, "public_url": PUBLIC,
                       "sms_number": OUR_NUMBER}}


class SmsPoster:
    """Inbound SMS webhooks at `rate` per second to whatever `base()` names now."""

    def __init__(self, base: Callable[[], str], rate: float) -> None:
        self.base = base
        self.rate = rate
        self.acked: list[str] = []
        self.unacked: list[str] = []
        self._validator = RequestValidator(TOKEN)
        self._sent = 0
        self._inflight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Until cancelled; each webhook in its own task so a dead server does not stall it."""
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            started = time.monotonic()
            try:
                while True:
                    self._sent += 1
                    task = asyncio.create_task(self._post(http, self._sent))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                    await asyncio.sleep(max(0.0, started + self._sent / self.rate
                                            - time.monotonic()))
            finally:
                # Let the requests on the wire finish: their outcome decides acked/unacked.
                if self._inflight:
                    await asyncio.wait(set(self._inflight), timeout=15)
                for task in set(self._inflight):
                    task.cancel()

    async def _post(self, http: aiohttp.ClientSession, n: int) -> None:
        sid = "SM" + secrets.token_hex(16)
        params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT,
                  "From": f"+346{10000000 + n % CUSTOMERS:08d}", "To": OUR_NUMBER,
                  "Body": f"Mensaje {n}: sigo esperando el pedido", "NumMedia": "0",
                  "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        signature = self._validator.compute_signature(PUBLIC + INBOUND_PATH, params)
        try:
            async with http.post(self.base() + INBOUND_PATH, data=urlencode(params), headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature}) as response:
                await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
            ok = False
        (self.acked if ok else self.unacked).append(sid)


def stored_sids(data_dir: Path) -> set[str]:
    """Every inbound SMS MessageSid in the server's SQLite database."""
    uri = f"file:{data_dir / 'cases.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        rows = db.execute("SELECT external_id FROM messages "
                          "WHERE direction = 'inbound' AND external_id IS NOT NULL").fetchall()
    return {str(row[0]) for row in rows}


# The stretch after the last restart waits this long at most for a call to complete.
LAST_STRETCH_MAX_S = 40.0


@dataclass
class DrillRound:
    number: int
    signal: str
    acked: int  # acknowledged so far, all rounds
    missing: int  # of those, not in the database after the restart
    stored_unacked: int  # stored although the webhook got no 200 (a retry would dedupe)
    down_s: float  # from the signal to /healthz answering again
    completed: int  # SIPp calls completed so far
    failed: int


SippStart = Callable[[str], Awaitable[asyncio.subprocess.Process]]
SippStop = Callable[[asyncio.subprocess.Process, float], Awaitable[None]]


async def _kill(server: ServerProcess, how: signal.Signals) -> None:
    proc = server.proc
    assert proc is not None
    if how is signal.SIGKILL:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    else:
        await server.stop(term_timeout=30.0)


async def run_drills(workdir: Path, options: Callable[[dict[str, object]], ServerOptions],
                     start_sipp: SippStart, stop_sipp: SippStop,
                     sipp_counts: Callable[[Path], dict[str, int]], *, rounds: int,
                     seconds: float, sms_rate: float) -> list[DrillRound]:
    """`rounds` kills (the last one SIGTERM) of a server under calls and SMS webhooks."""
    server = ServerProcess(workdir, options(twilio_config()))
    try:
        await server.start()
    except ServerStartError as exc:
        print(f"soak drill: the server did not start:\n{exc}")
        return []
    sipp = await start_sipp(server.sip_target)
    poster = SmsPoster(lambda: server.http_base, sms_rate)
    posting = asyncio.create_task(poster.run())
    results: list[DrillRound] = []
    try:
        for number in range(1, rounds + 1):
            await asyncio.sleep(seconds)
            how = signal.SIGTERM if number == rounds else signal.SIGKILL
            began = time.monotonic()
            await _kill(server, how)
            # Keep each life's logs.
            for path in (server.stderr_path, server.stdout_path):
                with contextlib.suppress(OSError):
                    path.rename(path.with_suffix(f".{number}.log"))
            try:
                await server.start()
            except ServerStartError as exc:
                print(f"soak drill: round {number}: the server did not come back:\n{exc}")
                break
            down = time.monotonic() - began
            acked = set(poster.acked)  # before the read: each was committed before its 200
            stored = stored_sids(server.data_dir)
            counts = sipp_counts(workdir)
            results.append(DrillRound(
                number=number, signal=how.name, acked=len(acked),
                missing=len(acked - stored), stored_unacked=len(stored & set(poster.unacked)),
                down_s=down, completed=counts["completed"], failed=counts["failed"]))
            print(f"  round {number}: {how.name}, back in {down:.1f} s, {len(acked)} acked, "
                  f"{len(acked - stored)} missing", flush=True)
        # A last stretch on the restarted server: calls and webhooks are taken again. At
        # least `seconds`, and on until a call completes (up to LAST_STRETCH_MAX_S): SIPp's
        # calls caught by the restart hold their places (-l) until its 10 s receive timeout,
        # so a short stretch could see none complete (CI: 0 in 8 s, 15 soon after).
        began = time.monotonic()
        before = sipp_counts(workdir)["completed"], len(poster.acked)
        await asyncio.sleep(seconds)
        for _ in range(int(LAST_STRETCH_MAX_S - seconds)):  # SIPp's stats file, polled
            if sipp_counts(workdir)["completed"] != before[0]:
                break
            await asyncio.sleep(1.0)
        after = sipp_counts(workdir)["completed"], len(poster.acked)
        print(f"  after the last restart: {after[0] - before[0]} calls completed, "
              f"{after[1] - before[1]} messages acked in {time.monotonic() - began:.0f} s",
              flush=True)
    finally:
        posting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await posting
        await stop_sipp(sipp, 70.0)
        final: dict[str, Any] = {}
        if server.proc is not None and server.proc.returncode is None:
            final["stored"] = stored_sids(server.data_dir)
        await server.stop()
    if results and "stored" in final:
        acked_all = set(poster.acked)
        counts = sipp_counts(workdir)
        results.append(DrillRound(
            number=len(results) + 1, signal="end", acked=len(acked_all),
            missing=len(acked_all - final["stored"]),
            stored_unacked=len(final["stored"] & set(poster.unacked)), down_s=0.0,
            completed=counts["completed"], failed=counts["failed"]))
    return results
