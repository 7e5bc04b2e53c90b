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
import sys
import time
import wave
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Connection, text
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from tests.channels import test_email_smtp
from tests.channels.test_email_smtp import RELAY_PASSWORD, RELAY_USER, Relay
from tests.conftest import ServerFactory
from tests.helpers.databases import connected
from tests.helpers.server import LOOPBACK, REPO_ROOT, ServerOptions, ServerProcess, free_port
from tests.helpers.twilio_standin import TwilioStandIn

# The run itself is bounded by MAX_EXAMPLES; the timeout only catches a hang.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

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
    with connected(server.database_url) as db:
        (case_id, public_id, _), (_, _, other_customer) = db.execute(text(
            "SELECT id, public_id, customer_id FROM cases ORDER BY id")).all()
        (interaction,), = db.execute(text(
            "SELECT id FROM interactions WHERE case_id = :case"), {"case": case_id}).all()
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


def _recording(db: Connection, root: Path, interaction: int, agent: str, n: int) -> str:
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
    db.execute(text(
        "INSERT INTO recordings (id, call_id, interaction_id, location, channels, sample_rate,"
        " started_wall, ended_wall, duration, paused_spans, status, codec, size_bytes, agent,"
        " held) VALUES (:id, :call, :interaction, :location, 2, 8000, :started, :ended, 1.0,"
        " '[]', 'complete', 'wav', :size, :agent, :held)"),
        {"id": recording_id, "call": f"schemathesis-call-{n}", "interaction": interaction,
         "location": path.name, "started": now - 1, "ended": now,
         "size": path.stat().st_size, "agent": agent, "held": False})
    return recording_id


@dataclass
class Run:
    """One schemathesis run: per operation, how many answers of each status; the answers
    whose status the document does not list for their operation; its exit code and output."""

    seen: dict[str, Counter[int]]
    undocumented: list[str]
    returncode: int | None
    output: str


def _read_report(report: Path, document: dict[str, Any]) -> tuple[dict[str, Counter[int]],
                                                                   list[str]]:
    seen: dict[str, Counter[int]] = {}
    undocumented: list[str] = []
    with report.open() as lines:
        for line in lines:
            event = json.loads(line).get("ScenarioFinished")
            if not event or not event.get("recorder"):
                continue
            recorder = event["recorder"]
            label = recorder["label"]
            method, path = label.split(" ", 1)
            listed = document["paths"][path][method.lower()]["responses"]
            statuses = seen.setdefault(label, Counter())
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response")
                if response is None:
                    continue
                status = response["status_code"]
                statuses[status] += 1
                # The coverage phase also sends other methods to the path (405 is aiohttp's
                # answer to those); only the operation's own method is held to its list.
                if interaction["request"]["method"] == method and str(status) not in listed:
                    undocumented.append(f"{label} -> {status}")
    return seen, undocumented


async def _run(server: ServerProcess, workdir: Path, token: str, seeds: list[Any],
               document: dict[str, Any], examples: int) -> Run:
    reports = workdir / "schemathesis"
    reports.mkdir(parents=True)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.openapi.st_hooks",
           "PYTHONPATH": str(REPO_ROOT), "CENTRALITA_ST_SEEDS": json.dumps(seeds),
           "CENTRALITA_ST_TWILIO_TOKEN": TWILIO_TOKEN, "CENTRALITA_ST_PUBLIC_URL": PUBLIC_URL,
           "CENTRALITA_ST_ACCOUNT_SID": ACCOUNT_SID, "CENTRALITA_ST_NUMBER": SMS_NUMBER}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run",
        server.http_base + "/api/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS, "--mode", "all", "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(examples), "--workers", "1",
        "--seed", os.environ.get("OPENAPI_FUZZ_SEED", "15"),
        "--request-timeout", "20", "--no-color",
        "--report", "ndjson", "--report-dir", str(reports),
        cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=1500)
    text = out.decode(errors="replace")
    (reports / "output.txt").write_text(text)
    report, = reports.glob("*.ndjson")
    seen, undocumented = _read_report(report, document)
    return Run(seen, undocumented, process.returncode, text)


def _check(run: Run) -> None:
    errors = {op: dict(c) for op, c in run.seen.items() if any(s >= 500 for s in c)}
    assert errors == {}, run.output[-8000:]
    assert run.undocumented == [], run.undocumented[:20]
    assert run.returncode == 0, run.output[-8000:]


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    server_factory: ServerFactory, tmp_path: Path, relay: Relay,
) -> None:
    async with TwilioStandIn(ACCOUNT_SID, TWILIO_TOKEN) as twilio:
        server = await server_factory(server_options(tmp_path, twilio, relay))
        twilio.forward(PUBLIC_URL, server.http_base)
        await _fuzz(server, tmp_path)


async def _agent_token(server: ServerProcess, agent: str) -> str:
    """A bearer token acting for `agent`: an agent of the ACD, a user of that name, and
    the token, made afresh (whatever the admin's run changed before)."""
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:
        async with http.put(server.http_base + f"/api/agents/{agent}", json={}) as resp:
            assert resp.status in (200, 201), await resp.text()
        async with http.post(server.http_base + "/api/users", json={
                "name": agent, "password": "schemathesis agent 1", "role": "agent"}) as resp:
            assert resp.status == 201, await resp.text()
        async with http.post(server.http_base + "/api/tokens", json={
                "name": agent, "role": "agent", "agent": agent}) as resp:
            assert resp.status == 201, await resp.text()
            token: str = (await resp.json())["token"]
    return token


async def _fuzz(server: ServerProcess, tmp_path: Path) -> None:
    seeds = await _seed(server)
    async with (aiohttp.ClientSession(headers=server.auth_headers) as http,
                http.get(server.http_base + "/api/openapi.json") as resp):
        document = await resp.json()
    documented = {f"{method.upper()} {path}" for path, ops in document["paths"].items()
                  for method in ops}
    admin_token = server.auth_headers["Authorization"].removeprefix("Bearer ")

    # As an admin: every handler is reached past its role.
    admin = await _run(server, tmp_path / "admin", admin_token, seeds, document, MAX_EXAMPLES)
    # Every documented operation was exercised (the document's own route is how
    # schemathesis loaded it), and nothing else.
    assert set(admin.seen) == documented - {"GET /api/openapi.json"}, admin.output[-4000:]
    _check(admin)
    # It reached past the doors: real cases were read, edited and refused for real reasons.
    assert admin.seen["GET /api/cases/{id}"][200] > 0, dict(admin.seen["GET /api/cases/{id}"])
    assert admin.seen["POST /twilio/messaging"][200] > 0, admin.seen["POST /twilio/messaging"]
    assert admin.seen["GET /api/recordings/{id}/audio"][200] > 0

    # As an agent: the branches of "their own" (agent state, case access, recordings), and
    # every route above the agent's role answering its documented 403.
    agent = "schemathesis-agent"
    agent_token = await _agent_token(server, agent)
    agent_seeds = [("*", "/api/agents/", "id", agent), *seeds]  # their own, first
    agent_run = await _run(server, tmp_path / "agent", agent_token, agent_seeds, document,
                           max(4, MAX_EXAMPLES // 4))
    _check(agent_run)
    users = agent_run.seen["GET /api/users"]
    assert users[403] > 0 and set(users) <= {403, 405}, users  # 405: other methods probed

    for name, run in (("admin", admin), ("agent", agent_run)):
        cases = sum(sum(c.values()) for c in run.seen.values())
        print(f"schemathesis as {name}: {len(run.seen)} operations, {cases} requests, "
              f"statuses {dict(sum(run.seen.values(), Counter()))}")
