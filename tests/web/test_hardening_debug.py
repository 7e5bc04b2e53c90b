"""The debug API never shows a sensitive step's digits (issue 17, finding 6).

A real pjsua2 caller types a PIN into a flow whose gather is sensitive; `GET /api/debug/calls`
(the `--debug-api` list) must show it masked as the case does ("***"), whether the caller
typed it while the gather listened or ahead, over the announcement before it (type-ahead the
gather then takes). Before: "4321#" typed ahead showed as is, and typed in the gather as
"*****" (its length).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.media.events import CallInput, Digit, HungUp
from tests.conftest import ServerFactory
from tests.e2e.api import ended_interaction, get_json
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow

FLOW = """\
name: pin
default: true
steps:
  - say: "Welcome to the bank. Please have your card at hand while we connect you."
  - label: pin
    gather: {prompt: "Enter your PIN then hash.", variable: pin, terminator: "#",
             max_digits: 6, timeout: 8, on_timeout: goodbye}
    sensitive: true
  - label: goodbye
    say: "Goodbye."
  - hangup
"""

PIN = "4321"


@pytest.mark.parametrize("delay", [0.5, 7.0], ids=["typed-ahead", "typed-in-the-gather"])
async def test_the_debug_api_masks_a_sensitive_steps_digits(
    server_factory: ServerFactory, tmp_path: Path, delay: float
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "pin.yaml").write_text(FLOW)
    server = await server_factory(
        ServerOptions(extra_args=["--flows", str(flows), "--transcription", "off"])
    )
    result = await place_call(
        f"sip:100@{server.sip_target}", from_user="+15550100", dtmf=PIN + "#",
        dtmf_delay=delay, duration=delay + 8.0,
    )
    assert result.connected, result
    interaction = await ended_interaction(server, within=20.0)
    stored = str(interaction["ivr_events"])
    assert PIN not in stored and "***" in stored  # the case keeps the entry as "***"
    debug = (await get_json(server, "/api/debug/calls"))[-1]
    assert len(debug["digit_sources"]) == len(PIN + "#"), debug  # every key did arrive
    # Masked as the case masks it: no key, not even how many.
    assert debug["digits"] == "***", debug["digits"]


async def test_a_sensitive_step_masks_the_keys_no_step_has_read_however_far_back() -> None:
    from media.clock import LoopClock
    from tests.voice.test_call import FakeLeg
    from voice.call import MASKED_KEY, Call, Direction

    call = Call("c1", Direction.INBOUND, FakeLeg())
    reader = CallInput.of(call)
    clock = LoopClock()

    def type_keys(keys: str) -> None:
        for key in keys:
            call.digit(key, 100, "rfc4733")

    # As the interpreter runs a flow: sensitive_input set at each step's start, cleared at
    # its end. A menu reads its "2"; "4321#" comes while it still runs (type-ahead).
    call.sensitive_input = False
    type_keys("24321#")
    assert await reader.next(clock, 0.1) == Digit("2")
    call.sensitive_input = False
    for _step in ("set", "goto", "say"):  # steps that read no key (the bug: two steps back)
        call.sensitive_input = False  # its start
        call.sensitive_input = False  # its end
    call.sensitive_input = True  # the PIN's gather: what nobody read yet is its to take
    taken = [await reader.next(clock, 0.1) for _ in range(5)]
    assert taken == [Digit(k) for k in "4321#"]  # the verb still gets the real keys
    type_keys("9")  # typed during the sensitive step
    call.sensitive_input = False
    type_keys("*")  # after it: kept, the star key
    assert call.digits == ["2", *[MASKED_KEY] * 6, "*"]
    assert call.shown_digits() == "2" + MASKED_KEY + "*"


async def test_a_key_handed_back_is_type_ahead_again() -> None:
    from media.clock import LoopClock
    from tests.voice.test_call import FakeLeg
    from voice.call import MASKED_KEY, Call, Direction

    call = Call("c2", Direction.INBOUND, FakeLeg())
    reader = CallInput.of(call)
    clock = LoopClock()
    call.digit("7", 100, "rfc4733")
    # A prompt cut short by the key hands it back for the gather after it.
    reader.unread(await reader.next(clock, 0.1) or HungUp())
    call.sensitive_input = True
    assert call.digits == [MASKED_KEY]
    assert await reader.next(clock, 0.1) == Digit("7")
