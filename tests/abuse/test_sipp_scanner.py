"""Issue 15 must-show: a SIP scanner burst (SIPp at 500 INVITE/s from 127.0.0.2 with
`User-Agent: friendly-scanner`) is dropped, while real calls from 127.0.0.1 complete; and a
flood with an ordinary user agent is rate limited and its source banned (`voice.sip.abuse`).

A real server process; SIPp binds the scanner's source address with `-i 127.0.0.2` (Linux
routes all of 127/8 to loopback). "No response" is read from SIPp's per-message counts
(`-trace_counts`: nothing received for any scanner call) and its failure counters (every call
timed out, none met an unexpected message), and the server's /metrics shows the drops.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from tests.conftest import ServerFactory
from tests.helpers.server import ServerProcess
from tests.helpers.sipp import SippResult, run_sipp, scenario
from tests.ops.test_metrics import scrape, total
from tests.sipp.conftest import sipp_server_options

SCANNER = "127.0.0.2"
CHECKER = "127.0.0.3"


def received(result: SippResult) -> dict[str, int]:
    """The scenario's receive counters from `-trace_counts` ({'2_100_Recv': n, ...})."""
    files = list(result.run_dir.glob("*_counts.csv"))
    assert files, result.report()
    rows = [r for r in csv.reader(files[0].read_text().splitlines(), delimiter=";") if r]
    header, last = rows[0], rows[-1]
    out = {}
    for name, value in zip(header, last, strict=False):
        if name.endswith(("_Recv", "_Unexp")) and value.strip().isdigit():
            out[name] = int(value)
    return out


def from_source(address: str) -> list[str]:
    return ["-i", address, "-mi", address]


async def start(server_factory: ServerFactory, **abuse: object) -> ServerProcess:
    options = sipp_server_options()
    # 127.0.0.1 is a trusted source (the embedded default) but not exempt from the limits
    # here, so the real calls show the limits let ordinary traffic through.
    options.config["sip_abuse"] = {"exempt": [], **abuse}
    return await server_factory(options)


async def test_scanner_burst_at_500_per_second_is_dropped_while_real_calls_complete(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await start(server_factory)
    scanner_calls = 2000  # 4 s at 500/s

    async def scanner() -> SippResult:
        return await run_sipp(
            [*from_source(SCANNER), "-m", str(scanner_calls), "-r", "500", "-l", "2000",
             "-trace_counts", "-max_retrans", "2", "-timeout", "30s"],
            target=server.sip_target, workdir=tmp_path, name="scanner",
            scenario_file=scenario("scanner_invite"), kill_after=45)

    async def real_calls() -> SippResult:
        await asyncio.sleep(0.5)  # into the burst
        return await run_sipp(
            ["-m", "30", "-r", "10", "-d", "0", "-timeout", "30s", "-recv_timeout", "10000"],
            target=server.sip_target, workdir=tmp_path, builtin="uac", kill_after=45)

    scan, real = await asyncio.gather(scanner(), real_calls())

    real.assert_calls(successful=30)
    assert scan.created == scanner_calls and scan.successful == 0, scan.report()
    got = received(scan)
    assert got and not any(got.values()), (got, scan.report())
    breakdown = scan.failure_breakdown()
    assert "FailedUnexpectedMessage" not in breakdown, scan.report()
    assert breakdown.get("FailedTimeoutOnRecv", 0) + breakdown.get("FailedMaxUDPRetrans", 0) \
        == scanner_calls, scan.report()

    samples = await scrape(server)
    dropped_scanner = total(samples, "centralita_sip_abuse_dropped_total", reason="scanner")
    dropped_banned = total(samples, "centralita_sip_abuse_dropped_total", reason="banned")
    # The first scanner INVITE is recognised and bans its source; the rest (and every
    # retransmission) is dropped before it is parsed.
    assert dropped_scanner >= 1 and dropped_scanner + dropped_banned >= scanner_calls
    assert total(samples, "centralita_sip_abuse_bans_total") == 1
    assert total(samples, "centralita_sip_abuse_banned_sources") == 1
    assert total(samples, "centralita_sip_abuse_dropped_total", reason="rate") == 0
    assert total(samples, "centralita_calls_total") == 30


async def test_a_flood_is_limited_and_banned_while_health_checks_are_answered(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    burst = 20
    server = await start(server_factory, rate=1, burst=burst, ban_seconds=120,
                         health_checkers=[f"{CHECKER}/32"])

    async def sipp(address: str, args: list[str], name: str, **kw: object) -> SippResult:
        return await run_sipp([*from_source(address), *args], target=server.sip_target,
                              workdir=tmp_path, name=name, kill_after=45, **kw)  # type: ignore[arg-type]

    flood = sipp(SCANNER, ["-m", "300", "-r", "200", "-l", "300", "-d", "0", "-timeout", "20s",
                           "-recv_timeout", "3000"], "flood", builtin="uac")
    # The health checker also sends more INVITEs than it may: dropped, never banned.
    checker = sipp(CHECKER, ["-m", "100", "-r", "200", "-l", "100", "-d", "0", "-timeout", "20s",
                             "-recv_timeout", "3000"], "checker", builtin="uac")
    real = sipp("127.0.0.1", ["-m", "20", "-r", "4", "-d", "0", "-timeout", "30s",
                              "-recv_timeout", "10000"], "real", builtin="uac")
    flooded, checked, answered = await asyncio.gather(flood, checker, real)

    answered.assert_calls(successful=20)
    # The flood's first `burst` INVITEs were within the limit and answered, the rest not.
    assert flooded.successful == burst, flooded.report()
    assert flooded.failed == 300 - burst, flooded.report()
    # The checker is limited too (its bucket refills at `rate`, so a retransmitted INVITE
    # may get in later), but never banned.
    assert burst <= checked.successful <= 50 and checked.failed >= 50, checked.report()

    options = ["-m", "1", "-timeout", "5s", "-recv_timeout", "2000"]
    banned_ping = await sipp(SCANNER, options, "banned-options",
                             scenario_file=scenario("options"))
    assert banned_ping.successful == 0 and banned_ping.failed == 1, banned_ping.report()
    checker_ping = await sipp(CHECKER, options, "checker-options",
                              scenario_file=scenario("options"))
    checker_ping.assert_calls(successful=1)

    samples = await scrape(server)
    assert total(samples, "centralita_sip_abuse_bans_total") == 1  # the flood, not the checker
    assert total(samples, "centralita_sip_abuse_banned_sources") == 1
    assert total(samples, "centralita_sip_abuse_dropped_total", reason="rate") >= 1
    assert total(samples, "centralita_sip_abuse_dropped_total", reason="scanner") == 0
