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


def _m(head: str, body: bytes = b"") -> bytes:
    """Header text written with LF line ends → CRLF wire bytes, then the blank line and body."""
    lines = head.strip("\n").split("\n")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def _sdp(ip: str, *, video: bool = True, t: str = "0 0") -> bytes:
    """The RFC's usual body: audio PCMU/QCELP plus (mostly) a video line `a=rtpmap:31 LPC`."""
    lines = ["v=0", f"o=mhandley 29739 7272939 IN IP4 {ip}", "s=-", f"c=IN IP4 {ip}", f"t={t}",
             "m=audio 49217 RTP/AVP 0 12" if video else "m=audio 49217 RTP/AVP 0"]
    if video:
        lines += ["m=video 3227 RTP/AVP 31", "a=rtpmap:31 LPC"]
    return ("\r\n".join(lines) + "\r\n").encode()


# --- 3.1.1 valid messages ---------------------------------------------------------------------

WSINV = _m("""
INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33
""", b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\n"
     b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n")

INTMETH = (
    b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/"
    b"crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
    b"To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/"
    b"crazy?,/;;*@example.com>\r\n"
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    b"\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9\""
    b";tag=_token~1'+`*%!-.\r\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
    b"Max-Forwards: 255\r\n"
    b"extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\r\n"
    b"Content-Length: 0\r\n\r\n"
)

ESC01 = _m("""
INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 150
""", _sdp("192.0.2.1"))

ESCNULL = _m("""
REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0
""")

ESC02 = _m("""
RE%47IST%45R sip:registrar.example.com SIP/2.0
To: "%Z%45" <sip:resource@example.com>
From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0
""")

LWSDISP = _m("""
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0
""")

_LONG = "long" * 20
LONGREQ = _m(
    "INVITE sip:user@example.com SIP/2.0\n"
    '"To: "I have a user name of ' + "extreme " * 10 + 'proportion" '
    "<sip:user@example.com:6000;unknownparam1=very" + _LONG + "value;"
    "longparam" + "name" * 25 + "=shortvalue;very" + "long" * 24
    + "ParameterNameWithNoValue>\n"
    "F: sip:" + "amazinglylongcallername" * 5 + "@example.net;tag=1" + "29" * 78 + "824;"
    "unknownheaderparam" + "name" * 20 + "=unknowheaderparam" + "value" * 15 + ";"
    "unknownValueless" + "paramname" * 10 + "\n"
    "Call-ID: longreq.one" + "really" * 20 + "longcallid\n"
    "CSeq: 3882340 INVITE\n"
    "Unknown-" + "LongLong" * 10 + "-Name:unknown-" + _LONG + "-value;unknown-" + _LONG
    + "-parameter-name =unknown-" + _LONG + "-parameter-value\n"
    + "".join(f"{v}: SIP/2.0/TCP sip{n}.example.com\n" for n, v in zip(
        range(33, 16, -1),
        ["Via", "v", "V", "Via", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA", "V ",
         "v ", "V  ", "v  ", "Via ", "Via  "], strict=True))
    + "".join(f"Via: SIP/2.0/TCP sip{n}.example.com\n" for n in range(16, 0, -1))
    + "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very" + "long" * 60
    + "branchvalue\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:" + "amazinglylongcallername" * 5 + "@host5.example.net>\n"
    "Content-Type: application/sdp\n"
    "l: 150",
    _sdp("192.0.2.1"),
).replace(b'"To: ', b"To: ", 1)

DBLREQ = _m("""
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0
""") + _m("""
INVITE sip:joe@example.com SIP/2.0
t: sip:joe@example.com
From: sip:caller@example.net;tag=141334
Max-Forwards: 8
Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
Content-Type: application/sdp
Content-Length: 150
""", _sdp("192.0.2.15").replace(b"m=video", b"m =video"))

SEMIURI = _m("""
OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
  multipart/mixed, multipart/signed,
  message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0
""")

TRANSPORTS = _m("""
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: <sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID:  transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0
""")

_SIGNATURE = (
    b"\x30\x82\x01\x52\x06\x09\x2a\x86\r\n"
    b"\x48\x86\xf7\x0d\x01\x07\x02\xa0\x82\x01\x43\x30\x82\x01\x3f\x02"
    b"\x01\x01\x31\x09\x30\x07\x06\x05\x2b\x0e\x03\x02\x1a\x30\x0b\x06"
    b"\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01\x31\x82\x01\x20\x30\x82"
    b"\x01\x1c\x02\x01\x01\x30\x7c\x30\x70\x31\x0b\x30\x09\x06\x03\x55"
    b"\x04\x06\x13\x02\x55\x53\x31\x13\x30\x11\x06\x03\x55\x04\x08\x13"
    b"\x0a\x43\x61\x6c\x69\x66\x6f\x72\x6e\x69\x61\x31\x11\x30\x0f\x06"
    b"\x03\x55\x04\x07\x13\x08\x53\x61\x6e\x20\x4a\x6f\x73\x65\x31\x0e"
    b"\x30\x0c\x06\x03\x55\x04\x0a\x13\x05\x73\x69\x70\x69\x74\x31\x29"
    b"\x30\x27\x06\x03\x55\x04\x0b\x13\x20\x53\x69\x70\x69\x74\x20\x54"
    b"\x65\x73\x74\x20\x43\x65\x72\x74\x69\x66\x69\x63\x61\x74\x65\x20"
    b"\x41\x75\x74\x68\x6f\x72\x69\x74\x79\x02\x08\x01\x95\x00\x71\x02"
    b"\x33\x01\x13\x30\x07\x06\x05\x2b\x0e\x03\x02\x1a\x30\x0d\x06\x09"
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00\x04\x81\x80\x8e\xf4"
    b"\x66\xf9\x48\xf0\x52\x2d\xd2\xe5\x97\x8e\x9d\x95\xaa\xe9\xf2\xfe"
    b"\x15\xa0\x66\x59\x71\x62\x92\xe8\xda\x2a\xa8\xd8\x35\x0a\x68\xce"
    b"\xff\xae\x3c\xbd\x2b\xff\x16\x75\xdd\xd5\x64\x8e\x59\x3d\xd6\x47"
    b"\x28\xf2\x62\x20\xf7\xe9\x41\x74\x9e\x33\x0d\x9a\x15\xed\xab\xdb"
    b"\x93\xd1\x0c\x42\x10\x2e\x7b\x72\x89\xd2\x9c\xc0\xc9\xae\x2e\xfb"
    b"\xc7\xc0\xcf\xf9\x17\x2f\x3b\x02\x7e\x4f\xc0\x27\xe1\x54\x6d\xe4"
    b"\xb6\xaa\x3a\xbb\x3e\x66\xcc\xcb\x5d\xd6\xc6\x4b\x83\x83\x14\x9c"
    b"\xb8\xe6\xff\x18\x2d\x94\x4f\xe5\x7b\x65\xbc\x99\xd0\x05"
)
_MPART_BODY = (
    b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
    b"\r\nHello\r\n--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n" + _SIGNATURE + b"\r\n--7a9cbec02ceef655--\r\n"
)
MPART01 = _m("""
MESSAGE sip:kumiko@example.org SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport
Max-Forwards: 70
Route: <sip:127.0.0.1:5080>
Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=
Contact: <sip:fluffy@127.0.0.1:5070>
To: <sip:kumiko@example.org>
From: <sip:fluffy@example.com>;tag=2fb0dcc9
Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..
CSeq: 1 MESSAGE
Content-Transfer-Encoding: binary
Content-Type: multipart/mixed;boundary=7a9cbec02ceef655
Date: Sat, 15 Oct 2005 04:44:56 GMT
User-Agent: SIPimp.org/0.2.5 (curses)
Content-Length: {CL}
""".replace("{CL}", str(len(_MPART_BODY))), _MPART_BODY)

UNREASON = _m("""
SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host198.example.com>
""", _sdp("192.0.2.198"))

NOREASON = _m("""
SIP/2.0 100 \n\
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>
""")

# --- 3.1.2 invalid messages -------------------------------------------------------------------

BADINV01 = _m("""
INVITE sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=134161461246
Max-Forwards: 7
Call-ID: badinv01.0ha0isndaksdjasdf3234nas
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;;,;,,
Contact: "Joe" <sip:joe@example.org>;;;;
Content-Length: 152
Content-Type: application/sdp
""", _sdp("192.0.2.15"))

CLERR = _m("""
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942939o2
Contact: <sip:caller@hungry.example.net>
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
Content-Length: 9999
""", _sdp("192.0.2.155"))

NCL = _m("""
INVITE sip:user@example.com SIP/2.0
Max-Forwards: 254
To: sip:j.user@example.com
From: sip:caller@example.net;tag=32394234
Call-ID: ncl.0ha0isndaksdj2193423r542w35
CSeq: 0 INVITE
Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw
Contact: <sip:caller@example53.example.net>
Content-Type: application/sdp
Content-Length: -999
""", _sdp("192.0.2.53"))

SCALAR02 = _m("""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
Max-Forwards: 300
Expires: 1""" + "0" * 110 + """
Contact: <sip:user@host129.example.com>;expires=280297596632815
Content-Length: 0
""")

SCALARLG = _m("""
SIP/2.0 503 Service Unavailable
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129
To: <sip:user@example.com>
From: <sip:other@example.net>;tag=2easdjfejw
CSeq: 9292394834772304023312 OPTIONS
Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r
Retry-After: 949302838503028349304023988
Warning: 1812 overture "In Progress"
Content-Length: 0
""")

QUOTBAL = _m("""
INVITE sip:user@example.com SIP/2.0
To: "Mr. J. User <sip:j.user@example.com>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
Contact: <sip:caller@host59.example.net>
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
Content-Type: application/sdp
Content-Length: 152
""", _sdp("192.0.2.15"))

LTGTRURI = _m("""
INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 159
""", _sdp("192.0.2.5", t="3149328700 0"))

LWSRURI = _m("""
INVITE sip:user@example.com; lr SIP/2.0
To: sip:user@example.com;tag=3xfe-9921883-z9f
From: sip:caller@example.net;tag=231413434
Max-Forwards: 5
Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423
CSeq: 2130706432 INVITE
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 159
""", _sdp("192.0.2.1", t="3149328700 0"))

LWSSTART = _m("""
INVITE  sip:user@example.com  SIP/2.0
Max-Forwards: 8
To: sip:user@example.com
From: sip:caller@example.net;tag=8814
Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com
CSeq: 1893884 INVITE
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 150
""", _sdp("192.0.2.1"))

TRWS = _m("""
OPTIONS sip:remote-target@example.com SIP/2.0  \n\
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093
To: <sip:remote-target@example.com>
From: <sip:local-resource@example.com>;tag=329429089
Call-ID: trws.oicu34958239neffasdhr2345r
Accept: application/sdp
CSeq: 238923 OPTIONS
Max-Forwards: 70
Content-Length: 0
""")

ESCRURI = _m("""
INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=341518
Max-Forwards: 7
Contact: <sip:caller@host39923.example.net>
Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5
CSeq: 149209342 INVITE
Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw
Content-Type: application/sdp
Content-Length: 150
""", _sdp("192.0.2.1"))

BADDATE = _m("""
INVITE sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=2234923
Max-Forwards: 70
Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234
CSeq: 1392934 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
Date: Fri, 01 Jan 2010 16:00:00 EST
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 150
""", _sdp("192.0.2.5"))

REGBADCT = _m("""
REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=998332
Max-Forwards: 70
Call-ID: regbadct.k345asrl3fdbv@10.0.0.1
CSeq: 1 REGISTER
Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw
Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E
l: 0
""")

BADASPEC = _m("""
OPTIONS sip:user@example.org SIP/2.0
Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234
Max-Forwards: 70
From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423
To: "Watson, Thomas" < sip:t.watson@example.org >
Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3
Accept: application/sdp
CSeq: 3923239 OPTIONS
l: 0
""")

BADDN = _m("""
OPTIONS sip:t.watson@example.org SIP/2.0
Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards:      70
From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43
To:      Watson, Thomas <sip:t.watson@example.org>
Call-ID: baddn.31415@c.example.com
Accept: application/sdp
CSeq:    3923239 OPTIONS
l: 0
""")

BADVERS = _m("""
OPTIONS sip:t.watson@example.org SIP/7.0
Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
Max-Forwards:     70
From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
To:      T. Watson <sip:t.watson@example.org>
Call-ID: badvers.31417@c.example.com
CSeq:    1 OPTIONS
l: 0
""")

MISMATCH01 = _m("""
OPTIONS sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
l: 0
""")

MISMATCH02 = _m("""
NEWMETHOD sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch02.dj0234sxdfl3
CSeq: 8 INVITE
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
l: 138
""", b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\n"
     b"m=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n")

BIGCODE = _m("""
SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>
""")

# --- 3.2 transaction layer --------------------------------------------------------------------

BADBRANCH = _m("""
OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
CSeq: 8 OPTIONS
l: 0
""")

# --- 3.3 application layer --------------------------------------------------------------------

INSUF = _m("""
INVITE sip:user@example.com SIP/2.0
CSeq: 193942 INVITE
Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
Content-Type: application/sdp
l: 152
""", _sdp("192.0.2.95"))

UNKSCM = _m("""
OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
Content-Length: 0
""")

NOVELSC = _m("""
OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=384
Max-Forwards: 3
Call-ID: novelsc.asdfasser0q239nwsdfasdkl34
CSeq: 3923423 OPTIONS
Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
Content-Length: 0
""")

UNKSM2 = _m("""
REGISTER sip:example.com SIP/2.0
To: isbn:2983792873
From: <http://www.example.com>;tag=3234233
Call-ID: unksm2.daksdj@hyphenated-host.example.com
CSeq: 234902 REGISTER
Max-Forwards: 70
Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw
Contact: <name:John_Smith>
l: 0
""")

BEXT01 = _m("""
OPTIONS sip:user@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.net;tag=242etr
Max-Forwards: 6
Call-ID: bext01.0ha0isndaksdj
Require: nothingSupportsThis, nothingSupportsThisEither
Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis
CSeq: 8 OPTIONS
Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw
Content-Length: 0
""")

INVUT = _m("""
INVITE sip:user@example.com SIP/2.0
Contact: <sip:caller@host5.example.net>
To: sip:j.user@example.com
From: sip:caller@example.net;tag=8392034
Max-Forwards: 70
Call-ID: invut.0ha0isndaksdjadsfij34n23d
CSeq: 235448 INVITE
Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw
Content-Type: application/unknownformat
Content-Length: 40
""", b'<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n')

REGAUT01 = _m("""
REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=87321hj23128
Max-Forwards: 8
Call-ID: regaut01.0ha0isndaksdj
CSeq: 9338 REGISTER
Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw
Authorization: NoOneKnowsThisScheme opaque-data=here
Content-Length:0
""")

MULTI01 = _m("""
INVITE sip:user@company.com SIP/2.0
Contact: <sip:caller@host25.example.net>
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw
Max-Forwards: 70
CSeq: 5 INVITE
Call-ID: multi01.98asdh@192.0.2.1
CSeq: 59 INVITE
Call-ID: multi01.98asdh@192.0.2.2
From: sip:caller@example.com;tag=3413415
To: sip:user@example.com
To: sip:other@example.net
From: sip:caller@example.net;tag=2923420123
Content-Type: application/sdp
l: 154
""", _sdp("192.0.2.25"))

MCL01 = _m("""
OPTIONS sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423
To: sip:user@example.com
From: sip:other@example.net;tag=3923942
Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
CSeq: 15932 OPTIONS
Content-Length: 13
Max-Forwards: 60
Content-Length: 5
Content-Type: text/plain
""", b"There's no way to know how many octets are supposed to be here.\r\n")

BCAST = _m("""
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23
Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host28.example.com>
""", _sdp("192.0.2.198"))

ZEROMF = _m("""
OPTIONS sip:user@example.com SIP/2.0
Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas
CSeq: 39234321 OPTIONS
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i
Max-Forwards: 0
To: sip:user@example.com
From: sip:caller@example.net;tag=3ghsd41
Content-Length: 0
""")

CPARAM01 = _m("""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe
To: sip:watson@example.com
Call-ID: cparam01.70710@saturn.example.com
CSeq: 2 REGISTER
Contact: sip:+19725552222@gw1.example.net;unknownparam
l: 0
""")

CPARAM02 = _m("""
REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards: 70
From: sip:watson@example.com;tag=838293
To: sip:watson@example.com
Call-ID: cparam02.70710@saturn.example.com
CSeq: 3 REGISTER
Contact: <sip:+19725552222@gw1.example.net;unknownparam>
l: 0
""")

REGESCRT = _m("""
REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=8
Max-Forwards: 70
Call-ID: regescrt.k345asrl3fdbv@192.0.2.1
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>
L:0
""")

SDP01 = _m("""
INVITE sip:user@example.com SIP/2.0
To: sip:j_user@example.com
Contact: <sip:caller@host15.example.net>
From: sip:caller@example.net;tag=234
Max-Forwards: 5
Call-ID: sdp01.ndaksdj9342dasdd
Accept: text/nobodyKnowsThis
CSeq: 8 INVITE
Via: SIP/2.0/UDP 60.200.0.1;branch=z9hG4bKkdjuw
Content-Length: 150
Content-Type: application/sdp
""", _sdp("192.0.2.5"))

# --- 3.4 backward compatibility ---------------------------------------------------------------

INV2543 = (
    b"INVITE sip:UserB@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP iftgw.example.com\r\n"
    b"From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n"
    b"Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\n"
    b"To: sip:+16505552222@ss1.example.net;user=phone\r\n"
    b"Call-ID: inv2543.1717@ift.client.example.com\r\n"
    b"CSeq: 56 INVITE\r\n"
    b"Content-Type: application/sdp\r\n\r\n" + _sdp("192.0.2.5", video=False)
)

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
