"""A Kamailio edge in front of Centralita nodes, for the cluster tests and bench/cluster_cps.py.

`Cluster(workdir, nodes=2)` starts N `centralita serve` nodes (each a `ServerProcess` with its
own data dir and ports) and one `KamailioProcess` dispatching over them. `node_figures()` reads
each node's `/metrics`: calls set up and 481 responses (a BYE that reached a node that does not
know the dialog), which is how the tests see where the calls went.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.cluster.kamailio import KamailioProcess
from tests.helpers.server import ServerOptions, ServerProcess, http_get

RTP_BLOCK = 4000
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "uac_via_proxy.xml"
_CALLS = re.compile(r"^centralita_calls_total\s+([0-9.e+]+)$", re.M)
_481 = re.compile(r'^centralita_sip_responses_sent_total\{code="481"\}\s+([0-9.e+]+)$', re.M)


@dataclass(frozen=True)
class NodeFigures:
    """What one node's /metrics says: calls set up and 481s sent."""

    calls: int
    no_dialog_481: int


async def node_figures(node: ServerProcess) -> NodeFigures:
    status, body = await http_get(node.http_base + "/metrics", limit=30.0,
                                  headers=node.auth_headers)
    if status != 200:
        raise AssertionError(f"/metrics of {node.sip_target} answered {status}: {body[:300]}")
    calls = _CALLS.search(body)
    if calls is None:
        raise AssertionError(f"no centralita_calls_total in /metrics of {node.sip_target}")
    lost = _481.search(body)
    return NodeFigures(int(float(calls.group(1))), int(float(lost.group(1))) if lost else 0)


class Cluster:
    """N nodes and Kamailio; `async with Cluster(tmp, nodes=2) as cluster:`."""

    def __init__(
        self,
        workdir: Path,
        nodes: int = 2,
        *,
        options: ServerOptions | None = None,
        ping_interval: int = 1,
        probing_threshold: int = 2,
        fr_timer_ms: int = 1000,
        fr_inv_timer_ms: int = 3000,
        kamailio_children: int = 4,
    ) -> None:
        self.workdir = workdir
        self.nodes: list[ServerProcess] = []
        # Transcription off: these runs measure SIP, not speech (bench/transcribe.py does).
        base = options or ServerOptions(tls=False, extra_args=["--transcription", "off"])
        # Each node its own RTP block (4,000 ports, below the ephemeral range): two nodes on one
        # range take each other's ports ("no bindable RTP port pair") under load.
        first = random.randrange(12000, 32000 - nodes * RTP_BLOCK, 2)
        for index in range(nodes):
            node_dir = workdir / f"node-{index + 1}"
            node_dir.mkdir(parents=True, exist_ok=True)
            low = first + index * RTP_BLOCK
            opts = dataclasses.replace(base, rtp_ports=(low, low + RTP_BLOCK - 2))
            self.nodes.append(ServerProcess(node_dir, opts))
        self.kamailio = KamailioProcess(
            workdir, [n.sip_target for n in self.nodes], ping_interval=ping_interval,
            probing_threshold=probing_threshold,
            fr_timer_ms=fr_timer_ms, fr_inv_timer_ms=fr_inv_timer_ms, children=kamailio_children,
        )

    async def start(self) -> None:
        try:
            await asyncio.gather(*(node.start() for node in self.nodes))
            await self.kamailio.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.kamailio.stop()
        await asyncio.gather(*(node.stop() for node in self.nodes), return_exceptions=True)

    async def figures(self) -> list[NodeFigures]:
        """Each live node's figures, in node order."""
        return list(await asyncio.gather(*(node_figures(n) for n in self.nodes)))

    async def __aenter__(self) -> Cluster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
