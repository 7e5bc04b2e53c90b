"""Inbound Twilio webhook messages per second persisted to the case, and webhook latency.

    python3 bench/messages.py [--messages 3000] [--concurrency 16] [--customers 300]
                              [--db sqlite|postgresql|both]

The real path: the aiohttp app with `web.twilio_api` routes on loopback, `TwilioMessaging`
verifying each request's X-Twilio-Signature with the twilio package's RequestValidator,
parsing, storing the message on the customer's open case (`CaseStore`, committed, on SQLite
with WAL + synchronous=FULL, or PostgreSQL at 127.0.0.1:5432) and answering TwiML. The
client is an aiohttp session in the same process and loop, `--concurrency` requests in
flight (as Twilio's webhook workers would be); signatures are computed before the clock
starts. Latency is per request, from send to the 200's body.

Target (issue 10): >= 500 inbound messages/s on SQLite with p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]  # noqa: E402

from cases.opt_outs import OptOutStore  # noqa: E402
from cases.store import CaseStore  # noqa: E402
from channels.attachments import AttachmentStore  # noqa: E402
from channels.twilio_config import TwilioConfig  # noqa: E402
from channels.twilio_messaging import INBOUND_PATH, TwilioMessaging  # noqa: E402
from web.twilio_api import add_twilio_routes  # noqa: E402

ACCOUNT = "AC" + "7" * 32
TOKEN = "bench-auth-token"
PUBLIC = "https://contact.example.test"


class _Plan:
    def refusal(self, text: str) -> str | None:
        return None


def _requests(count: int, customers: int) -> list[tuple[bytes, str]]:
    validator = RequestValidator(TOKEN)
    out = []
    for i in range(count):
        sid = "SM" + secrets.token_hex(16)
        params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT,
                  "From": f"+346{10000000 + i % customers:08d}", "To": "+34910000000",
                  "Body": f"Mensaje {i}: ¿me pueden llamar?", "NumMedia": "0",
                  "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        signature = validator.compute_signature(PUBLIC + INBOUND_PATH, params)
        out.append((urlencode(params).encode(), signature))
    return out


async def run(url: str, label: str, count: int, concurrency: int, customers: int,
              data_dir: Path) -> None:
    store = await CaseStore.open(url, default_region="ES")
    opt_outs = await OptOutStore.open(url, now=lambda: __import__("datetime").datetime.now(
        __import__("datetime").UTC))
    config = TwilioConfig(account_sid=ACCOUNT, auth_token=TOKEN, public_url=PUBLIC,
                          sms_number="+34910000000")
    messaging = TwilioMessaging.open(config, cases=store, opt_outs=opt_outs, plan=_Plan(),
                                     attachments=AttachmentStore(data_dir / "att"),
                                     default_region="ES")
    app = web.Application()
    add_twilio_routes(app, messaging)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    target = f"http://127.0.0.1:{port}{INBOUND_PATH}"
    # Warm-up (customers and cases created, connections opened), not timed.
    warm = _requests(min(200, customers), customers)
    work = _requests(count, customers)
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker() -> None:
            nonlocal failures
            while True:
                try:
                    body, signature = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                async with http.post(target, data=body, headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature}) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1
                latencies.append(time.perf_counter() - start)

        for item in warm:
            queue.put_nowait(item)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        latencies.clear()
        for item in work:
            queue.put_nowait(item)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    await runner.cleanup()
    await messaging.close()
    await opt_outs.close()
    await store.close()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(f"{label:10} {count} messages, {concurrency} in flight, {customers} customers: "
          f"{count / elapsed:7.0f} msg/s   p50 {q[49] * 1000:5.1f} ms   p99 {q[98] * 1000:5.1f} ms"
          f"   max {latencies[-1] * 1000:5.1f} ms   failures {failures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            asyncio.run(run(f"sqlite:///{tmp}/cases.db", "SQLite", args.messages,
                            args.concurrency, args.customers, Path(tmp)))
        if args.db in ("postgresql", "both"):
            from tests.helpers.postgres import create_database, drop_database, url

            name = create_database("bench_messages")
            try:
                asyncio.run(run(url(name), "PostgreSQL", args.messages, args.concurrency,
                                args.customers, Path(tmp)))
            finally:
                drop_database(name)


if __name__ == "__main__":
    main()
