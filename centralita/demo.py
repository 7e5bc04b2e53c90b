"""`centralita demo`: one test call through the demo flow into a queue, to an agent's open desk.

A newcomer runs `bash scripts/run-server.sh` in one terminal and `centralita demo` in another,
and sees the whole path in two minutes: the IVR menu, the queue, the desk ringing with the
screen pop, the answered call with its live transcript, the case. The command:

1. checks the server answers (`GET /healthz`) and logs in as `admin` with the password the
   server wrote on first start (`DATA_DIR/admin-password`);
2. makes sure the agent (`ana` of routing/demo.yaml by default) can log in to the desk:
   a missing user is created with a random password, printed once for the newcomer;
3. waits until that agent is available (the desk's "Available" button), saying how;
4. places the call with pjsua2 (`centralita call`'s worker, a real SIP/RTP peer): it speaks a
   sentence (espeak-ng), presses the menu key of the queue and "wait for the next agent";
5. follows the call on the live board (in line, ringing, answered, wrap-up) and exits 0 once
   the agent answered and the call ended, 1 if nobody took it, 2 on a usage problem.

Only the demo's own choices are hard-coded (its menu keys); everything else comes from the
running server, so the command also says clearly what is missing (no server, no such queue,
a changed admin password).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

# ivr/flows/demo.yaml: the first menu's key for each queue, then "1: wait for the next agent".
MENU_KEYS = {"billing": "1", "support": "2"}
WAIT_KEY = "1"
# Seconds after the IVR answers: the welcome and the first words of the menu prompt have been
# heard (keys barge in), then the second menu is listening.
FIRST_KEY_AT = 3.0
SECOND_KEY_AT = 6.0
CALLER_SAYS = ("Hello, this is a test call from the Centralita demo. "
               "I would like to ask about my last invoice, please.")
POLL_S = 0.5

Say = Callable[[str], None]


class DemoError(Exception):
    """A precondition the newcomer can fix; the message says how."""


@dataclass(frozen=True)
class DemoOptions:
    """Where the server is and what the test call does."""

    sip: str = "127.0.0.1:5060"
    http: str = "http://127.0.0.1:8080"
    data_dir: Path = Path("data")
    queue: str = "support"
    agent: str = "ana"
    caller: str = "+34910000000"
    wait: float = 300.0  # for the agent to go available
    duration: float = 60.0  # the call's length after the IVR answers, unless hung up first


class AdminApi:
    """The server's HTTP API, logged in as admin (session cookie + CSRF token)."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self._http = http
        self._base = base.rstrip("/")
        self._csrf = ""

    async def healthy(self) -> bool:
        try:
            async with self._http.get(self._base + "/healthz") as reply:
                return reply.status == 200
        except (aiohttp.ClientError, OSError):
            return False

    async def login(self, password: str) -> None:
        async with self._http.post(self._base + "/api/login",
                                   json={"username": "admin", "password": password}) as reply:
            if reply.status != 200:
                raise DemoError(
                    f"the server refused admin's login ({reply.status}): the password in "
                    "DATA_DIR/admin-password is the first-start one; if it was changed, "
                    "give the data directory of a fresh server")
            self._csrf = str((await reply.json())["csrf"])

    async def get(self, path: str) -> Any:
        async with self._http.get(self._base + path) as reply:
            if reply.status != 200:
                raise DemoError(f"GET {path} answered {reply.status}: {await reply.text()}")
            return await reply.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self._http.post(self._base + path, json=body,
                                   headers={"X-CSRF-Token": self._csrf}) as reply:
            if reply.status not in (200, 201):
                raise DemoError(f"POST {path} answered {reply.status}: {await reply.text()}")
            return await reply.json()


def caller_audio(directory: Path) -> Path | None:
    """What the caller says, as 8 kHz mono WAV (espeak-ng + sox); None without those tools."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        return None
    raw, wav = directory / "caller.raw.wav", directory / "caller.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), CALLER_SAYS], check=True,
                   capture_output=True, timeout=30)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)],
                   check=True, capture_output=True, timeout=30)
    return wav


async def _agent_state(api: AdminApi, agent: str) -> str:
    board = await api.get("/api/routing/live")
    return str(board["agents"][agent]["state"])


async def prepare(api: AdminApi, options: DemoOptions, say: Say) -> None:
    """Log in, check the queue and agent, make the agent's login, wait until they are ready."""
    if not await api.healthy():
        raise DemoError(f"no server answers at {options.http}: start it with "
                        "`bash scripts/run-server.sh` (or give --http and --sip)")
    password_file = options.data_dir / "admin-password"
    try:
        password = password_file.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        raise DemoError(f"cannot read {password_file}: give --data-dir, the running server's "
                        "data directory (scripts/run-server.sh uses ./data)") from None
    await api.login(password)
    board = await api.get("/api/routing/live")
    if options.queue not in board["queues"]:
        raise DemoError(f"the server has no queue {options.queue!r} (it has "
                        f"{', '.join(sorted(board['queues']))}): was it started with "
                        "--routing routing/demo.yaml?")
    if options.agent not in board["agents"]:
        raise DemoError(f"the server has no agent {options.agent!r} (it has "
                        f"{', '.join(sorted(board['agents']))})")
    users = {u["name"] for u in (await api.get("/api/users"))["users"]}
    desk = f"{options.http.rstrip('/')}/desk"
    if options.agent not in users:
        secret = secrets.token_urlsafe(9)
        await api.post("/api/users", {"name": options.agent, "password": secret,
                                      "role": "agent"})
        say(f"Made the desk login {options.agent!r} with the password {secret} "
            f"(shown once; `centralita users passwd {options.agent}` changes it).")
    if await _agent_state(api, options.agent) == "available":
        say(f"{options.agent} is available in queue {options.queue}.")
        return
    if options.agent in users:
        say(f"(The desk login {options.agent!r} exists: use its password, or set a new one "
            f"with `centralita users passwd {options.agent} --data-dir {options.data_dir}`.)")
    say(f"Open {desk} in a browser, log in as {options.agent!r} and press Available.")
    say(f"Waiting up to {options.wait:g} s for {options.agent} to be available (Ctrl-C stops).")
    deadline = time.monotonic() + options.wait
    while await _agent_state(api, options.agent) != "available":
        if time.monotonic() > deadline:
            raise DemoError(f"{options.agent} did not go available within {options.wait:g} s")
        await asyncio.sleep(POLL_S)
    say(f"{options.agent} is available.")


async def follow(api: AdminApi, options: DemoOptions, call: asyncio.Task[Any],
                 say: Say) -> set[str]:
    """Say each change of the agent's state while the call lasts; the states seen."""
    seen: set[str] = set()
    last = ""
    words = {"reserved": "the desk rings (screen pop): answer it",
             "on_call": "answered: you are talking to the caller",
             "wrap_up": "the call ended: wrap-up on the desk",
             "available": "available again"}
    while not call.done():
        state = await _agent_state(api, options.agent)
        if state != last:
            seen.add(state)
            if last or state != "available":
                say(f"  {options.agent}: {words.get(state, state)}")
            last = state
        await asyncio.sleep(POLL_S)
    return seen


async def run_demo(options: DemoOptions, say: Say = print) -> int:
    """The whole demo; the exit status (0: an agent answered the call)."""
    from voice.pjsua.client import PjsuaError, place_call

    key = MENU_KEYS.get(options.queue)
    if key is None:
        raise DemoError(f"the demo flow's menu leads to {', '.join(MENU_KEYS)}, "
                        f"not {options.queue!r}")
    jar = aiohttp.CookieJar(unsafe=True)  # cookies from a bare IP address (127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=jar,
                                     timeout=aiohttp.ClientTimeout(total=10)) as http:
        api = AdminApi(http, options.http)
        await prepare(api, options, say)
        with tempfile.TemporaryDirectory(prefix="centralita-demo-") as tmp:
            wav = caller_audio(Path(tmp))
            say(f"Calling sip:demo@{options.sip}: the menu, key {key} ({options.queue}), "
                f"key {WAIT_KEY} (wait for an agent)...")
            call = asyncio.ensure_future(place_call(
                f"sip:demo@{options.sip}", from_user=options.caller, play=wav,
                dtmf_at=((FIRST_KEY_AT, key), (SECOND_KEY_AT, WAIT_KEY)),
                duration=options.duration, answer_timeout=15.0))
            try:
                seen = await follow(api, options, call, say)
                result = await call
            except PjsuaError as exc:
                raise DemoError(f"the test caller (pjsua2) failed: {exc}") from exc
            finally:
                if not call.done():
                    call.cancel()
                    with contextlib.suppress(BaseException):
                        await call
    if not result.connected:
        say(f"The call did not connect: {result.status} {result.reason}")
        return 1
    if "on_call" not in seen:
        say(f"The call ended after {result.duration:.0f} s without {options.agent} answering.")
        return 1
    say(f"Done: {options.agent} took the call; its transcript and IVR inputs are on the "
        "caller's case (the desk's timeline).")
    return 0


def add_demo_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `demo` subcommand to the `centralita` command."""
    defaults = DemoOptions()
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="place a test call into a demo queue while an agent's desk is open",
        description="Place one test call through the demo flow into a queue and follow it to "
        "an agent's open desk (the server must run with the demo flow and routing: "
        "bash scripts/run-server.sh). Exit 0 once the agent answered and the call ended.")
    parser.add_argument("--sip", default=defaults.sip, metavar="HOST:PORT",
                        help=f"the server's SIP address (default {defaults.sip})")
    parser.add_argument("--http", default=defaults.http, metavar="URL",
                        help=f"the server's HTTP base URL (default {defaults.http})")
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir,
                        help="the server's data directory, for its admin password (default "
                        "./data, as scripts/run-server.sh)")
    parser.add_argument("--queue", choices=sorted(MENU_KEYS), default=defaults.queue)
    parser.add_argument("--agent", default=defaults.agent,
                        help=f"the agent whose desk takes the call (default {defaults.agent})")
    parser.add_argument("--wait", type=float, default=defaults.wait, metavar="S",
                        help="how long to wait for the agent to go available")
    parser.add_argument("--duration", type=float, default=defaults.duration, metavar="S",
                        help="the caller hangs up S seconds after the IVR answered")
    return parser


def run_demo_command(args: argparse.Namespace) -> int:
    """Run a parsed `demo` subcommand."""
    options = DemoOptions(sip=args.sip, http=args.http, data_dir=args.data_dir,
                          queue=args.queue, agent=args.agent, wait=args.wait,
                          duration=args.duration)
    try:
        return asyncio.run(run_demo(options, lambda line: print(line, flush=True)))
    except DemoError as exc:
        print(f"centralita demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
