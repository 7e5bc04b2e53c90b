"""Writing RFC 4475's messages as wire bytes: header text to CRLF lines, the usual SDP body."""

from __future__ import annotations


def m(head: str, body: bytes = b"") -> bytes:
    """Header text written with LF line ends → CRLF wire bytes, then the blank line and body."""
    lines = head.strip("\n").split("\n")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def sdp(ip: str, *, video: bool = True, t: str = "0 0") -> bytes:
    """The RFC's usual body: audio PCMU/QCELP plus (mostly) a video line `a=rtpmap:31 LPC`."""
    lines = ["v=0", f"o=mhandley 29739 7272939 IN IP4 {ip}", "s=-", f"c=IN IP4 {ip}", f"t={t}",
             "m=audio 49217 RTP/AVP 0 12" if video else "m=audio 49217 RTP/AVP 0"]
    if video:
        lines += ["m=video 3227 RTP/AVP 31", "a=rtpmap:31 LPC"]
    return ("\r\n".join(lines) + "\r\n").encode()
