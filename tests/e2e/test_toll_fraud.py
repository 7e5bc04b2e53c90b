"""Toll fraud through callbacks (issue 17, finding 1), on a real server with SIPp on both ends.

The server's `--trunk` points at a SIPp UAS on loopback that logs every message it gets:
the trunk's far side, where a carrier would bill the operator. Callers are SIPp UACs into a
flow whose first step is `callback` (default number: `${caller}`, the INVITE's From user);
the agent is a pjsua2 listener that answers the agent-first ring. Only 127.0.0.1 is a
trusted source here (the demo's loopback default is switched off), so a caller bound to
127.0.0.2 is "anyone on the internet".

- untrusted, `From: <sip:+9005551234@...>` (the report's attack): the flow takes
  `on_unavailable` with the reason, no callback is stored, the agent is not rung, and the
  trunk receives NO INVITE;
- trusted, the same premium/international number: refused by the dial plan, likewise (and
  the admin's debug dial of it gets 403);
- trusted, a Spanish mobile (the default plan's region): called back through the trunk,
  `sip:+34612345678@<trunk>`, and bridged to the agent.

On the code before the fix the first caller's callback was stored and, once the agent
answered, the trunk received `INVITE sip:+9005551234@...`: this test failed there at its
first assertion (see the report of issue 17).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.conftest import ServerFactory
from tests.e2e.acd import agent, ended_calls, queue, set_state, wait_for
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions, ServerProcess, free_media_port, free_port
from tests.helpers.sipp import SippBackground, run_sipp, sipp_binary
from voice.pjsua.client import PjsuaListener

pytestmark = pytest.mark.slow

TRUSTED_IP = "127.0.0.1"
UNTRUSTED_IP = "127.0.0.2"  # Linux routes all of 127/8 to lo: "another source"
PREMIUM = "+9005551234"
MOBILE = "+34612345678"
# Long enough for the agent-first ring and the customer's INVITE to happen had the callback
# been stored (they take ~1-2 s on loopback; the callback is due at once).
QUIET_S = 8.0

FLOW = """\
name: callback
default: true
steps:
  - callback: {queue: q, on_unavailable: sorry}
  - say: "We will call you back."
  - hangup
  - label: sorry
    say: "Sorry, we cannot call you back."
  - hangup
"""

# The trunk's far side: answers whatever INVITE it gets and waits for the server's BYE.
TRUNK_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="trunk: answer, wait for BYE">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]T[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:trunk@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=trunk 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE" timeout="60000"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


def caller_uac(from_user: str) -> str:
    """A caller: INVITE with `From: <sip:FROM_USER@...>`, ACK, then the server's BYE."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="caller {from_user}">
  <send retrans="500">
    <![CDATA[

      INVITE sip:100@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{from_user}@[local_ip]:[local_port]>;tag=[pid]C[call_number]
      To: <sip:100@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{from_user}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{from_user}@[local_ip]:[local_port]>;tag=[pid]C[call_number]
      To: <sip:100@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv request="BYE" timeout="30000"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


class Trunk:
    """The SIPp UAS behind `--trunk`, and what it received."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.run_dir = workdir / "trunk"
        self.run_dir.mkdir(parents=True)
        scenario = self.run_dir / "trunk.xml"
        scenario.write_text(TRUNK_UAS)
        self.messages = self.run_dir / "messages.log"
        self.sipp = SippBackground(argv=[
            sipp_binary(), "-sf", str(scenario), "-i", TRUSTED_IP, "-p", str(self.port),
            "-mi", TRUSTED_IP, "-mp", str(free_media_port()), "-nostdin",
            "-trace_msg", "-message_file", str(self.messages),
            "-trace_err", "-error_file", str(self.run_dir / "errors.log"),
        ], run_dir=self.run_dir)

    def invites(self) -> list[str]:
        """The Request-URIs of every INVITE the trunk received."""
        try:
            text = self.messages.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return re.findall(r"^INVITE (\S+) SIP/2\.0", text, flags=re.MULTILINE)


async def call_in(server: ServerProcess, workdir: Path, from_user: str, source_ip: str,
                  name: str) -> None:
    """One caller from `source_ip` through the flow to the server's hang-up."""
    scenario = workdir / f"{name}.xml"
    scenario.write_text(caller_uac(from_user))
    result = await run_sipp(
        ["-m", "1", "-i", source_ip, "-mi", source_ip, "-mp", str(free_media_port()),
         "-timeout", "40s"],
        target=server.sip_target, workdir=workdir, scenario_file=scenario, name=name,
        kill_after=45.0)
    result.assert_calls(successful=1)


async def debug_dial(server: ServerProcess, uri: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers=server.auth_headers) as http,
        http.post(server.http_base + "/api/debug/dial", json={"uri": uri}) as resp,
    ):
        return resp.status, dict(await resp.json())


async def trunk_stays_quiet(trunk: Trunk) -> None:
    """The trunk receives no INVITE for `QUIET_S` seconds."""
    quiet_until = time.monotonic() + QUIET_S
    while time.monotonic() < quiet_until:
        assert trunk.invites() == [], f"the trunk was dialed: {trunk.invites()}"
        await asyncio.sleep(0.25)


def ivr_event(interaction: dict[str, Any], kind: str) -> dict[str, Any] | None:
    found = [e for e in interaction["ivr_events"] if e["kind"] == kind]
    return dict(found[-1]["value"]) if found else None


async def inbound_calls(server: ServerProcess) -> list[dict[str, Any]]:
    return [c for c in await server.debug_calls() if c["direction"] == "inbound"]


async def test_only_a_trusted_caller_within_the_dial_plan_is_called_back(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    trunk = Trunk(tmp_path)
    conf = tmp_path / "conf"
    (conf / "flows").mkdir(parents=True)
    (conf / "flows" / "callback.yaml").write_text(FLOW)
    async with trunk.sipp, PjsuaListener(duration=4.0) as desk:
        routing = conf / "routing.yaml"
        routing.write_text(yaml.safe_dump({
            "queues": [queue("q", wrapup=0.5, offer_timeout=20)],
            "agents": [agent("a1", desk.uri, ["q"])],
        }, sort_keys=False))
        server = await server_factory(ServerOptions(
            # Only the trunk's own address is trusted: loopback at large (the demo's
            # default) would make 127.0.0.2 trusted too.
            config={"trusted_sources": [f"{TRUSTED_IP}/32"]},
            extra_args=["--flows", str(conf / "flows"), "--routing", str(routing),
                        "--trunk", f"{TRUSTED_IP}:{trunk.port}", "--transcription", "off"]))
        await set_state(server, "a1", "available")

        # 1. The attack: an INVITE from an untrusted source asks for a premium number.
        await call_in(server, tmp_path, PREMIUM, UNTRUSTED_IP, "untrusted")
        await trunk_stays_quiet(trunk)
        first = await ended_interaction(server, direction="inbound")
        [untrusted] = await inbound_calls(server)
        # 2. A trusted source asking for the same number: the dial plan refuses it.
        await call_in(server, tmp_path, PREMIUM, TRUSTED_IP, "trusted-premium")
        # The admin's debug dial to the trunk passes the same plan.
        status, body = await debug_dial(server, f"sip:{PREMIUM}@{TRUSTED_IP}:{trunk.port}")
        assert status == 403 and "dial plan" in body["error"], (status, body)
        await trunk_stays_quiet(trunk)
        second = await ended_interaction(server, direction="inbound",
                                         exclude={untrusted["call_id"]})
        assert await ended_calls(desk, settle=0.5) == []  # no agent rung for it either
        assert (await get_json(server, "/api/callbacks?state=waiting,dialing,done,failed"))[
            "callbacks"] == []
        assert [c["trusted_by"] for c in await inbound_calls(server)] == [None, "trunk"]
        # Each flow went to `on_unavailable`, the reason (never the number) on its case.
        why_untrusted = ivr_event(first, "unavailable")
        why_premium = ivr_event(second, "unavailable")
        assert why_untrusted is not None and "trusted trunk" in why_untrusted["reason"], first
        assert why_premium is not None and ("another country" in why_premium["reason"]
                                            or "not a valid number" in why_premium["reason"])
        assert "5551234" not in why_untrusted["reason"] + why_premium["reason"]
        assert ivr_event(first, "callback") is None and ivr_event(second, "callback") is None

        # 3. A trusted caller with a number in the plan is called back through the trunk.
        await call_in(server, tmp_path, MOBILE, TRUSTED_IP, "trusted-mobile")

        async def done() -> list[dict[str, Any]]:
            body = await get_json(server, "/api/callbacks?state=done")
            found: list[dict[str, Any]] = body["callbacks"]
            return found

        [called] = await wait_for(done, within=40.0, what="the trusted callback carried out")
        assert called["number"] == MOBILE
        assert trunk.invites() == [f"sip:{MOBILE}@{TRUSTED_IP}:{trunk.port}"]
        [to_desk] = await ended_calls(desk, settle=3.0)
        assert to_desk.duration > 1.0  # the agent was bridged to the customer
