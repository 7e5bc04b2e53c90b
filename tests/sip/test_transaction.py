"""The four transaction state machines on a FakeClock: timers, retransmissions, timeouts."""

from __future__ import annotations

import pytest

from media.clock import FakeClock
from voice.sip.builder import make_response
from voice.sip.errors import TransactionError, TransportError
from voice.sip.message import SipRequest, SipResponse, parse_message
from voice.sip.server_transaction import InviteServerTransaction, NonInviteServerTransaction
from voice.sip.transaction import (
    InviteClientTransaction,
    NonInviteClientTransaction,
    State,
    Timers,
)

T = Timers()


def req(method: str) -> SipRequest:
    msg = parse_message(
        (
            f"{method} sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n"
            f"From: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\n"
            "Contact: <sip:b@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"
        ).encode()
    )
    assert isinstance(msg, SipRequest)
    return msg


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []
        self.clock = FakeClock()
        self.fail = False

    def __call__(self, data: bytes) -> None:
        if self.fail:
            raise TransportError("down")
        self.sent.append((self.clock.now(), data))

    def times(self) -> list[float]:
        return [round(t, 3) for t, _ in self.sent]


def resp(request: SipRequest, status: int) -> SipResponse:
    return make_response(request, status, to_tag="tt")


def client(cls: type, method: str, reliable: bool = False):  # type: ignore[no-untyped-def]
    wire = Wire()
    got: list[int] = []
    timeouts: list[bool] = []
    ended: list[bool] = []
    tx = cls(("b", method), req(method), wire, wire.clock, T, reliable,
             lambda r: got.append(r.status), lambda: timeouts.append(True))
    tx.on_terminated = lambda _t: ended.append(True)
    tx.start()
    return tx, wire, got, timeouts, ended


def test_ict_timer_a_doubles_and_timer_b_times_out() -> None:
    tx, wire, got, timeouts, ended = client(InviteClientTransaction, "INVITE")
    wire.clock.advance(40)
    # A: 0.5, 1, 2, 4, 8, 16 -> sends at 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5; B fires at 32.
    assert wire.times() == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert timeouts == [True] and ended == [True] and tx.state is State.TERMINATED


def test_ict_reliable_sends_once() -> None:
    tx, wire, got, timeouts, _ = client(InviteClientTransaction, "INVITE", reliable=True)
    wire.clock.advance(31)
    assert len(wire.sent) == 1 and tx.state is State.CALLING
    wire.clock.advance(2)
    assert timeouts == [True]


def test_ict_provisional_stops_retransmissions_and_timer_b() -> None:
    tx, wire, got, timeouts, _ = client(InviteClientTransaction, "INVITE")
    tx.receive(resp(tx.request, 180))
    assert tx.state is State.PROCEEDING
    wire.clock.advance(100)
    assert len(wire.sent) == 1 and timeouts == [] and got == [180]


def test_ict_error_final_acks_and_absorbs_retransmission_timer_d() -> None:
    tx, wire, got, _, ended = client(InviteClientTransaction, "INVITE")
    final = resp(tx.request, 486)
    tx.receive(final)
    assert tx.state is State.COMPLETED and got == [486]
    ack = parse_message(wire.sent[-1][1])
    assert isinstance(ack, SipRequest) and ack.method == "ACK"
    assert ack.top_via == tx.request.top_via and ack.to_tag == "tt" and ack.cseq == (1, "ACK")
    tx.receive(final)
    assert got == [486] and wire.sent[-1][1] == wire.sent[-2][1]  # ACK re-sent, TU not told
    wire.clock.advance(31.9)
    assert not ended
    wire.clock.advance(0.2)
    assert ended == [True]


def test_ict_2xx_goes_to_accepted_and_passes_retransmissions() -> None:
    tx, wire, got, _, ended = client(InviteClientTransaction, "INVITE")
    ok = resp(tx.request, 200)
    tx.receive(ok)
    tx.receive(ok)
    assert tx.state is State.ACCEPTED and got == [200, 200]
    wire.clock.advance(T.timeout + 0.1)  # Timer M
    assert ended == [True]


def test_nict_timer_e_caps_at_t2_and_timer_f() -> None:
    tx, wire, got, timeouts, _ = client(NonInviteClientTransaction, "BYE")
    wire.clock.advance(33)
    assert wire.times()[:6] == [0, 0.5, 1.5, 3.5, 7.5, 11.5]
    gaps = {round(b - a, 3) for a, b in zip(wire.times()[4:], wire.times()[5:], strict=False)}
    assert gaps == {4.0}
    assert timeouts == [True] and tx.state is State.TERMINATED


def test_nict_proceeding_retransmits_every_t2_and_timer_k() -> None:
    tx, wire, got, timeouts, ended = client(NonInviteClientTransaction, "BYE")
    tx.receive(resp(tx.request, 100))
    assert tx.state is State.PROCEEDING
    wire.clock.advance(0.6)  # E fires in Proceeding: next interval is T2
    wire.clock.advance(4.0)
    assert wire.times() == [0, 0.5, 4.5]
    tx.receive(resp(tx.request, 200))
    assert tx.state is State.COMPLETED and got == [100, 200]
    tx.receive(resp(tx.request, 200))
    assert got == [100, 200]
    wire.clock.advance(T.t4 + 0.01)
    assert ended == [True] and timeouts == []


def test_client_transport_error_terminates() -> None:
    wire = Wire()
    wire.fail = True
    timeouts: list[bool] = []
    tx = NonInviteClientTransaction(("b", "BYE"), req("BYE"), wire, wire.clock, T, False,
                                    lambda r: None, lambda: timeouts.append(True))
    tx.start()
    assert tx.state is State.TERMINATED and timeouts == [True]


def server(cls: type, method: str, reliable: bool = False):  # type: ignore[no-untyped-def]
    wire = Wire()
    ended: list[bool] = []
    tx = cls(("b",), req(method), wire, wire.clock, T, reliable)
    tx.on_terminated = lambda _t: ended.append(True)
    return tx, wire, ended


def test_ist_repeated_invite_resends_latest_provisional() -> None:
    tx, wire, _ = server(InviteServerTransaction, "INVITE")
    assert tx.receive(tx.request) and wire.sent == []  # nothing to repeat yet
    tx.respond(resp(tx.request, 100))
    tx.respond(resp(tx.request, 180))
    assert tx.receive(tx.request)
    assert parse_message(wire.sent[-1][1]).status == 180  # type: ignore[union-attr]


def test_ist_error_final_timer_g_until_ack_then_timer_i() -> None:
    tx, wire, ended = server(InviteServerTransaction, "INVITE")
    tx.respond(resp(tx.request, 486))
    assert tx.state is State.COMPLETED
    wire.clock.advance(8)
    assert wire.times() == [0, 0.5, 1.5, 3.5, 7.5]
    ack = req("INVITE")
    ack.method = "ACK"
    assert tx.receive(ack) and tx.state is State.CONFIRMED
    wire.clock.advance(10)
    assert len(wire.sent) == 5
    assert ended == [True]


def test_ist_timer_h_without_ack() -> None:
    tx, wire, ended = server(InviteServerTransaction, "INVITE")
    timeouts: list[bool] = []
    tx.on_timeout = lambda: timeouts.append(True)
    tx.respond(resp(tx.request, 500))
    wire.clock.advance(T.timeout + 0.1)
    assert timeouts == [True] and ended == [True]
    # G capped at T2: gaps never exceed 4 s.
    times = wire.times()
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) == 4.0


def test_ist_2xx_accepted_absorbs_invites_timer_l() -> None:
    tx, wire, ended = server(InviteServerTransaction, "INVITE")
    tx.respond(resp(tx.request, 200))
    assert tx.state is State.ACCEPTED
    assert tx.receive(tx.request) and len(wire.sent) == 1  # absorbed, the TU retransmits 2xx
    ack = req("INVITE")
    ack.method = "ACK"
    assert not tx.receive(ack)  # the 2xx ACK is the dialog's business
    with pytest.raises(TransactionError, match="ACCEPTED"):
        tx.respond(resp(tx.request, 486))
    wire.clock.advance(T.timeout + 0.1)
    assert ended == [True]


def test_ist_reliable_has_no_timer_g() -> None:
    tx, wire, _ = server(InviteServerTransaction, "INVITE", reliable=True)
    tx.respond(resp(tx.request, 486))
    wire.clock.advance(10)
    assert len(wire.sent) == 1


def test_nist_trying_absorbs_then_resends_final_timer_j() -> None:
    tx, wire, ended = server(NonInviteServerTransaction, "BYE")
    assert tx.receive(tx.request) and wire.sent == []
    tx.respond(resp(tx.request, 100))
    assert tx.state is State.PROCEEDING
    tx.receive(tx.request)
    assert len(wire.sent) == 2
    tx.respond(resp(tx.request, 200))
    tx.receive(tx.request)
    assert [parse_message(d).status for _, d in wire.sent] == [100, 100, 200, 200]  # type: ignore[union-attr]
    with pytest.raises(TransactionError, match="COMPLETED"):
        tx.respond(resp(tx.request, 500))
    wire.clock.advance(T.timeout - 0.1)
    assert not ended
    wire.clock.advance(0.2)
    assert ended == [True]


def test_nist_reliable_timer_j_zero() -> None:
    tx, wire, ended = server(NonInviteServerTransaction, "OPTIONS", reliable=True)
    tx.respond(resp(tx.request, 200))
    wire.clock.advance(0)
    assert ended == [True]


def test_illegal_move_names_state() -> None:
    tx, _, _ = server(NonInviteServerTransaction, "BYE")
    with pytest.raises(TransactionError, match="TRYING -> CONFIRMED"):
        tx._set_state(State.CONFIRMED)


def test_configurable_timers() -> None:
    wire = Wire()
    tx = NonInviteClientTransaction(("b", "BYE"), req("BYE"), wire, wire.clock,
                                    Timers(t1=0.1, t2=0.2), False, lambda r: None, lambda: None)
    tx.start()
    wire.clock.advance(1.0)
    assert wire.times()[:5] == [0, 0.1, 0.3, 0.5, 0.7]
