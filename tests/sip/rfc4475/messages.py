"""The 49 messages of RFC 4475 ("SIP Torture Test Messages"), section by section.

Each `Case` holds the message's bytes as the RFC prints them (CRLF line ends; the RFC's
`<hex>..</hex>` notation written as the bytes it stands for; the bodies' Content-Length as
the RFC gives it) and what the RFC expects an element like ours (a UAS, with a registrar)
to do with it:

* `Expect.ANSWER`: a valid request, handled: answered with one of `statuses`;
* `Expect.REJECT`: an invalid request answered 400 (or the status named), reason phrase set;
* `Expect.DROP`: nothing can or should be answered (a response, or a request the RFC says
  to discard): parsed or refused, no crash and nothing sent.

`rfc` is the RFC's expectation in a few words and `ours` what Centralita does; the README's
RFC 4475 table is these two columns (tests/sip/test_rfc4475.py checks they agree with the
code's behaviour).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tests.sip.rfc4475.invalid import (
    BADASPEC,
    BADDATE,
    BADDN,
    BADINV01,
    BADVERS,
    BIGCODE,
    CLERR,
    ESCRURI,
    LTGTRURI,
    LWSRURI,
    LWSSTART,
    MISMATCH01,
    MISMATCH02,
    NCL,
    QUOTBAL,
    REGBADCT,
    SCALAR02,
    SCALARLG,
    TRWS,
)
from tests.sip.rfc4475.layers import (
    BADBRANCH,
    BCAST,
    BEXT01,
    CPARAM01,
    CPARAM02,
    INSUF,
    INV2543,
    INVUT,
    MCL01,
    MULTI01,
    NOVELSC,
    REGAUT01,
    REGESCRT,
    SDP01,
    UNKSCM,
    UNKSM2,
    ZEROMF,
)
from tests.sip.rfc4475.valid import (
    DBLREQ,
    ESC01,
    ESC02,
    ESCNULL,
    INTMETH,
    LONGREQ,
    LWSDISP,
    MPART01,
    NOREASON,
    SEMIURI,
    TRANSPORTS,
    UNREASON,
    WSINV,
)


class Expect(enum.Enum):
    ANSWER = "answer"
    REJECT = "reject"
    DROP = "drop"


@dataclass(frozen=True)
class Case:
    name: str
    section: str
    title: str
    data: bytes
    expect: Expect
    statuses: frozenset[int]
    rfc: str
    ours: str

_A = Expect.ANSWER
_R = Expect.REJECT
_D = Expect.DROP
_CALL = frozenset({200})  # the test UAS answers an offer it can take 200 (after 100/180)


def _c(name: str, section: str, title: str, data: bytes, expect: Expect, statuses: set[int],
       rfc: str, ours: str) -> Case:
    return Case(name, section, title, data, expect, frozenset(statuses), rfc, ours)


CASES: tuple[Case, ...] = (
    _c("wsinv", "3.1.1.1", "A short tortuous INVITE", WSINV, _A, {481},
       "valid: process normally",
       "parsed (3 Vias, LWS around slashes); its To has a tag and no such dialog: 481"),
    _c("intmeth", "3.1.1.2", "Wide range of valid characters", INTMETH, _A, {501},
       "valid; unknown method: 501 with Allow", "501 Not Implemented"),
    _c("esc01", "3.1.1.3", "Valid use of the % escaping mechanism", ESC01, _A, {200},
       "valid: process normally", "200, audio answered, video declined"),
    _c("escnull", "3.1.1.4", "Escaped nulls in URIs", ESCNULL, _A, {401},
       "valid: process normally", "401 (registrar challenge)"),
    _c("esc02", "3.1.1.5", "Use of % when it is not an escape", ESC02, _A, {501},
       "valid; RE%47IST%45R is an unknown method: 501", "501 Not Implemented"),
    _c("lwsdisp", "3.1.1.6", "No LWS between display name and <", LWSDISP, _A, {200},
       "valid: process normally", "200 OK"),
    _c("longreq", "3.1.1.7", "Long values in header fields", LONGREQ, _A, {200},
       "valid: process normally", "200, audio answered"),
    _c("dblreq", "3.1.1.8", "Extra trailing octets in a UDP datagram", DBLREQ, _A, {401},
       "valid REGISTER; the INVITE after Content-Length is ignored",
       "401 to the REGISTER, trailing INVITE ignored"),
    _c("semiuri", "3.1.1.9", "Semicolon-separated parameters in URI user part", SEMIURI, _A,
       {200}, "valid: process normally", "200 OK"),
    _c("transports", "3.1.1.10", "Varied and unknown transport types", TRANSPORTS, _A, {200},
       "valid: process normally", "200 OK"),
    _c("mpart01", "3.1.1.11", "Multipart MIME message", MPART01, _A, {405},
       "valid: parse, do not fail on the binary body", "405 (MESSAGE not allowed) with Allow"),
    _c("unreason", "3.1.1.12", "Unusual reason phrase", UNREASON, _D, set(),
       "valid response: parse", "parsed; no transaction matches: discarded"),
    _c("noreason", "3.1.1.13", "Empty reason phrase", NOREASON, _D, set(),
       "valid response: parse", "parsed; no transaction matches: discarded"),
    _c("badinv01", "3.1.2.1", "Extraneous header field separators", BADINV01, _R, {400},
       "invalid: 400", "400 bad Via parameters"),
    _c("clerr", "3.1.2.2", "Content-Length larger than message", CLERR, _R, {400},
       "invalid: 400 (UDP)", "400 Content-Length exceeds body"),
    _c("ncl", "3.1.2.3", "Negative Content-Length", NCL, _R, {400},
       "invalid: 400", "400 bad Content-Length"),
    _c("scalar02", "3.1.2.4", "Request scalar fields with overlarge values", SCALAR02, _R,
       {400}, "invalid: 400", "400 CSeq number out of range"),
    _c("scalarlg", "3.1.2.5", "Response scalar fields with overlarge values", SCALARLG, _D,
       set(), "invalid response: discard", "refused by the parser, discarded"),
    _c("quotbal", "3.1.2.6", "Unterminated quoted string in display name", QUOTBAL, _R,
       {400}, "invalid: 400", "400 unterminated quoted string in To"),
    _c("ltgtruri", "3.1.2.7", "<> enclosing Request-URI", LTGTRURI, _R, {400},
       "invalid: 400", "400 malformed Request-URI"),
    _c("lwsruri", "3.1.2.8", "Malformed SIP Request-URI (embedded LWS)", LWSRURI, _R, {400},
       "invalid: 400", "400 malformed start line"),
    _c("lwsstart", "3.1.2.9", "Multiple SP separating Request-Line elements", LWSSTART, _R,
       {400}, "invalid: 400", "400 malformed start line"),
    _c("trws", "3.1.2.10", "SP characters at end of Request-Line", TRWS, _R, {400},
       "invalid: 400", "400 malformed start line"),
    _c("escruri", "3.1.2.11", "Escaped headers in SIP Request-URI", ESCRURI, _R, {400},
       "invalid (headers not allowed in a Request-URI): 400",
       "400 headers in Request-URI"),
    _c("baddate", "3.1.2.12", "Invalid time zone in Date header field", BADDATE, _A, {200},
       "invalid Date; an element that does not use Date may ignore it and process",
       "Date unused: 200, audio answered"),
    _c("regbadct", "3.1.2.13", "Failure to enclose name-addr URI in <>", REGBADCT, _A, {401},
       "ambiguous: the ?Route is a header parameter of an addr-spec Contact; process",
       "401 (registrar challenge)"),
    _c("badaspec", "3.1.2.14", "Spaces within addr-spec", BADASPEC, _A, {200},
       "invalid, but an element may be liberal and accept it", "accepted: 200 OK"),
    _c("baddn", "3.1.2.15", "Non-token characters in display name", BADDN, _R, {400},
       "invalid: 400", "400 bad display name in From"),
    _c("badvers", "3.1.2.16", "Unknown protocol version", BADVERS, _R, {505},
       "505 Version Not Supported", "505 unsupported SIP version"),
    _c("mismatch01", "3.1.2.17", "Start line and CSeq method mismatch", MISMATCH01, _R, {400},
       "invalid: 400", "400 CSeq method does not match request"),
    _c("mismatch02", "3.1.2.18", "Unknown method with CSeq method mismatch", MISMATCH02, _R,
       {400}, "invalid: 400", "400 CSeq method does not match request"),
    _c("bigcode", "3.1.2.19", "Overlarge response code", BIGCODE, _D, set(),
       "invalid response: discard", "refused (malformed status line, not a 429), discarded"),
    _c("badbranch", "3.2.1", "Missing transaction identifier", BADBRANCH, _A, {200},
       "valid: treat as an RFC 2543 transaction, process", "200 OK"),
    _c("insuf", "3.3.1", "Missing required header fields", INSUF, _R, {400},
       "400 Bad Request", "400 missing From"),
    _c("unkscm", "3.3.2", "Request-URI with unknown scheme", UNKSCM, _R, {416},
       "416 Unsupported URI Scheme", "416 Unsupported URI Scheme"),
    _c("novelsc", "3.3.3", "Request-URI with known but atypical scheme", NOVELSC, _R, {416},
       "416 Unsupported URI Scheme", "416 Unsupported URI Scheme"),
    _c("unksm2", "3.3.4", "Unknown URI schemes in header fields", UNKSM2, _R, {400},
       "valid syntax; a registrar rejects it 400 (To is not a SIP URI)",
       "400 unsupported URI scheme (registrar)"),
    _c("bext01", "3.3.5", "Proxy-Require and Require", BEXT01, _R, {420},
       "420 Bad Extension, Unsupported lists the Require values only",
       "420 with Unsupported: nothingSupportsThis, nothingSupportsThisEither"),
    _c("invut", "3.3.6", "Unknown content-type", INVUT, _R, {415},
       "415 Unsupported Media Type with Accept", "415 with Accept: application/sdp"),
    _c("regaut01", "3.3.7", "Unknown authorization scheme", REGAUT01, _A, {401},
       "registrar answers 401 with a challenge", "401 with a Digest challenge"),
    _c("multi01", "3.3.8", "Multiple values in single-value required fields", MULTI01, _R,
       {400}, "400 Bad Request", "400 more than one Call-ID"),
    _c("mcl01", "3.3.9", "Multiple Content-Length values", MCL01, _R, {400},
       "400 Bad Request", "400 more than one Content-Length"),
    _c("bcast", "3.3.10", "200 OK response with broadcast Via sent-by", BCAST, _D, set(),
       "a UA discards it (no transaction); never sent to the broadcast address",
       "no transaction matches: discarded"),
    _c("zeromf", "3.3.11", "Max-Forwards of zero", ZEROMF, _A, {200},
       "an endpoint processes it as usual", "200 OK"),
    _c("cparam01", "3.3.12", "REGISTER with a contact header parameter", CPARAM01, _A, {401},
       "valid: process normally", "401 (registrar challenge)"),
    _c("cparam02", "3.3.13", "REGISTER with a URL parameter", CPARAM02, _A, {401},
       "valid: process normally", "401 (registrar challenge)"),
    _c("regescrt", "3.3.14", "REGISTER with a URL escaped header", REGESCRT, _A, {401},
       "valid: process normally", "401 (registrar challenge)"),
    _c("sdp01", "3.3.15", "Unacceptable Accept offering", SDP01, _R, {406},
       "406 Not Acceptable (or 400)", "406 with Accept: application/sdp"),
    _c("inv2543", "3.4.1", "INVITE with RFC 2543 syntax", INV2543, _A, {200},
       "valid: process normally (no branch, no tags, no Max-Forwards)",
       "200, audio answered"),
)
