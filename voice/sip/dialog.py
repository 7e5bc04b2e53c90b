"""Dialogs (RFC 3261 §12): the state two UAs share between INVITE and BYE.

A dialog is identified by Call-ID, local tag and remote tag. It remembers both CSeq counters,
the remote target (the peer's Contact) and the route set (Record-Route: kept in order by the
UAS, reversed by the UAC) and builds in-dialog requests with the right Request-URI and Route
headers (§12.2.1.1, loose and strict routing).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from voice.sip.errors import DialogError, SipParseError
from voice.sip.headers import NameAddress
from voice.sip.message import SipRequest, SipResponse

log = logging.getLogger(__name__)

DialogId = tuple[str, str, str]


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


_MOVES = {
    DialogState.EARLY: {DialogState.CONFIRMED, DialogState.TERMINATED},
    DialogState.CONFIRMED: {DialogState.TERMINATED},
}


def _contact_uri(message: SipRequest | SipResponse) -> str:
    contact = message.headers.get("Contact")
    if not contact and isinstance(message, SipRequest) and message.headers.get("From"):
        # An RFC 2543 peer may send an INVITE without Contact: its From is where it is
        # reached (RFC 4475 §3.4.1).
        contact = message.headers.get("From")
    if not contact:
        raise DialogError("dialog-creating message without Contact")
    try:
        return NameAddress.parse(contact).uri
    except SipParseError as exc:
        raise DialogError(f"bad Contact: {exc.reason}") from exc


@dataclass
class Dialog:
    """One dialog's state; `create_request()` builds the next in-dialog request."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str  # the full From/To header value on our side, without tag
    remote_uri: str
    remote_target: str
    local_seq: int
    remote_seq: int | None
    route_set: list[str] = field(default_factory=list)
    secure: bool = False
    state: DialogState = DialogState.EARLY

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    def _set_state(self, new: DialogState) -> None:
        old = self.state
        if new is old:
            return
        if new not in _MOVES.get(old, set()):
            raise DialogError(f"dialog: illegal move {old.name} -> {new.name}")
        self.state = new
        log.debug("dialog %s: %s -> %s", self.call_id, old.name, new.name)

    def confirm(self) -> None:
        self._set_state(DialogState.CONFIRMED)

    def terminate(self) -> None:
        if self.state is not DialogState.TERMINATED:
            self._set_state(DialogState.TERMINATED)

    # -- creation -----------------------------------------------------------------------------
    @classmethod
    def from_uas(cls, request: SipRequest, local_tag: str) -> Dialog:
        """The UAS side of a dialog created by `request` (§12.1.1)."""
        remote_tag = request.from_tag or ""
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=_strip_tag(request.headers.get("To") or ""),
            remote_uri=_strip_tag(request.headers.get("From") or ""),
            remote_target=_contact_uri(request),
            local_seq=0,
            remote_seq=request.cseq[0],
            route_set=request.headers.get_all("Record-Route"),
            secure=request.uri.lower().startswith("sips:"),
        )

    @classmethod
    def from_uac(cls, request: SipRequest, response: SipResponse) -> Dialog:
        """The UAC side, from our INVITE and the peer's 1xx/2xx with a To tag (§12.1.2)."""
        tag = response.to_tag
        if not tag:
            raise DialogError("response without To tag cannot create a dialog")
        return cls(
            call_id=request.call_id,
            local_tag=request.from_tag or "",
            remote_tag=tag,
            local_uri=_strip_tag(request.headers.get("From") or ""),
            remote_uri=_strip_tag(response.headers.get("To") or ""),
            remote_target=_contact_uri(response),
            local_seq=request.cseq[0],
            remote_seq=None,
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            secure=request.uri.lower().startswith("sips:"),
        )

    # -- in-dialog traffic --------------------------------------------------------------------
    def accept_remote_cseq(self, request: SipRequest) -> bool:
        """Check and record the CSeq of an incoming in-dialog request (§12.2.2).

        ACK and CANCEL reuse their INVITE's number and are not checked.
        """
        if request.method in ("ACK", "CANCEL"):
            return True
        seq = request.cseq[0]
        if self.remote_seq is not None and seq <= self.remote_seq:
            return False
        self.remote_seq = seq
        return True

    def update_target(self, message: SipRequest | SipResponse) -> None:
        """A target refresh (re-INVITE or its 2xx) may move the remote target."""
        if message.headers.get("Contact"):
            self.remote_target = _contact_uri(message)

    def create_request(
        self, method: str, via: str, *, body: bytes = b"", content_type: str | None = None,
        cseq: int | None = None, contact: str | None = None,
    ) -> SipRequest:
        """The next in-dialog request; `cseq` overrides for ACK (same number as its INVITE)."""
        if self.state is DialogState.TERMINATED:
            raise DialogError(f"cannot send {method}: dialog is {self.state.name}")
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        routes = list(self.route_set)
        uri = self.remote_target
        if routes and ";lr" not in routes[0]:
            # Strict routing (§12.2.1.1): the first route becomes the Request-URI.
            uri = NameAddress.parse(routes[0]).uri
            routes = routes[1:] + [f"<{self.remote_target}>"]
        req = SipRequest(method=method, uri=uri)
        h = req.headers
        h.add("Via", via)
        h.add("Max-Forwards", "70")
        for route in routes:
            h.add("Route", route)
        h.add("From", f"{self.local_uri};tag={self.local_tag}")
        h.add("To", f"{self.remote_uri};tag={self.remote_tag}")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        if contact is not None:
            h.add("Contact", contact)
        if body:
            h.add("Content-Type", content_type or "application/sdp")
        req.body = body
        return req


def _strip_tag(value: str) -> str:
    """A From/To value without its tag parameter (the tag is re-added when building)."""
    if ";" not in value:
        return value
    head, tail = value, ""
    if ">" in value:
        cut = value.rfind(">") + 1
        head, tail = value[:cut], value[cut:]
    else:
        cut = value.find(";")
        head, tail = value[:cut], value[cut:]
    params = [p for p in tail.split(";") if p.strip() and not p.strip().lower().startswith("tag=")]
    return head + "".join(f";{p.strip()}" for p in params)
