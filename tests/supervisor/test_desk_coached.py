"""A desk opened again while a supervisor is on its agent's call is told so in its hello
(`centralita.desk.DeskHub.coached`), on the ACD rig: the page can show "being coached" after a
reload, not only after the next change."""

from __future__ import annotations

from typing import Any

from centralita.desk import DeskHub
from media.ticker import MediaTicker
from tests.routing.acd_rig import Factory, agent, make_rig, queue

__all__ = ["make_rig"]  # the rig's fixture


class Link:
    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def _hello(hub: DeskHub) -> dict[str, Any]:
    link = Link("a1")
    await hub.connect(link)  # type: ignore[arg-type]
    await hub.disconnect(link)  # type: ignore[arg-type]
    return link.sent[0]


async def test_the_hello_says_a_supervisor_is_on_the_call(make_rig: Factory) -> None:
    rig = await make_rig([queue("help")], [agent("a1", "help")], answer={"a1": 0}, step=0.5)
    hub = DeskHub(rig.acd, rig.admin, ticker=MediaTicker(), cases=None, host_addresses=None)
    try:
        await rig.login("a1")
        await rig.arrive("c1", "help", talk=60)
        await rig.at(2)
        assert "a1" in rig.acd.sessions
        assert (await _hello(hub))["coached"] is None

        hub.coached("a1", "c1", "whisper")
        hello = await _hello(hub)
        assert hello["type"] == "hello"
        assert hello["coached"] == {"call_id": "c1", "mode": "whisper"}
        hub.coached("a1", "c1", None)
        assert (await _hello(hub))["coached"] is None

        hub.coached("a1", "another-call", "listen")  # not the call the agent is on
        assert (await _hello(hub))["coached"] is None
    finally:
        await hub.close()
