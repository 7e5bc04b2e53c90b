"""`/metrics` on a real server process: scraped while SIPp places calls it shows them (calls
active during the run, calls total and SIP 200s counted after it); who may read it (no login
401, below the configured role 403); and served on a listener of its own instead.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ServerFactory
from tests.helpers.server import ServerOptions, ServerProcess, free_port, http_get
from tests.helpers.sipp import run_sipp

CALLS = 20
CALL_SECONDS = 3


def _token(tmp_path: Path, name: str, role: str) -> tuple[dict[str, str], dict[str, str]]:
    """A config token of `role`: its `auth.tokens` entry and the headers that present it."""
    token = f"ctk_ops_{name}_" + "k" * 40
    path = tmp_path / f"{name}-token"
    path.write_text(token + "\n", encoding="utf-8")
    return ({"name": name, "role": role, "token_file": str(path)},
            {"Authorization": f"Bearer {token}"})


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition as {(name, sorted labels): value}."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


async def scrape(server: ServerProcess) -> Samples:
    status, body = await http_get(server.http_base + "/metrics", headers=server.auth_headers)
    assert status == 200, body[:500]
    return parse(body)


@pytest.mark.slow
async def test_metrics_scraped_during_a_sipp_run_show_the_calls(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await server_factory(ServerOptions(
        extra_args=["--transcription", "off"], debug_api=False, tls=False))
    before = await scrape(server)
    assert total(before, "centralita_calls_active") == 0
    calls_before = total(before, "centralita_calls_total")
    ok_before = total(before, "centralita_sip_responses_sent_total", code="200")
    tasks_before = total(before, "centralita_asyncio_tasks")
    assert tasks_before > 0

    run = asyncio.ensure_future(run_sipp(
        ["-m", str(CALLS), "-r", "10", "-l", str(CALLS), "-d", str(CALL_SECONDS * 1000),
         "-timeout", "60s", "-recv_timeout", "10000"],
        target=server.sip_target, workdir=tmp_path, builtin="uac", kill_after=75))
    try:
        # While SIPp's calls are up, the scrape shows them (and their SIP legs on the clock).
        peak_calls = peak_legs = peak_tasks = 0.0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not run.done():
            during = await scrape(server)
            peak_calls = max(peak_calls, total(during, "centralita_calls_active",
                                               direction="inbound"))
            peak_legs = max(peak_legs, total(during, "centralita_legs_active", kind="sip"))
            peak_tasks = max(peak_tasks, total(during, "centralita_asyncio_tasks"))
            if peak_calls >= 5 and peak_legs >= 5:
                break
            await asyncio.sleep(0.3)
        result = await run
    finally:
        if not run.done():
            run.cancel()
    result.assert_calls(successful=CALLS)
    assert peak_calls >= 5, f"calls active never above {peak_calls} during the run"
    assert peak_legs >= 5, f"SIP legs on the clock never above {peak_legs} during the run"

    # After: every call counted once, each INVITE and BYE answered 200, none left active.
    deadline = time.monotonic() + 10
    while True:
        after = await scrape(server)
        if total(after, "centralita_calls_active") == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert total(after, "centralita_calls_active") == 0
    assert total(after, "centralita_calls_total") - calls_before == CALLS
    assert total(after, "centralita_sip_responses_sent_total", code="200") - ok_before \
        >= 2 * CALLS
    assert total(after, "centralita_media_tick_lateness_seconds_count") > 0
    # Each call runs in a task of its own: the gauge rose with them and fell back after.
    assert peak_tasks >= tasks_before + 5, (tasks_before, peak_tasks)
    assert total(after, "centralita_asyncio_tasks") < peak_tasks


async def test_metrics_need_the_configured_role(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    agent, agent_headers = _token(tmp_path, "agent", "agent")
    supervisor, supervisor_headers = _token(tmp_path, "supervisor", "supervisor")
    server = await server_factory(ServerOptions(
        config={"metrics": {"require_role": "supervisor"},
                "auth": {"tokens": [agent, supervisor]}},
        extra_args=["--transcription", "off"], debug_api=False, tls=False))
    url = server.http_base + "/metrics"
    status, _ = await http_get(url)
    assert status == 401
    status, _ = await http_get(url, headers={"Authorization": "Bearer ctk_not_a_token_" + "x" * 40})
    assert status == 401
    status, _ = await http_get(url, headers=agent_headers)
    assert status == 403
    status, body = await http_get(url, headers=supervisor_headers)
    assert status == 200, body[:300]
    assert "centralita_calls_total" in body
    status, _ = await http_get(url, headers=server.auth_headers)  # admin
    assert status == 200


async def test_metrics_on_a_listener_of_their_own(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    port = free_port(socket.SOCK_STREAM, also_tcp=False)
    server = await server_factory(ServerOptions(
        config={"metrics": {"bind": "127.0.0.1", "port": port}},
        extra_args=["--transcription", "off", "--log-format", "json"], debug_api=False,
        tls=False))
    status, body = await http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body[:300]
    samples = parse(body)
    assert ("centralita_calls_total", ()) in samples
    # ... and not on the main port, even for an admin.
    status, _ = await http_get(server.http_base + "/metrics", headers=server.auth_headers)
    assert status == 404
    # --log-format json on the command line: every line the server wrote is a JSON object.
    logged = server.stderr_path.read_text("utf-8").splitlines()
    assert logged and all(json.loads(line)["message"] for line in logged)
    assert any("centralita up" in json.loads(line)["message"] for line in logged)


@pytest.mark.slow
async def test_metrics_show_a_caller_waiting_in_a_queue_and_the_agents(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    from tests.e2e.acd import agent, queue, start_acd
    from voice.pjsua.client import place_call

    server = await start_acd(
        server_factory, tmp_path, queues=[queue("support", service_level=20)],
        agents=[agent("ana", "sip:nobody@127.0.0.1:9", ["support"]),
                agent("bob", "sip:nobody@127.0.0.1:9", ["support"])],
        entry_queue="support")
    call = asyncio.ensure_future(place_call(
        f"sip:100@{server.sip_target}", from_user="+34600000001", duration=8.0))
    try:
        deadline = time.monotonic() + 60  # a pjsua2 worker can take seconds to start
        while True:
            samples = await scrape(server)
            if total(samples, "centralita_acd_waiting", queue="support") >= 1 \
                    and total(samples, "centralita_acd_longest_wait_seconds", queue="support") \
                    >= 1.0:
                break
            assert time.monotonic() < deadline, {
                k: v for k, v in samples.items() if k[0].startswith("centralita_acd")}
            await asyncio.sleep(0.3)
        # Both agents start offline (nobody logged in), and the line shows the caller.
        assert total(samples, "centralita_agents", state="offline") == 2
        assert total(samples, "centralita_acd_offered_today", queue="support") >= 1
        assert total(samples, "centralita_calls_active", direction="inbound") == 1
        result = await call
        assert result.connected, result
    finally:
        if not call.done():
            call.cancel()
    after = await scrape(server)
    # The caller hung up while waiting: an abandon, so today's service level is known (0).
    deadline = time.monotonic() + 30
    while ("centralita_acd_service_level_ratio", (("queue", "support"),)) not in after:
        assert time.monotonic() < deadline, "no service level after the abandon"
        await asyncio.sleep(0.3)
        after = await scrape(server)
    assert total(after, "centralita_acd_waiting", queue="support") == 0
    assert total(after, "centralita_db_write_seconds_count", store="cases") > 0
