"""ICE on a given set of host addresses, loopback included.

aioice (under aiortc) gathers host candidates on every interface address except 127.0.0.1,
so a server and a browser on one machine cannot meet on loopback by themselves. And when both
sides do have a loopback candidate, Chromium still prefers its non-loopback address
(192.0.2.2 here): its checks from that address reach our 127.0.0.1 socket, aioice learns a
peer-reflexive candidate from them, and answers go to an address a loopback-bound socket
cannot reach. So, for a leg bound to loopback:

* `pregather()` gathers our host candidates on exactly the given addresses before aiortc
  would gather (it then finds gathering done and keeps them);
* `restrict_offer()` drops the offer's candidates that cannot reach those addresses;
* `drop_foreign_checks()` ignores connectivity checks from sources that cannot either.

"Cannot reach" is deliberately simple: a loopback address only talks to loopback addresses.
Offers must carry their candidates (non-trickle): the browser waits for ICE gathering to
complete before posting its offer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from aiortc import RTCPeerConnection

from voice.webrtc.errors import OfferError, WebRtcError

ICE_COMPONENT = 1  # aiortc multiplexes RTCP on the RTP component (rtcp-mux)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback IP literal (names, e.g. mDNS `.local`, are not)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_only(addresses: Sequence[str] | None) -> bool:
    """Whether a leg on `addresses` is confined to loopback."""
    return bool(addresses) and all(is_loopback(a) for a in addresses or ())


def restrict_offer(sdp: str) -> str:
    """The offer without its non-loopback candidates; an `OfferError` if none is left."""
    kept: list[str] = []
    offered = remaining = 0
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            offered += 1
            fields = line.split()
            if len(fields) < 8 or not is_loopback(fields[4]):
                continue
            remaining += 1
        kept.append(line)
    if offered and not remaining:
        raise OfferError(
            f"the offer has {offered} ICE candidate(s) and none on loopback; start the "
            "browser with --allow-loopback-in-peer-connection and without mDNS candidates"
        )
    if not offered:
        raise OfferError("the offer has no ICE candidates (post it once gathering is complete)")
    return "\r\n".join(kept) + "\r\n"


def _connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections of the peer connection's transports (one with BUNDLE)."""
    found: dict[int, Any] = {}
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        if dtls is None:
            continue
        connection = getattr(dtls.transport.iceGatherer, "_connection", None)
        if connection is None:
            raise WebRtcError("this aiortc version hides its ICE connection; cannot bind ICE")
        found[id(connection)] = connection
    return list(found.values())


async def pregather(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Gather host candidates on `addresses` only (call after setRemoteDescription, before
    setLocalDescription)."""
    for connection in _connections(pc):
        if getattr(connection, "_local_candidates_start", True):
            raise WebRtcError("ICE gathering already started or aioice internals changed")
        connection._local_candidates_start = True
        candidates = await connection.get_component_candidates(
            component=ICE_COMPONENT, addresses=list(addresses)
        )
        if not candidates:
            raise WebRtcError(f"could not bind an ICE socket on {list(addresses)}")
        connection._local_candidates += candidates
        connection._local_candidates_end = True


def drop_foreign_checks(pc: RTCPeerConnection) -> None:
    """Ignore STUN checks from non-loopback sources (see the module docstring)."""
    for connection in _connections(pc):
        received = connection.request_received

        def filtered(message: Any, addr: tuple[str, int], protocol: Any,
                     _received: Any = received) -> None:
            if is_loopback(addr[0]):
                _received(message, addr, protocol)

        connection.request_received = filtered
