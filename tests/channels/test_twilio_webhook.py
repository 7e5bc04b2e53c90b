"""The parts of the Twilio channel that need no server: the signature check (with Twilio's
published test vector), form decoding, field validation, keywords and SMS segments."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from multidict import MultiDict

from channels.base import BadInbound, Forged
from channels.sms_segments import count_segments
from channels.twilio_config import TwilioConfigError, parse_twilio
from channels.twilio_webhook import (
    TwilioVerifier,
    decode_form,
    keyword_of,
    parse_inbound,
    parse_status,
)

ACCOUNT = "AC" + "0" * 32
SID = "SM" + "a" * 32

# Twilio's published example (docs "Webhooks security", and twilio-python's own
# test_request_validator.py). The signature RSOYD... is over Caller/From +14158675309, the
# docs' number: with +12349013030 (as issue 10 quotes it) HMAC-SHA1 gives 0/KCTR6DL...,
# checked by hand below, so the copy of the parameters is the one that is off.
VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                 "From": "+14158675309", "To": "+18005551212"}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_published_test_vector_passes_our_verifier_setup() -> None:
    # Our setup: the configured public URL, then the path and query Twilio requested.
    verifier = TwilioVerifier(VECTOR_TOKEN, "https://mycompany.com")
    form = MultiDict(VECTOR_PARAMS)
    verifier.verify("/myapp.php?foo=1&bar=2", form, VECTOR_SIGNATURE)
    assert verifier.url_for("/myapp.php?foo=1&bar=2") == VECTOR_URL
    # The form as it comes off the wire decodes to the same parameters.
    raw = b"&".join(f"{k}={v}".replace("+", "%2B").encode() for k, v in VECTOR_PARAMS.items())
    verifier.verify("/myapp.php?foo=1&bar=2", decode_form(raw), VECTOR_SIGNATURE)



def test_the_vector_by_hand() -> None:
    """The algorithm itself (HMAC-SHA1 of URL + sorted name/value pairs), without the SDK."""
    def signature(number: str) -> str:
        params = {**VECTOR_PARAMS, "Caller": number, "From": number}
        text = VECTOR_URL + "".join(k + v for k, v in sorted(params.items()))
        mac = hmac.new(VECTOR_TOKEN.encode(), text.encode(), hashlib.sha1).digest()
        return base64.b64encode(mac).decode()

    assert signature("+14158675309") == VECTOR_SIGNATURE
    assert signature("+12349013030") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize("change", ["token", "url", "param", "missing"])
def test_anything_else_than_the_vector_is_forged(change: str) -> None:
    token, base, path, params = VECTOR_TOKEN, "https://mycompany.com", "/myapp.php?foo=1&bar=2", \
        dict(VECTOR_PARAMS)
    signature: str | None = VECTOR_SIGNATURE
    if change == "token":
        token = "12346"
    elif change == "url":
        base = "https://mycompany.com.evil"
    elif change == "param":
        params["Digits"] = "1235"
    else:
        signature = None
    with pytest.raises(Forged):
        TwilioVerifier(token, base).verify(path, MultiDict(params), signature)


def test_decode_form_names_the_field_with_invalid_utf8() -> None:
    assert decode_form(b"Body=caf%C3%A9+ok&To=%2B1") == MultiDict([("Body", "café ok"),
                                                                  ("To", "+1")])
    with pytest.raises(BadInbound) as caught:
        decode_form(b"From=%2B34612345678&Body=%FF%FEbad")
    assert caught.value.where == "Body"
    assert "UTF-8" in caught.value.what


def _inbound(**fields: str) -> MultiDict[str]:
    base = {"MessageSid": SID, "AccountSid": ACCOUNT, "From": "+34612345678",
            "To": "+34910000000", "Body": "hola", "NumMedia": "0"}
    base.update(fields)
    return MultiDict({k: v for k, v in base.items() if v != "<absent>"})


def test_parse_inbound_sms_and_whatsapp() -> None:
    sms = parse_inbound(_inbound(), ACCOUNT)
    assert (sms.channel, sms.sender, sms.body, sms.media) == ("sms", "+34612345678", "hola", ())
    wa = parse_inbound(_inbound(From="whatsapp:+34612345678", To="whatsapp:+14155238886"),
                       ACCOUNT)
    assert wa.channel == "whatsapp"
    media = parse_inbound(_inbound(NumMedia="1", MediaUrl0="https://api.twilio.com/m/1",
                                   MediaContentType0="image/jpeg", Body=""), ACCOUNT)
    assert media.media[0].content_type == "image/jpeg"


@pytest.mark.parametrize(("fields", "where"), [
    ({"From": "<absent>"}, "From"),
    ({"To": "<absent>"}, "To"),
    ({"Body": "<absent>"}, "Body"),
    ({"MessageSid": "<absent>"}, "MessageSid"),
    ({"MessageSid": "SM123"}, "MessageSid"),
    ({"From": "not a number"}, "From"),
    ({"To": "whatsapp:+14155238886"}, "To"),
    ({"Body": "x" * 4097}, "Body"),
    ({"NumMedia": "11"}, "NumMedia"),
    ({"NumMedia": "1"}, "MediaUrl0"),
    ({"NumMedia": "1", "MediaUrl0": "ftp://x/y", "MediaContentType0": "image/png"}, "MediaUrl0"),
    ({"NumMedia": "1", "MediaUrl0": "https://x/y", "MediaContentType0": "png"},
     "MediaContentType0"),
    ({"AccountSid": "AC" + "1" * 32}, "AccountSid"),
])
def test_parse_inbound_names_the_bad_field(fields: dict[str, str], where: str) -> None:
    with pytest.raises(BadInbound) as caught:
        parse_inbound(_inbound(**fields), ACCOUNT)
    assert caught.value.where == where


def test_parse_status() -> None:
    form = MultiDict({"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003",
                      "To": "+34612345678"})
    report = parse_status(form, ACCOUNT)
    assert (report.status, report.error_code, report.channel) == ("undelivered", "30003", "sms")
    with pytest.raises(BadInbound) as caught:
        parse_status(MultiDict({"MessageSid": SID, "MessageStatus": "exploded"}), ACCOUNT)
    assert caught.value.where == "MessageStatus"


@pytest.mark.parametrize(("body", "expected"), [
    ("STOP", ("stop", "STOP")), (" stopall ", ("stop", "STOPALL")),
    ("Unsubscribe", ("stop", "UNSUBSCRIBE")), ("cancel", ("stop", "CANCEL")),
    ("END", ("stop", "END")), ("quit", ("stop", "QUIT")),
    ("start", ("start", "START")), ("YES", ("start", "YES")), ("unstop", ("start", "UNSTOP")),
    ("help", ("help", "HELP")), ("INFO", ("help", "INFO")),
    ("please stop", None), ("STOP!", None), ("", None),
])
def test_opt_out_keywords(body: str, expected: tuple[str, str] | None) -> None:
    assert keyword_of(body) == expected


@pytest.mark.parametrize(("text", "encoding", "count"), [
    ("", "GSM-7", 1),
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("€" * 80, "GSM-7", 1),          # extension characters cost two septets
    ("€" * 81, "GSM-7", 2),
    ("a" * 152 + "€", "GSM-7", 1),   # 154 septets fit one part
    ("a" * 159 + "€", "GSM-7", 2),   # 161 septets: 153 + the pair not split
    ("ñ" * 160, "GSM-7", 1),         # ñ is in the GSM alphabet
    ("á" * 70, "UCS-2", 1),          # á is not
    ("á" * 71, "UCS-2", 2),
    ("a" * 134, "GSM-7", 1),
    ("a" * 133 + "😀", "UCS-2", 3),  # 135 code units: 67 + 67 + 1
    ("😀" * 35, "UCS-2", 1),         # 70 code units
    ("a" * 66 + "😀" * 3, "UCS-2", 2),  # the pair is not split across parts
])
def test_segments(text: str, encoding: str, count: int) -> None:
    segments = count_segments(text)
    assert (segments.encoding, segments.count) == (encoding, count)


def test_config_errors_name_the_key(tmp_path: object) -> None:
    good = {"account_sid": ACCOUNT, "auth_token": "secret-token", "public_url": "https://x.test"}
    assert parse_twilio(good).public_url == "https://x.test"
    assert "secret-token" not in repr(parse_twilio(good))
    for bad, key in [({**good, "account_sid": "AC1"}, "account_sid"),
                     ({k: v for k, v in good.items() if k != "public_url"}, "public_url"),
                     ({**good, "public_url": "ftp://x"}, "public_url"),
                     ({**good, "sms_number": "612"}, "sms_number"),
                     ({**good, "auth_token_file": "/x"}, "auth_token"),
                     ({**good, "colour": 1}, "colour")]:
        with pytest.raises(TwilioConfigError, match=key):
            parse_twilio(bad)
