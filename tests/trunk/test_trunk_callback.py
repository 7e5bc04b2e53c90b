"""A callback reaches its customer through a carrier trunk that wants a digest login, as
Twilio's Elastic SIP Trunking termination does: Kamailio challenges every INVITE with a 407
(`tests/trunk/trunk_edge.cfg`) and relays the authorised one to the customer's phone (a
pjsua2 listener). The server is configured as the README's "Twilio Elastic SIP Trunking"
section says: the termination host by name over TLS, the credential list's login, the
account's number as caller id.

A pjsua2 caller (trusted: loopback) waits in the queue with nobody logged in, asks for a
callback and is hung up; the agent logs in; the server rings the agent's phone, then the
customer through the trunk, and bridges them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.e2e.acd import agent, ended_calls, set_state, start_acd, user_of, wait_for
from tests.e2e.api import get_json
from tests.e2e.test_acd_callback import callback_queue, callbacks, take_callback
from tests.helpers.server import ServerOptions, ServerProcess
from tests.trunk.edge import (
    CARRIER_HOST,
    TRUNK_PASSWORD,
    TRUNK_USER,
    OriginationEdge,
    TrunkEdge,
)
from voice.pjsua.client import PjsuaListener, place_call

pytestmark = pytest.mark.slow

CALLER_ID = "+34910000000"  # the account's own number, presented on callbacks


def trunk_section(edge: TrunkEdge, secret: Path, transport: str) -> dict[str, Any]:
    secret.write_text(TRUNK_PASSWORD + "\n", encoding="utf-8")
    section: dict[str, Any] = {
        "host": "localhost", "transport": transport, "username": TRUNK_USER,
        "password_file": str(secret), "caller_id": CALLER_ID,
    }
    if transport == "tls":
        section.update(port=edge.tls_port, tls_ca=str(edge.cert))
    else:
        section.update(port=edge.port)
    return section


async def start(server_factory: ServerFactory, tmp_path: Path, desk: PjsuaListener,
                trunk: dict[str, Any]) -> ServerProcess:
    return await start_acd(
        server_factory, tmp_path, queues=[callback_queue()],
        agents=[agent("a1", desk.uri, ["q"])], entry_queue="q", config={"trunk": trunk},
    )


@pytest.mark.parametrize("transport", ["tls", "udp"])
async def test_a_callback_reaches_the_customer_through_a_digest_trunk(
    server_factory: ServerFactory, tmp_path: Path, transport: str
) -> None:
    async with (PjsuaListener(duration=4.0) as desk, PjsuaListener() as customer,
                TrunkEdge(tmp_path, f"127.0.0.1:{customer.port}") as edge):
        assert isinstance(edge, TrunkEdge)
        trunk = trunk_section(edge, tmp_path / "trunk.secret", transport)
        server = await start(server_factory, tmp_path, desk, trunk)
        await take_callback(server)
        [waiting] = await callbacks(server, "waiting")
        await set_state(server, "a1", "available")

        async def done() -> list[dict[str, Any]]:
            return await callbacks(server, "done")

        [finished] = await wait_for(done, within=30.0, what="the callback carried out")
        assert finished["id"] == waiting["id"] and finished["attempts"] == 1
        [to_desk] = await ended_calls(desk, settle=6.0)
        assert user_of(to_desk.from_) == "callback"
        [to_customer] = await ended_calls(customer, settle=2.0)
        # Bridged to the agent until the agent's phone hung up after 4 s.
        assert to_customer.duration > 2.0, to_customer
        assert user_of(to_customer.from_) == CALLER_ID, to_customer
        over = transport  # Kamailio's $pr: the protocol the INVITE came over
        # The first INVITE was challenged, the second one carried the login.
        assert edge.log_lines(f"edge: challenge INVITE over {over}"), edge.log_tail()
        assert edge.log_lines(f"edge: authorised INVITE over {over}"), edge.log_tail()
        assert not edge.log_lines("edge: wrong user"), edge.log_tail()
        case = await get_json(server, f"/api/cases/{finished['case_id']}")
        notes = " | ".join(n["text"] for n in case["notes"])
        assert "connected to agent a1" in notes, notes


async def test_a_wrong_trunk_password_reaches_nobody_and_says_why(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    async with (PjsuaListener(duration=4.0) as desk, PjsuaListener() as customer,
                TrunkEdge(tmp_path, f"127.0.0.1:{customer.port}",
                          password="the-real-one") as edge):
        assert isinstance(edge, TrunkEdge)
        trunk = trunk_section(edge, tmp_path / "trunk.secret", "tls")
        server = await start(server_factory, tmp_path, desk, trunk)
        await take_callback(server)
        await set_state(server, "a1", "available")

        async def tried() -> list[dict[str, Any]]:
            found = await get_json(server, "/api/callbacks")
            return [c for c in found["callbacks"] if c["attempts"] >= 1
                    and c["state"] != "dialing"]

        [attempted] = await wait_for(tried, within=30.0, what="a callback attempt")
        assert attempted["state"] != "done", attempted
        # Challenged, answered once with the wrong password, challenged again: given up.
        assert len(edge.log_lines("edge: challenge INVITE over tls")) >= 2, edge.log_tail()
        assert not edge.log_lines("edge: authorised"), edge.log_tail()
        assert await ended_calls(customer, settle=1.0) == []


async def test_calls_the_carrier_delivers_over_tls_are_trusted_and_others_are_not(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    # The carrier's address only: a phone on loopback is anyone.
    server = await server_factory(ServerOptions(
        config={"trusted_sources": [f"{CARRIER_HOST}/32"]}, demo_hangup_after=30.0))
    async with OriginationEdge(tmp_path, f"127.0.0.1:{server.tls_port}") as edge:
        assert isinstance(edge, OriginationEdge)
        through = await place_call(f"sip:+34910000000@{edge.target}", from_user="+34612345678",
                                   duration=3.0)
        direct = await place_call(f"sip:100@{server.sip_target}", from_user="+34612345679",
                                  duration=3.0)
        assert through.connected and direct.connected, (through, direct)
        assert edge.log_lines("origination: INVITE relayed"), edge.log_tail()
        # The caller's BYE went back through the carrier, over the TLS leg.
        assert edge.log_lines("origination: in-dialog BYE over udp"), edge.log_tail()
    inbound = [c for c in await server.debug_calls() if c["direction"] == "inbound"]
    assert sorted(str(c["trusted_by"]) for c in inbound) == ["None", "trunk"], inbound
