"""Schemathesis against a running server: every documented operation, no server error, no
undocumented status, answers as their schemas say.

A real `python -m centralita serve` (tests.helpers.server) with every feature that adds routes
switched on and real peers (the Twilio stand-in for Twilio's REST API, an aiosmtpd relay). Schemathesis reads the document the
server serves (`/api/openapi.json`) and runs its examples and fuzzing phases with the admin
token (the highest role reaches every handler) with a bounded number of cases per operation;
the JSON report must show every operation of the document exercised and no failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import sys
import time
import wave
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from tests.channels import test_email_smtp
from tests.channels.test_email_smtp import RELAY_PASSWORD, RELAY_USER, Relay
from tests.conftest import ServerFactory
from tests.helpers.server import LOOPBACK, REPO_ROOT, ServerOptions, ServerProcess, free_port
from tests.helpers.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.slow

# Cases per operation: ~100 operations x this stays within a few minutes on 2 loaded cores.
MAX_EXAMPLES = int(os.environ.get("OPENAPI_FUZZ_EXAMPLES", "20"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
ACCOUNT_SID = "AC" + "0" * 32
TWILIO_TOKEN = "schemathesis-twilio-token"
PUBLIC_URL = "https://contact.example.test"
SMS_NUMBER = "+34910000000"

relay = test_email_smtp.relay


def _tcp_port() -> int:
    return free_port(socket.SOCK_STREAM, also_tcp=False)


def server_options(workdir: Path, twilio: TwilioStandIn, relay: Relay) -> ServerOptions:
    """Every route-adding feature on, with real peers: the Twilio stand-in for Twilio's REST
    API and an SMTP relay (aiosmtpd) for email."""
    (workdir / "twilio-token").write_text(TWILIO_TOKEN + "\n")
    (workdir / "smtp-password").write_text(RELAY_PASSWORD + "\n")
    kb = workdir / "kb"
    kb.mkdir(exist_ok=True)
    (kb / "refunds.md").write_text("# Refunds\n\nA refund takes five days.\n")
    return ServerOptions(
        config={
            "twilio": {"account_sid": ACCOUNT_SID,
                       "auth_token_file": str(workdir / "twilio-token"),
                       "public_url": PUBLIC_URL,
                       "sms_number": SMS_NUMBER,
                       "api_base_url": twilio.base_url},
            "email": {"smtp_host": relay.host, "smtp_port": relay.port, "starttls": True,
                      "ca_file": str(relay.cert), "username": RELAY_USER,
                      "password_file": str(workdir / "smtp-password"),
                      "from_address": "help@example.test", "reply_domain": "example.test",
                      "listen": f"{LOOPBACK}:{_tcp_port()}",
                      "inbox_addresses": ["help@example.test"]},
            "chat": {},
            "recordings": {"enabled": True},
            "assist": {"articles": str(kb)},
            # The per-route budgets (web.ratelimit) are documented (429); lifted here so
            # the generated requests reach the handlers.
            "api_limits": {"routes": [{"prefix": "/api/", "rate": 10000, "burst": 100000}]},
        },
        extra_args=["--routing", str(REPO_ROOT / "routing" / "demo.yaml"),
                    "--transcription", "off"],
        startup_timeout=60,
    )


async def _seed(server: ServerProcess) -> list[tuple[str, str, str, str]]:
    """Things for the path parameters to name: a case (from a signed inbound SMS), its
    interaction, a customer, a queue and an agent of the routing file, recordings."""
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:
        # Two customers: the second one's erasure (DELETE /api/customers/{id}) leaves the
        # first one's case for the case routes.
        for n, number in enumerate(("+34600000001", "+34600000002")):
            form = {"MessageSid": f"SM{n:032x}", "AccountSid": ACCOUNT_SID, "From": number,
                    "To": SMS_NUMBER, "Body": "hello", "NumMedia": "0"}
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(
                PUBLIC_URL + "/twilio/messaging", form)
            async with http.post(server.http_base + "/twilio/messaging", data=form,
                                 headers={"X-Twilio-Signature": signature}) as resp:
                assert resp.status == 200, await resp.text()
        async with http.get(server.http_base + "/api/queues") as resp:
            queue = (await resp.json())["queues"][0]["name"]
        async with http.get(server.http_base + "/api/agents") as resp:
            agent = (await resp.json())["agents"][0]["id"]
    with sqlite3.connect(server.data_dir / "cases.db") as db:
        (case_id, public_id, _), (_, _, other_customer) = db.execute(
            "SELECT id, public_id, customer_id FROM cases ORDER BY id").fetchall()
        (interaction,), = db.execute(
            "SELECT id FROM interactions WHERE case_id = ?", (case_id,)).fetchall()
        # Two finished recordings of that interaction, as the recorder leaves them (one
        # for DELETE, so the others keep theirs).
        recordings = [_recording(db, server.data_dir / "recordings", interaction, agent, n)
                      for n in range(2)]
    return [
        ("*", "/api/cases/", "id", public_id),
        ("*", "/api/cases/", "iid", str(interaction)),
        ("*", "/api/review/interactions/", "iid", str(interaction)),
        ("*", "/api/customers/", "id", str(other_customer)),
        ("*", "/api/queues/", "name", queue),
        ("*", "/api/agents/", "id", agent),
        ("DELETE", "/api/recordings/{id}", "id", recordings[1]),
        ("*", "/api/recordings/", "id", recordings[0]),
        ("*", "/api/review/recordings/", "id", recordings[0]),
        ("*", "/review/{id}", "id", recordings[0]),
    ]


def _recording(db: sqlite3.Connection, root: Path, interaction: int, agent: str,
               n: int) -> str:
    """A one-second stereo 8 kHz WAV and its row, as `recordings` writes them."""
    recording_id = f"{n:02x}" * 16
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"schemathesis-{n}.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(range(256)) * 125)
    now = time.time()
    db.execute(
        "INSERT INTO recordings (id, call_id, interaction_id, location, channels, sample_rate,"
        " started_wall, ended_wall, duration, paused_spans, status, codec, size_bytes, agent,"
        " held) VALUES (?, ?, ?, ?, 2, 8000, ?, ?, 1.0, '[]', 'complete', 'wav', ?, ?, 0)",
        (recording_id, f"schemathesis-call-{n}", interaction, path.name, now - 1, now,
         path.stat().st_size, agent))
    return recording_id


def _scenarios(report: Path) -> dict[str, Counter[int]]:
    """Per operation ("GET /path"), how many responses of each status it got."""
    seen: dict[str, Counter[int]] = {}
    with report.open() as lines:
        for line in lines:
            event = json.loads(line).get("ScenarioFinished")
            if not event or not event.get("recorder"):
                continue
            recorder = event["recorder"]
            statuses = seen.setdefault(recorder["label"], Counter())
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response")
                if response is not None:
                    statuses[response["status_code"]] += 1
    return seen


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    server_factory: ServerFactory, tmp_path: Path, relay: Relay,
) -> None:
    async with TwilioStandIn(ACCOUNT_SID, TWILIO_TOKEN) as twilio:
        server = await server_factory(server_options(tmp_path, twilio, relay))
        twilio.forward(PUBLIC_URL, server.http_base)
        await _fuzz(server, tmp_path)


async def _fuzz(server: ServerProcess, tmp_path: Path) -> None:
    seeds = await _seed(server)
    async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                http.get(server.http_base + "/api/openapi.json") as resp):
        document = await resp.json()
    documented = {f"{method.upper()} {path}" for path, ops in document["paths"].items()
                  for method in ops}
    reports = tmp_path / "schemathesis"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.openapi.st_hooks",
           "PYTHONPATH": str(REPO_ROOT), "CENTRALITA_ST_SEEDS": json.dumps(seeds),
           "CENTRALITA_ST_TWILIO_TOKEN": TWILIO_TOKEN, "CENTRALITA_ST_PUBLIC_URL": PUBLIC_URL,
           "CENTRALITA_ST_ACCOUNT_SID": ACCOUNT_SID, "CENTRALITA_ST_NUMBER": SMS_NUMBER}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run",
        server.http_base + "/api/openapi.json",
        "--header", f"Authorization: {server.auth_headers['Authorization']}",
        "--checks", CHECKS, "--mode", "all", "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--workers", "1",
        "--seed", os.environ.get("OPENAPI_FUZZ_SEED", "15"),
        "--request-timeout", "20", "--no-color",
        "--report", "ndjson", "--report-dir", str(reports),
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    text = out.decode(errors="replace")
    reports.mkdir(exist_ok=True)
    (reports / "output.txt").write_text(text)
    report, = reports.glob("*.ndjson")
    seen = _scenarios(report)
    # Every documented operation was exercised (the document's own route is how
    # schemathesis loaded it), and nothing else.
    assert set(seen) == documented - {"GET /api/openapi.json"}, text[-4000:]
    cases = sum(sum(c.values()) for c in seen.values())
    errors = {op: dict(c) for op, c in seen.items() if any(s >= 500 and s not in (502, 503)
                                                          for s in c)}
    assert errors == {}, text[-8000:]
    assert process.returncode == 0, text[-8000:]
    # It reached past the doors: real cases were read, edited and refused for real reasons.
    assert seen["GET /api/cases/{id}"][200] > 0, dict(seen["GET /api/cases/{id}"])
    assert seen["POST /twilio/messaging"][200] > 0, dict(seen["POST /twilio/messaging"])
    print(f"schemathesis: {len(seen)} operations, {cases} requests, statuses "
          f"{dict(sum(seen.values(), Counter()))}")
