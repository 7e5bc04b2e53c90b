"""Concurrent web-chat visitors one server process holds, and message delivery latency.

    python3 bench/chat_sockets.py [--visitors 2000] [--rate 50] [--seconds 10] [--concurrency 32]

A real `centralita serve` (SQLite, a `chat:` section with a site secret) in its own process;
this process plays the visitors: `--visitors` WebSockets on /api/chat/ws, each saying hello
as a site-identified user (`user_id` + its HMAC), so each has its own customer and case. With
every socket open and idle (the server holding them all), it measures:

  first line         each visitor's first line, `--concurrency` at a time (it opens the chat
                     interaction on the case): how fast a crowd arriving at once is taken in;
  then, for `--seconds`, steady paced traffic on the open conversations (`--rate` lines a
  second each way; 50/s is every one of 2,000 visitors writing every 40 s and being answered):
  visitor → server   latency from a visitor's line to its `receipt` frame (the line is
                     stored on the case and published by then);
  agent → visitor    an agent's `POST /api/cases/{id}/chat` (the admin token): latency from
                     the request to the `line` frame arriving on that visitor's socket, the
                     delivery the visitor sees.

It also prints the server's RSS with every socket open. The case ids are read from the
server's SQLite file (the bench's own bookkeeping; no API lists cases by identity).

Target (issue 10): >= 2,000 concurrent chat sockets with p99 delivery <= 100 ms. It measures,
it does not judge: exit 0 once figures are printed, 1 if the server can't be started.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.helpers.server import ServerOptions, ServerProcess, ServerStartError  # noqa: E402

SITE_SECRET = "bench-site-secret-0123456789abcdef"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def _figures(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:16} no samples"
    return (f"{label:16} n={len(values):5d}  p50 {statistics.median(values) * 1000:6.1f} ms  "
            f"p99 {_pct(values, 0.99):6.1f} ms  max {max(values) * 1000:6.1f} ms")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class Visitor:
    """One open widget socket; `frames` gets every frame after the welcome."""

    def __init__(self, index: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.user_id = f"bench-user-{index}"
        self.ws = ws
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            key = {"receipt": frame.get("client_id"), "line": frame.get("body")}.get(
                frame.get("type"))
            future = self.waiting.pop(key, None) if isinstance(key, str) else None
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    def expect(self, key: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        return future


async def _connect(http: aiohttp.ClientSession, url: str, index: int) -> Visitor:
    ws = await http.ws_connect(url, heartbeat=None, max_msg_size=0)
    user_id = f"bench-user-{index}"
    digest = hmac.new(SITE_SECRET.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    await ws.send_json({"type": "hello", "user_id": user_id, "user_hash": digest})
    welcome = json.loads((await ws.receive(timeout=30)).data)
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"visitor {index}: expected welcome, got {welcome.get('type')}")
    return Visitor(index, ws)


async def run(args: argparse.Namespace, workdir: Path) -> int:
    (workdir / "site.key").write_text(SITE_SECRET + "\n")
    options = ServerOptions(debug_api=False, tls=False, config={
        "chat": {"site_secret_files": [str(workdir / "site.key")],
                 "rate": {"lines": 1000, "per_seconds": 60}},
        # One process plays every visitor, from one address: the per-address socket budget
        # (web.ratelimit) would stop the crowd this bench measures.
        "api_limits": {"enabled": False},
    })
    server = ServerProcess(workdir, options)
    try:
        await server.start()
    except ServerStartError as exc:
        print(f"server did not start: {exc}", file=sys.stderr)
        return 1
    try:
        url = server.http_base + "/api/chat/ws"
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            gate = asyncio.Semaphore(args.concurrency)

            async def connect(i: int) -> Visitor:
                async with gate:
                    return await _connect(http, url, i)

            began = time.perf_counter()
            visitors = await asyncio.gather(*(connect(i) for i in range(args.visitors)))
            opened = time.perf_counter() - began
            print(f"{len(visitors)} sockets open in {opened:.1f} s; "
                  f"server RSS {_rss_mib(server.pid):.0f} MiB")

            async def say(v: Visitor, round_: int) -> float:
                async with gate:
                    key = f"r{round_}-" + v.user_id.rsplit("-", 1)[1]
                    arrived = v.expect(key)
                    sent = time.perf_counter()
                    await v.ws.send_json({"type": "message", "id": key, "body": "hola"})
                    return await asyncio.wait_for(arrived, 30) - sent

            # The first line opens each customer's chat on their case (a burst, `concurrency`
            # at a time: how fast a crowd arriving at once is taken in).
            began = time.perf_counter()
            first = await asyncio.gather(*(say(v, 0) for v in visitors))
            took = time.perf_counter() - began
            print(_figures("first line", list(first)) + f"  ({len(first) / took:.0f} lines/s)")

            cases = _cases_by_user(server.data_dir)

            async def agent_line(v: Visitor, n: int) -> float:
                body = f"agent line {n}"
                arrived = v.expect(body)
                sent = time.perf_counter()
                async with http.post(
                    f"{server.http_base}/api/cases/{cases[v.user_id]}/chat",
                    json={"body": body}, headers=server.auth_headers,
                ) as resp:
                    if resp.status not in (200, 201):
                        raise RuntimeError(f"agent line: HTTP {resp.status}")
                return await asyncio.wait_for(arrived, 30) - sent

            async def visitor_line(v: Visitor, n: int) -> float:
                key = f"p{n}"
                arrived = v.expect(key)
                sent = time.perf_counter()
                await v.ws.send_json({"type": "message", "id": key, "body": "hola"})
                return await asyncio.wait_for(arrived, 30) - sent

            # Steady traffic on the open conversations: `rate` visitor lines and `rate` agent
            # lines a second, each to a visitor in turn, paced (not a burst): the latency
            # a visitor sees while the server holds every socket.
            inbound: list[asyncio.Task[float]] = []
            outbound: list[asyncio.Task[float]] = []
            interval = 1.0 / args.rate
            began = time.perf_counter()
            for n in range(int(args.rate * args.seconds)):
                delay = began + n * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                inbound.append(asyncio.create_task(visitor_line(visitors[n % len(visitors)], n)))
                target = visitors[(n * 7 + 3) % len(visitors)]
                outbound.append(asyncio.create_task(agent_line(target, n)))
            print(_figures("visitor→server", list(await asyncio.gather(*inbound))))
            print(_figures("agent→visitor", list(await asyncio.gather(*outbound))))
            print(f"server RSS with {len(visitors)} sockets: {_rss_mib(server.pid):.0f} MiB")
            for v in visitors:
                await v.ws.close()
                v.reader.cancel()
    finally:
        await server.stop()
    return 0


def _cases_by_user(data_dir: Path) -> dict[str, str]:
    """user id -> the public id of their case, read from the server's database."""
    db = data_dir / "cases.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT i.value, c.public_id FROM identities i JOIN cases c"
            " ON c.customer_id = i.customer_id WHERE i.value LIKE 'site:bench-user-%'"
        ).fetchall()
    return {str(value).removeprefix("site:"): str(public) for value, public in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0,
                        help="visitor lines and agent lines per second in the steady phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        sys.exit(asyncio.run(run(args, Path(tmp))))


if __name__ == "__main__":
    main()
