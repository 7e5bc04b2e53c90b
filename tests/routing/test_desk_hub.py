"""`centralita.desk.DeskHub` ringing an agent's open desk, on the ACD rig (fake clock, no
browser): an offer that routing withdraws (the caller hung up, took a callback) while the
page rings is withdrawn on the page too, not left ringing for the rest of its timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from centralita.desk import DeskHub
from media.ticker import MediaTicker
from routing.channels import Offer
from tests.routing.acd_rig import Factory, agent, queue


class Link:
    """An open desk that keeps what it is sent."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def kinds(self) -> list[str]:
        return [m["type"] for m in self.sent if m["type"] not in ("state", "directory")]


async def test_an_offer_cancelled_by_routing_is_withdrawn_on_the_page(make_rig: Factory) -> None:
    rig = await make_rig([queue("help")], [agent("a1", "help")])
    hub = DeskHub(rig.acd, rig.admin, ticker=MediaTicker(), cases=None, host_addresses=None)
    link = Link("a1")
    await hub.connect(link)
    offer = Offer("call", "call-1", "help", "+15550100", None)
    ringing = asyncio.ensure_future(
        hub.ring_agent(rig.acd.agents["a1"], offer, ring_timeout=30, for_call=None))
    for _ in range(100):
        await asyncio.sleep(0)
        if "offer" in link.kinds():
            break
    assert link.kinds() == ["hello", "offer"]
    ringing.cancel()
    await asyncio.gather(ringing, return_exceptions=True)
    await asyncio.sleep(0)
    withdrawn = link.sent[-1]
    assert withdrawn["type"] == "offer_withdrawn", link.sent
    assert (withdrawn["offer_id"], withdrawn["reason"]) == (link.sent[1]["offer_id"], "withdrawn")
    await hub.close()
