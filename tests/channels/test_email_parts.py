"""The email channel's pieces on their own: reply tokens, quoted-history stripping, the HTML
sanitiser, MIME parsing errors (what and where), the outbound headers."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.base import BadInbound, OutboundText, Refused
from channels.email_config import EmailSettings
from channels.email_out import EmailSender
from channels.email_parse import TooLarge, parse_email
from channels.email_quotes import strip_quoted
from channels.email_token import KEY_FILE, ReplyTokens, load_secret
from channels.html_sanitize import html_to_text, sanitize_html

PUBLIC_ID = "Ab3_x-Yz09KLmnOP"


def tokens() -> ReplyTokens:
    return ReplyTokens(b"s" * 32, "reply.example.com")


def test_token_round_trip_survives_case_folding() -> None:
    t = tokens()
    address = t.reply_address(PUBLIC_ID)
    assert PUBLIC_ID not in address and address == address.lower()
    assert t.case_of_address(address) == PUBLIC_ID
    # Mail systems may fold the local part's case: the token still verifies.
    assert t.case_of_address(address.upper()) == PUBLIC_ID
    assert t.case_of_message_id(t.message_id(PUBLIC_ID)) == PUBLIC_ID
    assert len(address.split("@")[0]) <= 64  # RFC 5321 local part


@pytest.mark.parametrize("mangle", [
    lambda tok: tok[:-1] + ("a" if tok[-1] != "a" else "b"),   # MAC changed
    lambda tok: "a" + tok[1:],                                  # id changed
    lambda tok: tok.split(".")[0],                              # MAC removed
    lambda tok: tok + "aa",                                     # MAC lengthened
    lambda tok: "!!!." + tok.split(".")[1],                     # not base32
])
def test_tampered_tokens_are_refused(mangle: object) -> None:
    t = tokens()
    token = t.token(PUBLIC_ID)
    forged = mangle(token)  # type: ignore[operator]
    assert t.verify(forged) is None
    assert t.case_of_address(f"reply+{forged}@reply.example.com") is None
    # Another server's key signs nothing here.
    assert t.verify(ReplyTokens(b"o" * 32, "reply.example.com").token(PUBLIC_ID)) is None
    # Our token at another domain, or a foreign Message-ID, names no case.
    assert t.case_of_address(f"reply+{token}@evil.example") is None
    assert t.case_of_message_id("<abc@mail.example.net>") is None


def test_secret_is_made_once_and_private(tmp_path: Path) -> None:
    first = load_secret(tmp_path / "data")
    assert load_secret(tmp_path / "data") == first and len(first) == 32
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    assert load_secret(tmp_path / "data") == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_strip_quoted_keeps_what_was_written_this_time() -> None:
    text = ("Yes, Tuesday works.\n\nOn Mon, 3 Mar 2025 at 10:00, Support <s@x.com> wrote:\n"
            "> Would Tuesday work?\n> Thanks\n")
    assert strip_quoted(text) == ("Yes, Tuesday works.", True)
    spanish = "Vale.\n\nEl lun, 3 mar 2025, Soporte escribió:\n\n> ¿Le va bien?\n"
    assert strip_quoted(spanish) == ("Vale.", True)
    outlook = ("Done.\n\n________________________________\nFrom: Support\nSent: Monday\n"
               "Subject: x\n\nold text")
    assert strip_quoted(outlook) == ("Done.", True)
    wrapped = ("Sounds good.\n\nOn Mon, 3 Mar 2025 at 10:00, Customer Support Team <\n"
               "support@example.com> wrote:\n\n> Shall we call you?\n")
    assert strip_quoted(wrapped) == ("Sounds good.", True)
    own_words = "on second thought, Ana\nwrote: yes\n> old\n"
    assert strip_quoted(own_words) == ("on second thought, Ana\nwrote: yes", True)
    interleaved = "> question one\nanswer one\n> question two\nanswer two"
    assert strip_quoted(interleaved) == ("answer one\nanswer two", True)
    assert strip_quoted("> only a quote") == ("> only a quote", False)
    assert strip_quoted("no quotes here") == ("no quotes here", False)


def test_sanitiser_drops_active_content() -> None:
    hostile = ('<p onmouseover="x()">hi <a href="javascript:alert(1)">a</a>'
               '<a href="data:text/html,<script>alert(1)</script>">b</a>'
               '<img src=x onerror=alert(1)><svg onload=alert(1)></svg>'
               '<form action="https://evil.example"><input name=p></form>'
               '<script>alert(1)</script><style>*{}</style></p>')
    clean = sanitize_html(hostile).lower()
    for bad in ("javascript", "data:", "onerror", "onload", "onmouseover", "<script",
                "<style", "<img", "<svg", "<form", "<input", "alert"):
        assert bad not in clean, bad
    assert clean.startswith("<p>hi ")
    assert "<blockquote>" in sanitize_html("<blockquote>old</blockquote>new")
    assert sanitize_html("<blockquote>old</blockquote>new", strip_quotes=True) == "new"
    assert html_to_text("<p>a</p><script>x</script><blockquote>b</blockquote>") == "a\n\n> b"


def raw(body: bytes, ctype: bytes = b"text/plain; charset=utf-8", headers: bytes = b"") -> bytes:
    return (b"From: Ana <ana@example.net>\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: " + ctype + b"\r\n" + headers + b"\r\n" + body)


@pytest.mark.parametrize(("message", "what", "where"), [
    (b"", "empty message", "message"),
    (b"Subject: s\r\n\r\nhi", "a message needs a From address", "From"),
    (b"From: nobody\r\n\r\nhi", "not an email address", "From"),
    (raw(b"hi", b"multipart/mixed"), "malformed MIME", "message"),
    (raw(b"caf\xc3\x28", headers=b"Content-Transfer-Encoding: 8bit\r\n"),
     "not valid utf-8 (at byte 3)", "part 1"),
    (raw(b"ol\xe9", b"text/plain", b"Content-Transfer-Encoding: 8bit\r\n"),
     "8-bit bytes without a declared charset", "part 1"),
    (raw(b"hi", b"text/plain; charset=klingon"), "unknown charset 'klingon'", "part 1"),
    (raw(b"a\x00b"), "contains a NUL character", "part 1"),
])
def test_parse_errors_say_what_and_where(message: bytes, what: str, where: str) -> None:
    with pytest.raises(BadInbound) as exc:
        parse_email(message, max_attachment_bytes=1024)
    assert what in exc.value.what.lower() or what in exc.value.what
    assert exc.value.where == where


def test_attachment_cap_and_nesting() -> None:
    msg = EmailMessage()
    msg["From"] = "ana@example.net"
    msg.set_content("see attached")
    msg.add_attachment(b"x" * 2048, maintype="application", subtype="octet-stream",
                       filename="../../etc/passwd")
    with pytest.raises(TooLarge) as exc:
        parse_email(msg.as_bytes(), max_attachment_bytes=1024)
    assert exc.value.where == "part 1.2"
    parsed = parse_email(msg.as_bytes(), max_attachment_bytes=4096)
    assert parsed.attachments[0].data == b"x" * 2048
    assert parsed.message_id.endswith("@no-message-id.invalid>")  # none given: from content
    bomb = b"From: a@example.net\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for depth in range(1, 15):
        bomb += (f"--b{depth - 1}\r\nContent-Type: multipart/mixed; boundary=b{depth}"
                 f"\r\n\r\n").encode()
    with pytest.raises(BadInbound) as exc2:
        parse_email(bomb, max_attachment_bytes=1024)
    assert "nested deeper" in exc2.value.what or "malformed MIME" in exc2.value.what


def test_outbound_headers() -> None:
    settings = EmailSettings(smtp_host="127.0.0.1", from_address="support@example.com",
                             reply_domain="reply.example.com", starttls=False)
    sender = EmailSender(settings, tokens(),
                         now=lambda: datetime(2025, 3, 3, 10, 0, tzinfo=UTC))
    msg = sender.build(OutboundText(channel="email", to="ana@example.net", body="hello",
                                    subject="Order", in_reply_to="<c1@mail.example.net>",
                                    references=("<a1@reply.example.com>",)), PUBLIC_ID)
    assert tokens().case_of_address(str(msg["Reply-To"])) == PUBLIC_ID
    assert tokens().case_of_message_id(str(msg["Message-ID"])) == PUBLIC_ID
    assert msg["In-Reply-To"] == "<c1@mail.example.net>"
    assert str(msg["References"]).split() == ["<a1@reply.example.com>",
                                              "<c1@mail.example.net>"]
    assert msg["Date"] == "Mon, 03 Mar 2025 10:00:00 +0000"
    with pytest.raises(Refused):
        sender.build(OutboundText(channel="email", to="ana@example.net", body="x",
                                  subject="a\r\nBcc: everyone@example.com"), PUBLIC_ID)


def test_the_subject_is_parsed_as_one_line() -> None:
    # An encoded word may decode to line breaks and controls: each run becomes one space
    # (the case stores one line), and the words around them are kept.
    folded = parse_email(
        b"From: ana@example.net\r\nSubject: =?utf-8?q?Pedido=0D=0A4411=1B=E2=80=94?=\r\n"
        b"  =?utf-8?q?_reembolso=E2=80=A8ya?=\r\n\r\nhi", max_attachment_bytes=10)
    assert folded.subject == "Pedido 4411 — reembolso ya"
    longest = parse_email(b"From: ana@example.net\r\nSubject: " + b"s" * 1200 + b"\r\n\r\nhi",
                          max_attachment_bytes=10)
    assert longest.subject == "s" * 998
    assert parse_email(b"From: ana@example.net\r\n\r\nhi", max_attachment_bytes=10).subject == ""
