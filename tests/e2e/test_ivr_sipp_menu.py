"""A menu driven by SIPp with RFC 4733 digits replayed from SIPp's own captures: an invalid
key, then silence past the timeout, then a valid key. The path, every try (invalid, timeout,
match) and the variables set are read back from the stored interaction on the case.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction
from tests.helpers.server import ServerOptions
from tests.helpers.sipp import run_sipp

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="SIPp plays pcap audio only as root"),
]

PCAPS = Path("/usr/share/sip-tester")

FLOW = """\
name: sipp-menu
default: true
steps:
  - label: menu
    menu:
      prompt: "Press 1 or 2."
      choices:
        - {digits: "1", goto: billing}
        - {digits: "2", goto: support}
      retries: 2
      timeout: 4
      invalid_prompt: "Not an option."
      timeout_prompt: "I did not hear you."
      on_failure: goodbye
      variable: choice
  - label: billing
    set: {team: billing}
  - goto: goodbye
  - label: support
    set: {team: support, priority: 2}
  - label: goodbye
    say: "Goodbye."
  - hangup
"""

# The server's side, roughly (espeak-ng at its default rate): "9" cuts the first prompt at
# ~1 s and is invalid; "Not an option." (~1.1 s) and the prompt again (~1.2 s) end by ~3.5 s;
# four seconds of silence make the timeout at ~7.5 s; "I did not hear you." and the prompt
# once more end by ~10 s, and that try would time out at ~14 s. "2" at ~10.5 s sits in the
# middle of the (7.5 s, 14 s) window a valid third try needs, with some 3 s either side.
DELAY_BEFORE_INVALID_MS = 1000
DELAY_BEFORE_VALID_MS = 9500

SCENARIO = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="IVR menu: invalid key, timeout, valid key (RFC 4733 pcaps)">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:+15550142@[local_ip]:[local_port]>;tag=[pid]X[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
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
  <recv response="200" rtd="true" rrs="true"/>

  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:+15550142@[local_ip]:[local_port]>;tag=[pid]X[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <pause milliseconds="{DELAY_BEFORE_INVALID_MS}"/>
  <nop>
    <action>
      <exec play_pcap_audio="{PCAPS / 'dtmf_2833_9.pcap'}"/>
    </action>
  </nop>
  <pause milliseconds="{DELAY_BEFORE_VALID_MS}"/>
  <nop>
    <action>
      <exec play_pcap_audio="{PCAPS / 'dtmf_2833_2.pcap'}"/>
    </action>
  </nop>

  <!-- support: the flow sets its variables, says goodbye and hangs up. -->
  <recv request="BYE" timeout="20000"/>
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
  <pause milliseconds="600"/>
</scenario>
"""


async def test_menu_invalid_then_timeout_then_valid_key_is_stored(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "menu.yaml").write_text(FLOW)
    server = await server_factory(
        ServerOptions(extra_args=["--flows", str(flows), "--transcription", "off"])
    )
    scenario_file = tmp_path / "ivr_menu_retries.xml"
    scenario_file.write_text(SCENARIO, encoding="ISO-8859-1")
    result = await run_sipp(
        ["-m", "1", "-s", "100", "-recv_timeout", "25000"],
        target=server.sip_target, workdir=tmp_path, scenario_file=scenario_file,
        kill_after=60,
    )
    result.assert_calls(successful=1)

    interaction = await ended_interaction(server, path_recorded=True)
    events = interaction["ivr_events"]

    # Every try of the menu is kept, in order: the invalid key, the silence, the valid key.
    tries = [e for e in events if e["kind"] == "digits" and e["step"] == "menu"]
    assert [(t["value"]["outcome"], t["value"]["digits"]) for t in tries] == [
        ("invalid", "9"), ("timeout", ""), ("match", "2"),
    ], events
    assert all(t["value"]["variable"] == "choice" for t in tries)
    assert not any(e["sensitive"] for e in events)

    # The variables set on the support branch, each as a `variable` event of its step.
    variables = [e for e in events if e["kind"] == "variable"]
    assert [(e["step"], e["value"]) for e in variables] == [
        ("support", {"team": "support"}), ("support", {"priority": 2}),
    ], events

    # The path: menu -> support -> goodbye -> hangup, never billing.
    path = next(e["value"] for e in events if e["kind"] == "path")
    labels = [step["label"] for step in path]
    verbs = [step["verb"] for step in path]
    assert labels[:3] == ["menu", "support", "goodbye"], path
    assert verbs == ["menu", "set", "say", "hangup"], path
    assert "billing" not in labels
