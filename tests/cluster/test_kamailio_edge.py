"""The edge's own rules, each against a real Kamailio with the shipped configuration.

- A node that answers 503 does not lose the call: Kamailio sends it to the next node.
- pike: a source that is not in TRUSTED_NET and floods the edge is refused (503), while
  a trusted source at the same rate is not.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cluster.cluster import SCENARIO, node_figures
from tests.cluster.kamailio import KamailioProcess, options_ping
from tests.helpers.server import LOOPBACK, ServerOptions, ServerProcess, free_port
from tests.helpers.sipp import SippBackground, run_sipp, sipp_binary

pytestmark = pytest.mark.slow


async def test_a_node_answering_503_passes_the_call_to_the_next(tmp_path: Path) -> None:
    refusing_port = free_port()
    uas_dir = tmp_path / "uas-503"
    refusing = SippBackground(
        argv=[sipp_binary(), "-sf", str(Path(__file__).parent / "scenarios" / "uas_503.xml"),
              "-i", LOOPBACK, "-p", str(refusing_port), "-nostdin", "-trace_stat",
              "-stf", str(uas_dir / "stats.csv"), "-fd", "1"],
        run_dir=uas_dir,
    )
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    node = ServerProcess(node_dir, ServerOptions(tls=False,
                                                 extra_args=["--transcription", "off"]))
    # No health check within the test (60 s interval): the refusing node stays in the
    # rotation, so every other call meets its 503 and must be passed on.
    async with refusing, node, KamailioProcess(
        tmp_path, [f"{LOOPBACK}:{refusing_port}", node.sip_target], ping_interval=60,
    ) as edge:
        before = await node_figures(node)
        result = await run_sipp(
            ["-m", "40", "-r", "20", "-d", "0", "-s", "100", "-timeout", "30s"],
            target=edge.target, workdir=tmp_path, scenario_file=SCENARIO, kill_after=40,
        )
        result.assert_calls(successful=40)
        after = await node_figures(node)
    assert after.calls - before.calls == 40
    log = edge.log_tail(100_000)
    assert log.count("failover from a node") == 20, log[-3000:]


async def test_pike_refuses_a_flooding_source_outside_the_trusted_net(tmp_path: Path) -> None:
    # Loopback is not trusted here, 20 requests per 2 s are allowed.
    async with KamailioProcess(
        tmp_path / "untrusted", [f"{LOOPBACK}:{free_port()}"], ping_interval=60,
        defines={"TRUSTED_NET": '"192.0.2.0/24"', "PIKE_DENSITY": "20"},
    ) as edge:
        codes = [await asyncio.to_thread(options_ping, LOOPBACK, edge.port) for _ in range(80)]
    assert 200 in codes[:10], codes
    assert codes.count(503) >= 20, codes
    async with KamailioProcess(
        tmp_path / "trusted", [f"{LOOPBACK}:{free_port()}"], ping_interval=60,
        defines={"PIKE_DENSITY": "20"},
    ) as edge:
        codes = [await asyncio.to_thread(options_ping, LOOPBACK, edge.port) for _ in range(80)]
    assert codes == [200] * 80, codes
