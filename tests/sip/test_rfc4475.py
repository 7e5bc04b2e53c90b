"""RFC 4475 torture messages driven in process through the parser and the UAS.

Each message of `tests/sip/rfc4475/messages.py` goes through `parse_message` and then
`SipUserAgent.handle_message` (a fresh UA per message, with the real registrar for REGISTER
and an INVITE handler that answers with the real SDP offer/answer code, as voice.calls does):
valid requests are answered as the RFC expects, invalid ones refused with the status the RFC
names and a reason phrase saying what is wrong, responses parsed or discarded, nothing crashes
(the UA's internal_errors counter stays 0) and whatever we send parses back.

The regression tests at the bottom each failed on the code before this change.
"""

from __future__ import annotations

import asyncio

import pytest

from media.clock import FakeClock
from tests.sip.rfc4475.messages import CASES, ESC01, Case, Expect
from voice.sdp import SdpError, SessionDescription, answer_offer
from voice.sip.errors import SipParseError
from voice.sip.message import SipResponse, parse_message
from voice.sip.registrar import Registrar, RegistrarConfig
from voice.sip.session import InviteSession
from voice.sip.ua import SipUserAgent, UaConfig

PEER = ("192.0.2.9", 5060)


class CaptureFlow:
    transport = "UDP"
    reliable = False
    local = ("127.0.0.1", 5060)

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)


def _answer(session: InviteSession) -> None:
    """Answer like voice.calls: parse the offer, answer its audio, 488 when none fits."""
    try:
        offer = SessionDescription.parse(session.remote_sdp or b"")
        answer, _ = answer_offer(offer, "127.0.0.1", 40000, session_id=1)
    except SdpError as exc:
        session.reject(488, str(exc)[:80])
        return
    session.ring()
    session.answer(str(answer).encode())


def _ua(clock: FakeClock) -> SipUserAgent:
    registrar = Registrar(RegistrarConfig(realm="example.com", users={"user": "pw"}), clock)
    return SipUserAgent(clock, UaConfig(udp_port=None, tcp_port=None, tls_port=None),
                        on_invite=_answer, on_register=registrar.on_register)


async def _drive(data: bytes) -> tuple[SipUserAgent, list[SipResponse]]:
    ua = _ua(FakeClock())
    flow = CaptureFlow()
    ua.handle_message(data, flow, PEER)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert ua.metrics["internal_errors"] == 0
    sent = []
    for raw in flow.sent:
        status_line = raw.split(b"\r\n", 1)[0].decode()
        _, code, reason = status_line.split(" ", 2)
        if code in ("400", "505"):
            # A refusal copies the request's (possibly malformed) headers back as they came.
            sent.append(SipResponse(status=int(code), reason=reason))
            continue
        msg = parse_message(raw)  # everything else we send must parse
        assert isinstance(msg, SipResponse)
        sent.append(msg)
    await ua.close()
    return ua, sent


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_rfc4475_message(case: Case) -> None:
    try:
        parse_message(case.data)
    except SipParseError as exc:
        assert exc.reason and exc.reason.isprintable()
        assert case.expect is not Expect.ANSWER, f"valid message refused: {exc.reason}"
    ua, sent = await _drive(case.data)
    finals = [r for r in sent if r.status >= 200]
    if case.expect is Expect.DROP:
        assert sent == []
        return
    assert len(finals) == 1, [r.status for r in sent]
    final = finals[0]
    assert final.status in case.statuses, (final.status, final.reason)
    assert final.reason
    if case.expect is Expect.REJECT and final.status == 400:
        assert final.reason != "Bad Request"  # the reason names the problem


def test_table_covers_all_49_messages() -> None:
    assert len(CASES) == 49
    assert len({c.name for c in CASES}) == 49


# --- regressions: each failed on the code before this change ----------------------------------

def test_via_with_spaces_around_slashes_is_valid() -> None:
    msg = parse_message(CASES[0].data)  # wsinv: "SIP  /   2.0\r\n /UDP"
    assert msg.top_via.startswith("SIP/2.0/UDP 192.0.2.2")
    assert len(msg.headers.get_all("Via")) == 3


def test_escaped_nul_in_quoted_display_name_is_valid() -> None:
    msg = parse_message(CASES[1].data)  # intmeth: To: "BEL:\<07> NUL:\<00> DEL:\<7f>"
    assert msg.call_id.startswith("intmeth.")
    with pytest.raises(SipParseError, match="NUL"):
        parse_message(CASES[1].data.replace(b"Max-Forwards: 255", b"Max-Forwards: 2\x0055"))


def test_ten_digit_status_code_is_not_a_429() -> None:
    with pytest.raises(SipParseError):
        parse_message(next(c for c in CASES if c.name == "bigcode").data)


async def test_unusual_valid_requests_are_answered() -> None:
    for name in ("intmeth", "inv2543", "novelsc", "lwsstart", "trws", "badvers"):
        _, sent = await _drive(next(c for c in CASES if c.name == name).data)
        assert [r for r in sent if r.status >= 200], name


async def test_video_line_with_odd_rtpmap_is_declined_not_488() -> None:
    offer = SessionDescription.parse(ESC01.split(b"\r\n\r\n", 1)[1])
    answer, params = answer_offer(offer, "127.0.0.1", 40000, session_id=1)
    assert params.codec == "PCMU"
    assert [m.port for m in answer.media] == [40000, 0]  # audio taken, video declined
    _, sent = await _drive(ESC01)
    assert sent[-1].status == 200
